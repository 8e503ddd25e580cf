// Bad clients: a bounded battery (several hundred cases) of malformed and
// fuzzed SMTP and IMAP commands, over-long lines, AUTH before TLS, wrong
// passwords, SQL metacharacters in user names, relay attempts, SMTP
// smuggling and weak TLS (old versions, anonymous and CBC ciphers) against one
// deployed system. Every hostile request must be refused, nobody may log in
// who should not, nothing may be relayed, and the servers must keep serving.
import { execFileSync } from "child_process";
import { generateKeyPairSync } from "crypto";
import { containerLog, docker, LOAD_TEST_LIMITS, log, replaceConfig } from "./lab";
import {
  CLIENT_TLS_PORTS, expectedTls, fuzzLines, hostileUserNames, MALFORMED_SMTP, relayTargets, smuggling, TLS_PROBES,
} from "./badClientCases";
import { ClientResult, mailClient, send } from "./clients";
import { queued } from "./mailLoad";
import { RSPAMD_MESSAGES } from "../../components/render/rspamd";
import { openStack, SharedStack } from "./sharedStack";
import { Endpoint, Wire } from "./wire";

jest.setTimeout(20 * 60_000);
const domain = "bad.test";
const [frank, leeo, team, news] = [`frank@${domain}`, `leeo@${domain}`, `team@${domain}`, `news@${domain}`];
const b64 = (s: string) => Buffer.from(s, "latin1").toString("base64");
const plain = (user: string, password: string) => b64(`\0${user}\0${password}`);

/** Runs `fn` over `items`, `concurrency` at a time; collects what it reports as wrong. */
async function battery<T>(items: T[], concurrency: number, fn: (item: T) => Promise<string | undefined>): Promise<string[]> {
  const wrong: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++];
        const problem = await fn(item).catch((e: Error) => `${JSON.stringify(item)}: ${e.message}`);
        if (problem) wrong.push(problem);
      }
    }),
  );
  return wrong;
}

// Two "remote" sender domains inside the lab's zone (served by its BIND, so
// Rspamd resolves them; not mail domains of this server): remote.bad.test
// publishes SPF for this host (the lab's gateway), a DKIM key and DMARC
// p=reject; quarantined.bad.test only DMARC p=quarantine.
const REMOTE = `remote.${domain}`;
const QUARANTINED = `quarantined.${domain}`;
const REMOTE_KEY = generateKeyPairSync("rsa", { modulusLength: 2048 });
const remoteRecords = (net: string) => [
  { name: "remote", type: "TXT", value: `v=spf1 ip4:${net}.1 -all` },
  { name: "_dmarc.remote", type: "TXT", value: "v=DMARC1; p=reject" },
  { name: "s1._domainkey.remote", type: "TXT", value: `v=DKIM1; k=rsa; p=${REMOTE_KEY.publicKey.export({ type: "spki", format: "der" }).toString("base64")}` },
  { name: "_dmarc.quarantined", type: "TXT", value: "v=DMARC1; p=quarantine" },
];

/** `headers` with a DKIM-Signature of remote.bad.test (selector s1) in front, made by dkimpy over exactly what onPort25 sends. */
function signedByRemote(headers: string[], body: string): string[] {
  const message = `${headers.join("\r\n")}\r\n\r\n${body.split("\n").join("\r\n")}\r\n`;
  const py = [
    "import dkim, json, sys",
    "d = json.load(sys.stdin)",
    "h = [b'from', b'to', b'subject', b'date', b'message-id']",
    "sys.stdout.write(dkim.sign(d['m'].encode(), b's1', d['d'].encode(), d['k'].encode(), include_headers=h).decode())",
  ].join("\n");
  const key = REMOTE_KEY.privateKey.export({ type: "pkcs1", format: "pem" }) as string;
  const signature = execFileSync("python3", ["-c", py], { input: JSON.stringify({ m: message, d: REMOTE, k: key }) }).toString();
  return [signature.replace(/\r?\n$/, ""), ...headers];
}

