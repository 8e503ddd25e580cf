// The bad-client battery: malformed and hostile SMTP and IMAP input, as data.
// Each case says what it sends and which answers are acceptable; a seeded
// generator adds fuzzed command lines, so the battery is the same every run.

/** A deterministic pseudo-random generator (mulberry32), so the fuzz cases never change between runs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` command lines of random bytes (never CR or LF, which would split them), 1 to 600 long. */
export function fuzzLines(seed: number, count: number): string[] {
  const rnd = prng(seed);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = 1 + Math.floor(rnd() ** 3 * 600);
    let s = "";
    for (let j = 0; j < length; j++) {
      let c = Math.floor(rnd() * 256);
      if (c === 10 || c === 13) c = 0x7e;
      s += String.fromCharCode(c);
    }
    // A line that happens to start with a real verb would be a real command: keep the fuzz meaningless.
    lines.push(/^[A-Za-z]{4}/.test(s) ? `#${s}` : s);
  }
  return lines;
}

/** Malformed or out-of-order SMTP commands on port 25, after a valid EHLO: all must be refused (4xx/5xx). */
export const MALFORMED_SMTP: string[] = [
  "FOO", "HELO", "EHLO", "MAIL", "MAIL FROM:", "MAIL FROM:<", "MAIL FROM:<a@b", "MAIL FROM:a@b>", "MAIL TO:<a@b.test>",
  "RCPT TO:<frank@bad.test>", "DATA", "BDAT 10 LAST", "AUTH PLAIN", "AUTH LOGIN", "AUTH CRAM-MD5",
  "VRFY frank@bad.test", "EXPN all@bad.test", "ETRN bad.test", "TURN", "ATRN", "XCLIENT ADDR=1.2.3.4", "XFORWARD ADDR=1.2.3.4",
  "STARTTLS now", "MAIL FROM:<a@b.test> SIZE=99999999999", "MAIL FROM:<a@b.test> BODY=9BIT", "MAIL FROM:<a@b.test> FOO=BAR",
  "MAIL FROM:<\u0000@b.test>", "\u0000\u0001\u0002", "\u00ff\u00fe\u00fd", "GET / HTTP/1.1", "POST /cgi-bin/x HTTP/1.0",
  "USER root", "PASS root", "a1 LOGIN root root", "\u001b[2J", "%s%s%s%n", "../../../../etc/passwd", "' OR 1=1 --",
  "MAIL FROM:<' OR 1=1 --@bad.test>",
];

/**
 * Recipients an outsider must not relay to through port 25, or reach with
 * source routes and address tricks. (postmaster@ and MAILER-DAEMON@[this
 * server's address] are not among them: RFC 5321 4.5.1 requires postmaster,
 * and Postfix accepts both for its own address; neither is relayed.)
 */
export function relayTargets(mailDomain: string, serverAddress: string): string[] {
  return [
    "victim@example.com", "victim@EXAMPLE.COM", "victim@example.com.", `victim%example.com@${mailDomain}`,
    `example.com!victim@${mailDomain}`, `@${mailDomain}:victim@example.com`, `"victim@example.com"@${mailDomain}`,
    `victim@example.com@${mailDomain}`, "victim@[1.2.3.4]", "victim@[127.0.0.1]", `victim@[${serverAddress}]`,
    `root@[${serverAddress}]`, "victim@localhost", "root@localhost", "victim",
    `victim@${mailDomain}.example.com`, `victim@example.com.${mailDomain}.invalid`, `victim@sub.${mailDomain}`,
    "victim@example.com%localhost", "<victim@example.com>", "victim@[IPv6:::1]", `victim@${mailDomain}@example.com`,
    "victim@.example.com", "victim@example..com", `"victim%example.com"@${mailDomain}`, `victim@[${serverAddress}].example.com`,
  ];
}

/** User names with SQL metacharacters (and other tricks), tried with the real password of a real user. */
export function hostileUserNames(realUser: string): string[] {
  return [
    "' OR 1=1 --", "' OR '1'='1", `${realUser}' --`, `${realUser}' OR '1'='1`, `' UNION SELECT password FROM virtual_users --`,
    `${realUser}'; DROP TABLE virtual_users; --`, '" OR ""="', `${realUser}"`, "%", "_", "*", `${realUser.replace(/^./, "_")}`,
    `${realUser.replace(/@.*/, "")}%`, "\\", `${realUser}\\`, `${realUser} `, ` ${realUser}`, `${realUser}\u0000admin`,
    "admin' #", `${realUser}/*`, "' OR email LIKE '%", `${realUser}\u00a0`,
  ];
}
