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

/**
 * SMTP smuggling (CVE-2023-51764) as an unauthenticated client sends it on
 * port 25, after DATA: a first message whose data ends with a bare-LF
 * "<LF>.<CR><LF>", then a whole second transaction (MAIL FROM `forged`,
 * RCPT TO `victim`, DATA, a message, <CR><LF>.<CR><LF>) in the same data. A
 * server that takes the bare-LF end for the end of the data delivers the
 * second message to `victim` as from `forged`. `body` is what Postfix with
 * smtpd_forbid_bare_newline = normalize delivers instead, as the first
 * message's body, line by line: the bare LFs as line ends, the lone "."
 * after one dropped (neither the end of the data nor content), the
 * smuggled transaction as text.
 */
export function smuggling(o: { sender: string; recipient: string; forged: string; victim: string; subject: string }): {
  data: string;
  body: string[];
} {
  const smuggled = [`MAIL FROM:<${o.forged}>`, `RCPT TO:<${o.victim}>`, "DATA", `From: <${o.forged}>`, `To: <${o.victim}>`,
    `Subject: ${o.subject} smuggled`, "", "smuggled body"];
  return {
    data:
      `From: <${o.sender}>\r\nTo: <${o.recipient}>\r\nSubject: ${o.subject}\r\n\r\n` +
      `line one\nline two\n.\r\n${smuggled.map((l) => `${l}\r\n`).join("")}.\r\n`,
    body: ["line one", "line two", ...smuggled],
  };
}

/** One TLS handshake by mailclient.py's `tls` action: the only protocol version it offers and, up to TLS 1.2, the only ciphers. */
export interface TlsProbe {
  name: string;
  version: "1.0" | "1.1" | "1.2" | "1.3";
  ciphers?: string;
  /** No certificate check (an anonymous cipher sends no certificate). */
  anonymous?: boolean;
}

const CBC = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384",
  "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA384"].join(":");

export const TLS_PROBES: TlsProbe[] = [
  { name: "TLS 1.0", version: "1.0" },
  { name: "TLS 1.1", version: "1.1" },
  { name: "anonymous ciphers only", version: "1.2", ciphers: "aNULL", anonymous: true },
  { name: "CBC ciphers only", version: "1.2", ciphers: CBC },
  { name: "CBC preferred", version: "1.2", ciphers: "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256" },
  { name: "anonymous preferred", version: "1.2", ciphers: "aNULL:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256", anonymous: true },
  { name: "TLS 1.2", version: "1.2" },
  { name: "TLS 1.3", version: "1.3" },
];

/** The ports where clients log in: TLS 1.2+ with ECDHE and AEAD only (Mozilla's "intermediate"). */
export const CLIENT_TLS_PORTS = [587, 465, 143, 993, 110, 995];

/**
 * What a port makes of each probe, with the stack's own (ECDSA) certificate:
 * "refused", or the version and cipher agreed on (TLS 1.3: the version; its
 * suites are all AEAD). The client ports refuse all but TLS 1.2+ with ECDHE
 * and AEAD and choose in their own order. Port 25 is opportunistic: it
 * takes every probe, strongest cipher first, an anonymous one only when the
 * client offers nothing else; which also shows that the client really
 * offers what the other ports refuse.
 */
export function expectedTls(port: number, probe: string): string {
  const aead = "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256";
  const client: Record<string, string> = {
    "TLS 1.0": "refused", "TLS 1.1": "refused", "anonymous ciphers only": "refused", "CBC ciphers only": "refused",
    "CBC preferred": aead, "anonymous preferred": aead, "TLS 1.2": aead, "TLS 1.3": "TLSv1.3",
  };
  const smtp: Record<string, string> = {
    "TLS 1.0": "TLSv1 ECDHE-ECDSA-AES256-SHA", "TLS 1.1": "TLSv1.1 ECDHE-ECDSA-AES256-SHA",
    "anonymous ciphers only": "TLSv1.2 ADH-AES256-GCM-SHA384", "CBC ciphers only": "TLSv1.2 ECDHE-ECDSA-AES256-SHA384",
    "CBC preferred": aead, "anonymous preferred": aead, "TLS 1.2": "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384", "TLS 1.3": "TLSv1.3",
  };
  return (port === 25 ? smtp : client)[probe];
}