describe("bad clients against one deployed system", () => {
  let s: SharedStack | undefined;
  let at: (port: number, implicitTls?: boolean) => Endpoint;
  const cases: Record<string, number> = {};
  beforeAll(async () => {
    // frank may send as team@ (an alias delivering to him that says so), not as news@ (one that does not);
    // the limits are out of the battery's way until their own test.
    s = await openStack("bad", domain, [frank, leeo], (net) => ({
      ...LOAD_TEST_LIMITS,
      "mail-system:aliases": [
        { source: team, destination: frank, sendAs: true },
        { source: news, destination: frank },
      ],
      "mail-system:records": remoteRecords(net),
    }));
    at = (port, implicitTls = false) => ({ host: s!.lab.mail, port, tls: implicitTls, ca: s!.lab.ca, servername: s!.lab.servername });
  });
  afterAll(async () => {
    process.stdout.write(`bad clients: ${JSON.stringify(cases)} (${Object.values(cases).reduce((a, b) => a + b, 0)} cases)\n`);
    await s?.close();
  });

  /**
   * An SMTP session on 25 after EHLO: the `setup` commands are sent first (if
   * one is refused, so is the whole attempt), then `probe`, which must be
   * refused: a 4xx/5xx reply, or a hang-up (Postfix answers a non-SMTP
   * command with "221 2.7.0 Error: I can break rules, too. Goodbye." and
   * closes the connection).
   */
  async function refusedOn25(setup: string[], probe?: string): Promise<string | undefined> {
    const w = await Wire.open(at(25));
    try {
      await w.smtpReply();
      await w.smtp("EHLO client.test");
      for (const line of setup) {
        const r = await w.smtp(line).catch(() => undefined);
        if (!r || r.code >= 400) return undefined;
      }
      if (probe === undefined) return undefined;
      w.write(`${probe}\r\n`);
      const r = await w.smtpReply().catch(() => undefined);
      if (!r || r.code >= 400) return undefined;
      if (r.code === 221 && (await w.line(5000).then(() => false, () => true))) return undefined;
      return `${JSON.stringify(probe.length > 60 ? `${probe.slice(0, 60)}... (${probe.length})` : probe)} -> ${r.text}`;
    } finally {
      w.close();
    }
  }

  /** A session on 587 after STARTTLS and EHLO. */
  async function submission(): Promise<Wire> {
    const w = await Wire.open(at(587));
    await w.smtpReply();
    await w.smtp("EHLO client.test");
    if ((await w.smtp("STARTTLS")).code !== 220) throw new Error("STARTTLS refused");
    await w.startTls(at(587));
    await w.smtp("EHLO client.test");
    return w;
  }

  /**
   * SMTP AUTH PLAIN on 587 after STARTTLS; undefined when refused: 535, or
   * 454 when Dovecot's growing delay for a failing client outlasts Postfix's
   * wait for the auth server (a temporary failure, still no login).
   */
  async function smtpAuthRefused(user: string, password: string): Promise<string | undefined> {
    const w = await submission();
    try {
      const r = await w.smtp(`AUTH PLAIN ${plain(user, password)}`, 60_000);
      return r.code >= 400 ? undefined : `SMTP AUTH ${JSON.stringify(user)} -> ${r.text}`;
    } finally {
      w.close();
    }
  }

  /** IMAP on 993: LOGIN (when the name can be quoted) and AUTHENTICATE PLAIN; undefined when both are refused. */
  async function imapRefused(user: string, password: string): Promise<string | undefined> {
    const w = await Wire.open(at(993, true));
    try {
      await w.line();
      if (!/["\\\0\x80-\xff]/.test(user + password)) {
        const r = await w.imap("a1", `LOGIN "${user}" "${password}"`, 60_000).catch(() => undefined);
        if (r?.status === "OK") return `IMAP LOGIN ${JSON.stringify(user)} -> ${r.line}`;
        if (!r) return undefined;
      }
      const r = await w.imap("a2", `AUTHENTICATE PLAIN ${plain(user, password)}`, 60_000).catch(() => undefined);
      return r?.status === "OK" ? `IMAP AUTHENTICATE ${JSON.stringify(user)} -> ${r.line}` : undefined;
    } finally {
      w.close();
    }
  }

  test("malformed, out-of-order and fuzzed SMTP commands on 25 are refused", async () => {
    const lines = [...MALFORMED_SMTP, ...fuzzLines(25, 150)];
    cases.smtpMalformed = lines.length;
    expect(await battery(lines, 10, (l) => refusedOn25([], l))).toEqual([]);
  });

  test("fuzzed and malformed IMAP commands before login are refused", async () => {
    const lines = [
      "LOGIN", "LOGIN frank", "SELECT INBOX", "FETCH 1 BODY[]", "AUTHENTICATE", "AUTHENTICATE FOO", "AUTHENTICATE PLAIN !!!notbase64",
      "LOGIN {99999999}", "LOGIN {5+}", "STARTTLS", "X".repeat(50), ...fuzzLines(143, 80),
    ];
    cases.imapMalformed = lines.length;
    const wrong = await battery(lines, 10, async (l) => {
      const w = await Wire.open(at(993, true));
      try {
        await w.line();
        const r = await w.imap("t1", l).catch(() => undefined);
        return r && r.status === "OK" ? `${JSON.stringify(l)} -> ${r.line}` : undefined;
      } finally {
        w.close();
      }
    });
    expect(wrong).toEqual([]);
  });

  test("over-long lines are refused (SMTP and IMAP), and the SMTP session still answers afterwards", async () => {
    // Beyond Postfix's line_length_limit (2048) and Dovecot's limits.
    const sizes = [2_100, 10_000, 100_000, 1_000_000];
    const smtpCases: [string[], string][] = sizes.flatMap((n): [string[], string][] => [
      [[], `MAIL FROM:<${"a".repeat(n)}@client.test>`],
      [[], `XYZZY ${"x".repeat(n)}`],
      [["MAIL FROM:<someone@example.org>"], `RCPT TO:<${"a".repeat(n)}@${domain}>`],
      // A long EHLO is answered (Postfix checks the name later): the transaction after it must fail.
      [[`EHLO ${"a".repeat(n)}`, "MAIL FROM:<someone@example.org>"], `RCPT TO:<${frank}>`],
    ]);
    cases.longLines = smtpCases.length + sizes.length * 2;
    const wrong = await battery(smtpCases, 4, async ([setup, probe]) => {
      const problem = await refusedOn25(setup, probe);
      if (problem) return problem;
      // The server still answers a fresh session.
      const w = await Wire.open(at(25));
      try {
        const greeting = await w.smtpReply();
        return greeting.code === 220 && (await w.smtp("NOOP")).code === 250 ? undefined : `no service after ${probe.slice(0, 20)}...`;
      } finally {
        w.close();
      }
    });
    wrong.push(
      ...(await battery(sizes.flatMap((n) => [`LOGIN "${"a".repeat(n)}" "x"`, `${"X".repeat(n)}`]), 5, async (l) => {
        const w = await Wire.open(at(993, true));
        try {
          await w.line();
          const r = await w.imap("t1", l).catch(() => undefined);
          return r && r.status === "OK" ? `IMAP ${l.slice(0, 20)}... (${l.length}) -> ${r.line}` : undefined;
        } finally {
          w.close();
        }
      })),
    );
    expect(wrong).toEqual([]);
  });

  test("relay attempts are refused: on 25 without login, and on 587 after STARTTLS without login", async () => {
    const st = s!;
    const targets = relayTargets(domain, st.lab.mail);
    cases.relay = targets.length * 3;
    const on25 = await battery(targets, 10, (t) => refusedOn25(["MAIL FROM:<someone@example.org>"], `RCPT TO:<${t}>`));
    // A local sender does not make it better.
    const forged = await battery(targets, 10, (t) => refusedOn25([`MAIL FROM:<${frank}>`], `RCPT TO:<${t}>`));
    const on587 = await battery(targets, 10, async (t) => {
      const w = await submission();
      try {
        const from = await w.smtp(`MAIL FROM:<${frank}>`);
        if (from.code >= 400) return undefined;
        const r = await w.smtp(`RCPT TO:<${t}>`);
        return r.code >= 400 ? undefined : `587 RCPT ${t} -> ${r.text}`;
      } finally {
        w.close();
      }
    });
    expect([...on25, ...forged, ...on587]).toEqual([]);
  });

  test("AUTH before TLS is refused everywhere, even with the right password", async () => {
    const st = s!;
    const password = st.lab.passwords[frank];
    const wrong: string[] = [];
    cases.authBeforeTls = 6;
    const r25 = await refusedOn25([], `AUTH PLAIN ${plain(frank, password)}`);
    if (r25) wrong.push(`25: ${r25}`);
    const w587 = await Wire.open(at(587));
    try {
      await w587.smtpReply();
      await w587.smtp("EHLO client.test");
      for (const cmd of [`AUTH PLAIN ${plain(frank, password)}`, "AUTH LOGIN", `MAIL FROM:<${frank}>`]) {
        const r = await w587.smtp(cmd);
        if (r.code < 500) wrong.push(`587 before STARTTLS: ${cmd.split(" ")[0]} -> ${r.text}`);
      }
    } finally {
      w587.close();
    }
    const w143 = await Wire.open(at(143));
    try {
      await w143.line();
      for (const [tag, cmd] of [["a1", `LOGIN "${frank}" "${password}"`], ["a2", `AUTHENTICATE PLAIN ${plain(frank, password)}`]]) {
        const r = await w143.imap(tag, cmd).catch(() => undefined);
        if (r?.status === "OK") wrong.push(`143 before STARTTLS: ${cmd.split(" ")[0]} -> ${r.line}`);
      }
    } finally {
      w143.close();
    }
    const w110 = await Wire.open(at(110));
    try {
      await w110.line();
      w110.write(`USER ${frank}\r\n`);
      const user = await w110.line();
      w110.write(`PASS ${password}\r\n`);
      const pass = await w110.line().catch(() => "-ERR (closed)");
      if (!user.startsWith("-ERR") && !pass.startsWith("-ERR")) wrong.push(`110 before STLS: USER/PASS -> ${user} / ${pass}`);
    } finally {
      w110.close();
    }
    expect(wrong).toEqual([]);
  });

  test("wrong passwords and SQL metacharacters in user names log nobody in (SMTP AUTH on 587, IMAP on 993)", async () => {
    const st = s!;
    const right = st.lab.passwords[frank];
    const attempts: [string, string][] = [
      ...["wrong", "", right.toUpperCase(), `${right}x`, right.slice(0, -1), st.lab.passwords[leeo], "x".repeat(1000), "' OR 1=1 --", `${right}' OR '1'='1`]
        .map((p): [string, string] => [frank, p]),
      ...hostileUserNames(frank).map((u): [string, string] => [u, right]),
      ...hostileUserNames(leeo).slice(0, 6).map((u): [string, string] => [u, st.lab.passwords[leeo]]),
    ];
    cases.logins = attempts.length * 2;
    // Dovecot delays answers to a client that keeps failing (auth penalty, up to 15 s): many at once keeps this short.
    const wrong = await battery(attempts, 20, async ([u, p]) => (await smtpAuthRefused(u, p)) ?? (await imapRefused(u, p)));
    expect(wrong).toEqual([]);
    // SQL metacharacters as recipients are unknown users, not a way into the table.
    const names = hostileUserNames(frank).filter((u) => !/[\0\\]/.test(u));
    cases.sqlRecipients = names.length;
    const rcpt = await battery(names, 10, (u) =>
      refusedOn25(["MAIL FROM:<someone@example.org>"], `RCPT TO:<"${u.replace(/"/g, "")}"@${domain}>`),
    );
    expect(rcpt).toEqual([]);
  });

  /** The messages under `dir` (a maildir, or all of them) that contain `text`; Dovecot's index files are not messages. */
  async function messagesWith(text: string, dir = "/var/mail/vhosts"): Promise<string[]> {
    const out = await docker("exec", s!.mail, "sh", "-c", 'grep -rlF --exclude="dovecot*" -e "$1" "$2" 2>/dev/null || true', "grep", text, dir);
    return out.split("\n").filter(Boolean);
  }
  const maildir = (user: string) => `/var/mail/vhosts/${user.split("@")[1]}/${user.split("@")[0]}`;

  /** Replies until the server hangs up (at most `max`). */
  async function repliesUntilClosed(w: Wire, max = 10): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < max; i++) {
      const r = await w.smtpReply(10_000).catch(() => undefined);
      if (!r) break;
      out.push(r.text);
    }
    return out;
  }

  test("SMTP smuggling (CVE-2023-51764): a bare-LF end of data on 25 does not start a second message", async () => {
    const subject = `smuggling ${Date.now()}`;
    // As in the finding: an outsider's message to frank carries a second one, "from" frank to leeo.
    const c = smuggling({ sender: "someone@example.org", recipient: frank, forged: frank, victim: leeo, subject });
    cases.smuggling = 2;
    const w = await Wire.open(at(25));
    let queuedAs = "";
    try {
      await w.smtpReply();
      await w.smtp("EHLO client.test");
      expect((await w.smtp("MAIL FROM:<someone@example.org>")).code).toBe(250);
      expect((await w.smtp(`RCPT TO:<${frank}>`)).code).toBe(250);
      expect((await w.smtp("DATA")).code).toBe(354);
      w.write(c.data);
      // One reply to the whole data; the next one answers QUIT (not a smuggled MAIL FROM).
      const end = await w.smtpReply(30_000);
      expect(end.text).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]+$/);
      queuedAs = end.text.split(" ").pop() ?? "";
      expect((await w.smtp("QUIT")).text).toBe("221 2.0.0 Bye");
    } finally {
      w.close();
    }
    // The first message reaches frank, once, with the bare LFs as line ends and the smuggled transaction as text.
    let files: string[] = [];
    for (let i = 0; i < 30 && files.length === 0; i++) {
      files = await messagesWith(`Subject: ${subject}`, maildir(frank));
      if (files.length === 0) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(files).toHaveLength(1);
    const message = await docker("exec", s!.mail, "cat", files[0]);
    expect(message).toContain(`(Postfix) with ESMTP id ${queuedAs}\n`);
    expect(message).not.toContain("\r");
    expect(message.slice(message.indexOf("\n\n") + 2)).toBe(c.body.map((l) => `${l}\n`).join(""));
    // leeo receives nothing of it; nothing else carries the subject.
    expect(await messagesWith(subject, maildir(leeo))).toEqual([]);
    expect(await messagesWith(subject)).toEqual(files);

    // The data sent with DATA, before the 354 (commands ahead of time where
    // PIPELINING does not allow them): DATA is refused, the message is not taken.
    const early = `pipelined ${Date.now()}`;
    const p = await Wire.open(at(25));
    try {
      await p.smtpReply();
      await p.smtp("EHLO client.test");
      p.write(`MAIL FROM:<someone@example.org>\r\nRCPT TO:<${frank}>\r\nDATA\r\nFrom: <someone@example.org>\r\nSubject: ${early}\r\n\r\nbody\r\n.\r\n`);
      expect(await repliesUntilClosed(p)).toEqual([
        "250 2.1.0 Ok",
        "250 2.1.5 Ok",
        "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining",
        "221 2.7.0 Error: I can break rules, too. Goodbye.",
      ]);
    } finally {
      p.close();
    }
    expect(await messagesWith(early)).toEqual([]);
  });

  test("TLS: 587, 465, 143, 993, 110 and 995 refuse TLS 1.0 and 1.1, anonymous and CBC ciphers; 25 takes any TLS, strongest first", async () => {
    const st = s!;
    // Refusals the server makes: an alert, or (Dovecot) closing the connection during the handshake.
    const serverRefusal = /ALERT_PROTOCOL_VERSION|ALERT_HANDSHAKE_FAILURE|UNEXPECTED_EOF|EOF occurred|Connection reset/;
    const outcome = (r: ClientResult): string => {
      if (r.ok) return r.version === "TLSv1.3" ? "TLSv1.3" : `${String(r.version)} ${String(r.cipher)}`;
      return r.stage === "handshake" && serverRefusal.test(`${String(r.reason)} ${r.error}`) ? "refused" : `unexpected: ${JSON.stringify(r)}`;
    };
    const probes = [25, ...CLIENT_TLS_PORTS].flatMap((port) => TLS_PROBES.map((probe) => ({ port, probe })));
    cases.tls = probes.length;
    const got: Record<string, string> = {};
    const failed = await battery(probes, 6, async ({ port, probe }) => {
      const r = await mailClient(st.lab, "tls", {
        port, "tls-version": probe.version, ciphers: probe.ciphers ?? "DEFAULT", anonymous: probe.anonymous ?? false,
      });
      got[`${port} ${probe.name}`] = outcome(r);
      return undefined;
    });
    expect(failed).toEqual([]);
    expect(got).toEqual(Object.fromEntries(probes.map(({ port, probe }) => [`${port} ${probe.name}`, expectedTls(port, probe.name)])));
  });

  test("IMAP and POP3 greet without naming the product", async () => {
    cases.greetings = 2;
    const imap = await Wire.open(at(143));
    const pop3 = await Wire.open(at(110));
    try {
      expect(await imap.line()).toMatch(/^\* OK \[CAPABILITY [^\]]*\] Server ready\.$/);
      expect(await pop3.line()).toBe("+OK Server ready.");
    } finally {
      imap.close();
      pop3.close();
    }
  });

  test("587 and 465: a logged-in user sends only as themselves (envelope, From header, no null sender), or as an alias they receive that says so", async () => {
    const st = s!;
    const submit = (port: number, user: string, sender: string, fromHeader: string, subject: string) =>
      mailClient(st.lab, "send", { port, user, sender, "from-header": fromHeader, to: leeo, subject, body: subject }, st.lab.passwords[user]);
    const outcome = (r: ClientResult) => (r.ok ? "sent" : `${r.stage} ${r.code} ${String(r.error).split("\n")[0]}`);
    const got: Record<string, string> = {};
    const want: Record<string, RegExp> = {};
    for (const port of [587, 465]) {
      const tries: [string, string, string, string, RegExp][] = [
        ["own address", frank, frank, `Frank <${frank}>`, /^sent$/],
        ["an alias he receives", frank, team, `Team <${team}>`, /^sent$/],
        ["an alias he receives that does not say sendAs", frank, news, news, /^recipient 553 5\.7\.1 <news@bad\.test>: Sender address rejected: not owned by user frank@bad\.test/],
        ["someone else's envelope", frank, leeo, leeo, /^recipient 553 5\.7\.1 <leeo@bad\.test>: Sender address rejected: not owned by user frank@bad\.test/],
        ["the null sender", frank, "", frank, /^sender 553 5\.7\.1 The null sender <> is for bounces/],
        ["someone else's From", frank, frank, `Leeo <${leeo}>`, /^data 550 5\.7\.1 The From header \(leeo@bad\.test\) is not your sender address \(frank@bad\.test\)/],
        ["an alias's From", leeo, leeo, team, /^data 550 5\.7\.1 The From header \(team@bad\.test\)/],
        ["an alias he does not receive", leeo, team, team, /^recipient 553 5\.7\.1 <team@bad\.test>: Sender address rejected: not owned by user leeo@bad\.test/],
      ];
      for (const [what, user, sender, from, expected] of tries) {
        const key = `${port} ${user.split("@")[0]}: ${what}`;
        got[key] = outcome(await submit(port, user, sender, from, `sender-${port}-${what}`));
        want[key] = expected;
      }
    }
    cases.senders = Object.keys(got).length;
    expect(got).toEqual(Object.fromEntries(Object.entries(want).map(([k, re]) => [k, expect.stringMatching(re)])));
    // What was sent arrived; the Received header of the submission does not name this host's address.
    let own: string[] = [];
    for (let i = 0; i < 30 && own.length === 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      own = await messagesWith("sender-587-own address", maildir(leeo));
    }
    expect(own).toHaveLength(1);
    const text = await docker("exec", st.mail, "cat", own[0]);
    expect(text).not.toContain(`${st.net}.1`);
    expect(text).not.toMatch(/with E?SMTPS?A/);
    expect(await messagesWith("sender-465-an alias he receives", maildir(leeo))).toHaveLength(1);
    for (const forged of ["someone else's From", "the null sender", "an alias's From"]) {
      expect(await messagesWith(`sender-587-${forged}`)).toEqual([]);
    }
  });

  /**
   * One message on 25 from this host (outside: neither loopback nor logged
   * in): the first reply that is not a success, or the end of data's.
   */
  async function onPort25(sender: string, recipient: string, headers: string[], body: string): Promise<{ code: number; text: string }> {
    const w = await Wire.open(at(25));
    try {
      await w.smtpReply();
      await w.smtp("EHLO client.test");
      for (const command of [`MAIL FROM:<${sender}>`, `RCPT TO:<${recipient}>`]) {
        const r = await w.smtp(command);
        if (r.code !== 250) return r;
      }
      const data = await w.smtp("DATA");
      if (data.code !== 354) return data;
      w.write(`${[...headers, "", ...body.split("\n")].map((l) => (l.startsWith(".") ? `.${l}` : l)).join("\r\n")}\r\n.\r\n`);
      return await w.smtpReply(60_000);
    } finally {
      w.close();
    }
  }
  const now = () => new Date().toUTCString();
  const ordinary = (subject: string, n: number) => [`From: Alice <alice@remote.test>`, `To: <${leeo}>`, `Subject: ${subject}`, `Message-ID: <${n}.${Date.now()}@remote.test>`, `Date: ${now()}`, "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii"];
  const LETTER = [
    "Hello Leeo,",
    "the minutes of Tuesday's meeting are below. We agreed to move the review to the second week of the month,",
    "to keep the build machines for the release, and to ask the team which of the open questions should come first.",
    "Thanks for taking notes, and see you on Thursday.",
  ].join("\n");

  /** Files under the user's maildir folder ("" for INBOX, ".Junk") holding `text`. */
  async function inFolder(user: string, folder: string, text: string): Promise<string[]> {
    for (let i = 0; i < 30; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      const found = (await messagesWith(text, `${maildir(user)}/${folder}`)).filter((f) => /(^|\/)(cur|new)\/[^/]+$/.test(f.slice(`${maildir(user)}/${folder}`.length)));
      if (found.length > 0) return found;
    }
    return [];
  }

  /** The message whose subject starts with `subject` was filed into leeo's Junk, marked "X-Spam: Yes". */
  async function expectJunked(subject: string): Promise<void> {
    const [junk] = await inFolder(leeo, ".Junk", `Subject: ${subject}`);
    expect(junk).toBeDefined();
    expect(await docker("exec", s!.mail, "cat", junk)).toMatch(/^X-Spam: Yes$/m);
  }

  test("filtering on 25: GTUBE refused with 5xx, an own-domain sender from outside refused as forged", async () => {
    const gtube = await onPort25("alice@remote.test", leeo, ordinary("gtube", 1), "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X");
    expect(gtube.code).toBeGreaterThanOrEqual(500);
    expect(gtube.text).toMatch(/^5\d\d 5\.7\.1 /);
    // From: frank, sent from outside: neither SPF (the envelope) nor DMARC (From) authenticates it.
    const forgedFrom = await onPort25("someone@example.org", leeo, [`From: Frank <${frank}>`, ...ordinary("forged from", 2).slice(1)], LETTER);
    expect(forgedFrom.text).toMatch(new RegExp(`^5\\d\\d 5\\.7\\.1 ${RSPAMD_MESSAGES.forged.replace(/[()/]/g, "\\$&")}`));
    const forgedEnvelope = await onPort25(frank, leeo, ordinary("forged envelope", 3), LETTER);
    expect(forgedEnvelope.text).toMatch(/^5\d\d 5\.7\.1 Sender address in a domain of this server/);
    cases.filtering = 3;
    for (const subject of ["gtube", "forged from", "forged envelope"]) expect(await messagesWith(`Subject: ${subject}`)).toEqual([]);
  });

  test("filtering on 25: a clean message reaches INBOX with Authentication-Results; a spammy one lands in Junk with X-Spam", async () => {
    const clean = await onPort25("alice@remote.test", leeo, ordinary("minutes", 4), LETTER);
    expect(clean.text).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const [inbox] = await inFolder(leeo, "", "Subject: minutes");
    if (!inbox) {
      // What became of it: the mail log's lines of its queue id.
      const id = clean.text.split(" ").pop() ?? "?";
      const lines = (await containerLog(s!.mail)).split("\n").filter((l) => l.includes(id) || /lmtp|sieve|rspamd.*(error|warn)/i.test(l));
      throw new Error(`not delivered:\n${lines.slice(-40).join("\n")}\n${await docker("exec", s!.mail, "postqueue", "-p")}`);
    }
    const text = await docker("exec", s!.mail, "cat", inbox);
    expect([inbox.includes("/.Junk/"), /^X-Spamd-Result:.*$/m.exec(text)?.[0]]).toEqual([false, expect.anything()]);
    expect(text).toMatch(/^Authentication-Results: [^\n;]+;(?:.|\n\s)*\bspf=/m);
    expect(text).toMatch(/^X-Spamd-Result: default: False \[/m);
    expect(text).not.toMatch(/^X-Spam: Yes/m);
    // No date, no Message-ID, no MIME-Version, an all-caps subject, a link to an address: between junkScore and rejectScore.
    const spammy = await onPort25(
      "alice@remote.test",
      leeo,
      ["From: alice@remote.test", "To: undisclosed-recipients:;", "Subject: FREE MONEY NOW!!! CLICK HERE", "Content-Type: text/html"],
      '<html><body><a href="http://203.0.113.9/x">CLICK</a> <b>WIN $$$ FREE</b></body></html>',
    );
    expect(spammy.text).toMatch(/^250 2\.0\.0 Ok: queued as /);
    await expectJunked("FREE MONEY NOW");
    cases.filtering = (cases.filtering ?? 0) + 2;
  });

  test("filtering on 25: frank's signed message, forwarded back from outside (a mailing list's envelope), passes DKIM and DMARC and is accepted", async () => {
    const subject = `forwarded ${Date.now()}`;
    expect(await mailClient(s!.lab, "send", { port: 587, user: frank, sender: frank, to: leeo, subject, body: LETTER }, s!.lab.passwords[frank])).toMatchObject({ ok: true });
    const [original] = await inFolder(leeo, "", `Subject: ${subject}`);
    expect(original).toBeDefined();
    // As a list would pass it on: the signed headers and body as they were,
    // without what delivery added here (trace and verdict headers).
    const text = await docker("exec", s!.mail, "cat", original);
    const [head, ...rest] = text.split(/\r?\n\r?\n/);
    const added = /^(Return-Path|Delivered-To|Received|Authentication-Results|X-Spamd-Result|X-Spamd-Bar|X-Rspamd-[\w-]+|X-Spam[\w-]*):/i;
    const headers = head.replace(/\r?\n[ \t]/g, "\u0000").split(/\r?\n/).filter((h) => !added.test(h)).map((h) => h.replace(/\u0000/g, "\r\n\t"));
    expect(headers.find((h) => h.startsWith("DKIM-Signature:"))).toMatch(new RegExp(`d=${domain};`));
    const forwarded = await onPort25("list-bounces@remote.test", leeo, headers, rest.join("\n\n").replace(/\r?\n$/, ""));
    expect(forwarded.text).toMatch(/^250 2\.0\.0 Ok: queued as /);
    // Two copies now: the forwarded one has the list's envelope sender.
    let copy = "";
    for (let i = 0; i < 30 && !copy; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      for (const f of await messagesWith(`Subject: ${subject}`, maildir(leeo))) {
        const t = await docker("exec", s!.mail, "cat", f);
        if (t.includes("Return-Path: <list-bounces@remote.test>")) copy = t;
      }
    }
    expect(copy).toMatch(/^Authentication-Results: [^;]+;(?:.|\n\s)*\bdkim=pass\b/m);
    expect(copy).toMatch(/^Authentication-Results: [^;]+;(?:.|\n\s)*\bdmarc=pass\b/m);
    cases.filtering = (cases.filtering ?? 0) + 1;
  });

  test("filtering on 25: another domain's mail is judged by its SPF, DKIM and DMARC: authenticated to INBOX, p=reject refused, p=quarantine to Junk", async () => {
    const headers = (from: string, subject: string, n: number) => [`From: <${from}>`, ...ordinary(subject, n).slice(1).map((h) => h.replace("@remote.test>", `@${REMOTE}>`))];
    // Sent by its own server (this host, in its SPF) and signed with its key.
    const authentic = await onPort25(`alice@${REMOTE}`, leeo, signedByRemote(headers(`alice@${REMOTE}`, "authentic", 10), LETTER), LETTER);
    expect(authentic.text).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const [inbox] = await inFolder(leeo, "", "Subject: authentic");
    expect(inbox).toBeDefined();
    const text = await docker("exec", s!.mail, "cat", inbox);
    for (const verdict of ["spf=pass", "dkim=pass", "dmarc=pass"]) expect(text).toMatch(new RegExp(`^Authentication-Results: [^;]+;(?:.|\\n\\s)*\\b${verdict}\\b`, "m"));
    // The same From from a list's envelope, unsigned: DMARC fails, and the domain says reject.
    const forged = await onPort25(`list@other.${domain}`, leeo, headers(`alice@${REMOTE}`, "dmarc reject", 11), LETTER);
    expect(forged.text).toMatch(/^5\d\d 5\.7\.1 Refused by the sender domain's DMARC policy \(p=reject\)/);
    expect(await messagesWith("Subject: dmarc reject")).toEqual([]);
    // A domain that says quarantine: delivered, into Junk.
    const doubtful = await onPort25(`list@other.${domain}`, leeo, headers(`bob@${QUARANTINED}`, "dmarc quarantine", 12), LETTER);
    expect(doubtful.text).toMatch(/^250 2\.0\.0 Ok: queued as /);
    await expectJunked("dmarc quarantine");
    cases.filtering = (cases.filtering ?? 0) + 3;
  });

  test("learning: moving a message into Junk over IMAP raises Rspamd's spam learns by one", async () => {
    // Bayes's spam learns, from Redis where Rspamd keeps them (rspamc stat reads them on a timer).
    const learned = async () => Number((await docker("exec", s!.mail, "redis-cli", "-h", "127.0.0.1", "HGET", "RS", "learns_spam")).trim() || 0);
    const before = await learned();
    expect(before).toBeGreaterThanOrEqual(0);
    expect((await onPort25("alice@remote.test", leeo, ordinary("teach me", 5), `${LETTER}\nP.S. the agenda for next time is attached.`)).code).toBe(250);
    expect(await inFolder(leeo, "", "Subject: teach me")).toHaveLength(1);
    const w = await Wire.open(at(993, true));
    try {
      await w.line();
      expect((await w.imap("a1", `LOGIN "${leeo}" "${s!.lab.passwords[leeo]}"`, 60_000)).status).toBe("OK");
      expect((await w.imap("a2", "SELECT INBOX")).status).toBe("OK");
      const found = await w.imap("a3", 'UID SEARCH SUBJECT "teach me"');
      const uids = found.untagged.find((l) => l.startsWith("* SEARCH"))?.split(" ").slice(2) ?? [];
      expect(uids).toHaveLength(1);
      expect((await w.imap("a4", `UID MOVE ${uids[0]} Junk`, 60_000)).status).toBe("OK");
      await w.imap("a5", "LOGOUT");
    } finally {
      w.close();
    }
    let after = before;
    for (let i = 0; i < 30 && after <= before; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      after = await learned();
    }
    if (after !== before + 1) {
      const lines = (await containerLog(s!.mail)).split("\n").filter((l) => /imap\(leeo|sieve|learn|controller/i.test(l));
      throw new Error(`learned ${before} -> ${after}:\n${lines.slice(-30).join("\n")}`);
    }
    cases.filtering = (cases.filtering ?? 0) + 1;
  });

  test("afterwards: the servers still serve, the database is intact, only real users ever logged in, nothing was relayed", async () => {
    const st = s!;
    // The right password still works (after the penalty Dovecot imposed on this client).
    const w = await Wire.open(at(993, true));
    try {
      await w.line();
      expect((await w.imap("a1", `LOGIN "${frank}" "${st.lab.passwords[frank]}"`, 60_000)).status).toBe("OK");
    } finally {
      w.close();
    }
    const ok = await submission();
    try {
      expect((await ok.smtp(`AUTH PLAIN ${plain(leeo, st.lab.passwords[leeo])}`, 60_000)).code).toBe(235);
      // Postfix logs the login (sasl_username) when the queue file is made: at the first accepted recipient.
      expect((await ok.smtp(`MAIL FROM:<${leeo}>`)).code).toBe(250);
      expect((await ok.smtp(`RCPT TO:<${leeo}>`)).code).toBe(250);
      await ok.smtp("RSET");
    } finally {
      ok.close();
    }
    const fresh = await Wire.open(at(25));
    expect((await fresh.smtpReply()).code).toBe(220);
    expect((await fresh.smtp("EHLO client.test")).code).toBe(250);
    fresh.close();
    const rows = await docker("exec", st.db, "mysql", "-N", "-e", "SELECT email FROM mailserver.virtual_users ORDER BY email");
    expect(rows.trim().split("\n")).toEqual([frank, leeo]);
    expect(await queued(st.mail)).toBe(0);
    // The servers' own logs: every login and every delivery concerns a real user.
    const all = await containerLog(st.mail);
    const logins = [...all.matchAll(/Login: user=<([^>]*)>/g)].map((m) => m[1]);
    // Successful SMTP logins: the queue file's "client=..., sasl_username=" line (failures are logged differently).
    const sasl = [...all.matchAll(/: [0-9A-F]+: client=.*, sasl_username=(\S+)$/gm)].map((m) => m[1]);
    expect(logins).toContain(frank);
    expect(sasl).toContain(leeo);
    expect([...logins, ...sasl].filter((u) => u !== frank && u !== leeo)).toEqual([]);
    const deliveries = [...all.matchAll(/ to=<([^>]*)>.*status=(sent|deferred|bounced)/g)].map((m) => m[1]);
    expect(deliveries.filter((d) => !d.endsWith(`@${domain}`))).toEqual([]);
  });

  /** Python run inside the mail container against its own lab address (argv[1]): a client at an address other than this host's. */
  async function fromServerItself(python: string, ...args: string[]): Promise<string> {
    return docker("exec", s!.mail, "python3", "-c", python, s!.lab.mail, ...args);
  }

  // Last: it lowers the limits and gets this host banned from logging in.
  test("limits: recipients per login an hour, connections per address a minute, and a ban after N failed logins, each for one client only", async () => {
    const st = s!;
    await replaceConfig(st.stack, {
      "mail-system:limits": { submissionRecipientsPerHour: 3, smtpConnectionsPerMinute: 5, authFailures: 3 },
    });
    const startedAt = () => docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}} {{.RestartCount}}", st.mail);
    const before = await startedAt();
    const since = new Date().toISOString();
    await st.stack.up({ onOutput: log });
    // New limits restart mail-guard and reload Postfix; the container keeps running, and its supervisor has nothing to say.
    const said = (await containerLog(st.mail, since)).split("\n").filter((l) => /supervisor|fatal|panic/i.test(l));
    expect({ started: await startedAt(), said }).toEqual({ started: before, said: [] });
    cases.limits = 8;

    // Recipients: leeo's fourth in the hour is deferred (4xx: the client retries later); frank's count is his own
    // (the up's round-trip check just sent him one message: the guard started counting afresh before it).
    const to = [frank, `frank+a@${domain}`, `frank+b@${domain}`, `frank+c@${domain}`].join(",");
    const first = await mailClient(st.lab, "send", { port: 587, user: leeo, sender: leeo, to, subject: "four", body: "x" }, st.lab.passwords[leeo]);
    expect(first.ok).toBe(true);
    expect(first.refused).toEqual({ [`frank+c@${domain}`]: [450, expect.stringMatching(/^4\.7\.1 .*You have sent to 3 recipients in the last hour/)] });
    const next = await mailClient(st.lab, "send", { port: 465, user: leeo, sender: leeo, to: frank, subject: "fifth", body: "x" }, st.lab.passwords[leeo]);
    expect([next.stage, next.code]).toEqual(["recipient", 450]);
    expect((await send(st.lab, frank, leeo, "frank's own count")).ok).toBe(true);

    // Connections on 25: this host gets 421 within six attempts a minute; the server's own address still gets a greeting.
    const greetings: string[] = [];
    for (let i = 0; i < 6 && !greetings.some((g) => g.startsWith("421")); i++) {
      const w = await Wire.open(at(25));
      greetings.push((await w.smtpReply()).text);
      w.close();
    }
    expect(greetings[greetings.length - 1]).toMatch(/^421 4\.7\.0 .*Error: too many connections from /);
    expect(await fromServerItself("import smtplib,sys; s=smtplib.SMTP(sys.argv[1], 25, timeout=20); print(s.ehlo()[0]); s.quit()")).toBe("250\n");

    // Logins: three wrong passwords from this host, then the right one is refused on IMAP, SMTP AUTH and POP3...
    for (let i = 0; i < 3; i++) expect(await imapRefused(frank, `wrong-${i}`)).toBeUndefined();
    expect(await imapRefused(frank, st.lab.passwords[frank])).toBeUndefined();
    expect(await smtpAuthRefused(leeo, st.lab.passwords[leeo])).toBeUndefined();
    expect(await mailClient(st.lab, "pop3", { port: 995, user: leeo }, st.lab.passwords[leeo])).toMatchObject({ ok: false, stage: "auth" });
    // ...while a client at another address logs in.
    const imapLogin =
      "import imaplib,ssl,sys; c=ssl.create_default_context(); c.check_hostname=False; c.verify_mode=ssl.CERT_NONE; " +
      "m=imaplib.IMAP4_SSL(sys.argv[1], 993, ssl_context=c); print(m.login(sys.argv[2], sys.argv[3])[0]); m.logout()";
    expect(await fromServerItself(imapLogin, frank, st.lab.passwords[frank])).toBe("OK\n");
    expect(await containerLog(st.mail)).toMatch(/mail-guard: auth: \d+\.\d+\.\d+\.\d+ failed 3 logins: refused for 900s/);
  });
});
