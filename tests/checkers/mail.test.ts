// The mail server's rendered configuration checked by the real daemons:
// Postfix's and Dovecot's own checkers, password hashes verified by doveadm,
// a mail server started on its own (--network none) as the program starts one
// (supervisor, files, units with their checks: images.ts), and a whole mail
// flow against a throwaway MariaDB server started the same way (over TLS,
// its certificate issued as AddressCertificate issues the database's). All
// traffic stays on loopback inside the containers' own network namespaces.
import { execFile } from "child_process";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { ADDRESS_ISSUE_SCRIPT } from "../../components/mailCertificate";
import { sha512Crypt, USER_HASH_ROUNDS } from "../../components/passwordHash";
import { renderDbServerFiles } from "../../components/render/dbServer";
import { renderDovecotFiles } from "../../components/render/dovecot";
import { DEFAULT_LIMITS, renderMailGuardFiles } from "../../components/render/mailGuard";
import { opendkimMilter, renderOpendkimFiles } from "../../components/render/opendkim";
import { DEFAULT_FILTERING, renderRspamdFiles, RSPAMD } from "../../components/render/rspamd";
import * as sql from "../../components/render/mailSql";
import { CLIENT_TLS12_CIPHERS, MailServerSettings, renderPostfixFiles } from "../../components/render/postfix";
import { databaseTlsProbe, expectDatabaseTls, SEED_DATABASE, seedMailSettings } from "../fixtures/mail";
import { RenderedFile, TlsMaterial } from "../../components/render/types";
import { healthcheckPath, SUPERVISOR_PATH } from "../../components/targets/hostScripts";
import { buildImage, runWithFiles, ServerContainer } from "./images";

const run = promisify(execFile);
const BUILD_TIMEOUT = 15 * 60_000;

const TLS = { certificateFile: "/etc/ssl/mail/cert.pem", keyFile: "/etc/ssl/mail/private/key.pem" };
// A throwaway self-signed certificate at the paths the configuration names.
const MAKE_CERT = [
  "mkdir -p /etc/ssl/mail/private && chmod 0700 /etc/ssl/mail/private",
  `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=mail.rockylinux.me` +
    ` -keyout ${TLS.keyFile} -out ${TLS.certificateFile} 2>/dev/null`,
  `chmod 0600 ${TLS.keyFile}`,
].join("\n");

// A database password with every character the formats treat specially
// except whitespace, which neither Postfix's maps nor Dovecot's connect
// string can hold.
const DB_PASSWORD = `#a"b'c%d\\e$f=g!{}\\`;

const settings = (database: MailServerSettings["database"]): MailServerSettings => seedMailSettings({ database, tls: TLS });
// OpenDKIM as MailServer renders it: a key per served domain, Postfix's milter.
const DKIM_KEYS = ["rockylinux.me", "mail.rockylinux.me"].map((domain) => ({
  domain,
  privateKey: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string,
}));
const renderAll = (s: MailServerSettings): RenderedFile[] => [
  ...renderPostfixFiles({ ...s, milters: [opendkimMilter()], filterMilter: RSPAMD.milter }),
  ...renderDovecotFiles(s),
  ...renderOpendkimFiles({ selector: "mail", keys: DKIM_KEYS }),
  ...renderMailGuardFiles({ limits: DEFAULT_LIMITS, logTo: "stderr", host: false }),
  ...renderRspamdFiles({ filtering: DEFAULT_FILTERING, ownDomains: ["mail.rockylinux.me", "rockylinux.me"], logTo: "stdout" }),
];
const SEED_DB = { ...SEED_DATABASE, password: DB_PASSWORD };

async function docker(args: string[], timeout = 60_000): Promise<string> {
  const { stdout, stderr } = await run("docker", args, { timeout, maxBuffer: 16 * 1024 * 1024 });
  return stdout + stderr;
}

/** docker, but returns the exit code and output instead of throwing. */
async function dockerResult(args: string[], timeout = 60_000): Promise<{ code: number; output: string }> {
  try {
    return { code: 0, output: await docker(args, timeout) };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, output: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}

/** `name = value` lines (postconf -n) as a map. */
function parameters(text: string): Map<string, string> {
  return new Map(
    text
      .split("\n")
      .map((l) => /^([a-z0-9_]+) = ?(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
}

// Speaks a line protocol for the tests, from inside a container:
//   dialogue.sh smtp|imap|pop3 HOST PORT plain|starttls|tls < commands
// printing "S: line" for each server line and "C: line" for each command.
// A reply ends as the protocol says (SMTP: no '-' after the code; IMAP: the
// command's tag; POP3: one line, or up to "." after CAPA). After DATA, the
// command lines up to "." are the message.
const DIALOGUE = [
  "#!/bin/bash",
  "proto=$1 host=$2 port=$3 tls=$4",
  'if [ "$tls" = plain ]; then',
  '  exec 3<>"/dev/tcp/$host/$port" || exit 1',
  "  in=3 out=3",
  "else",
  '  args=(-quiet -connect "$host:$port")',
  '  [ "$tls" = starttls ] && args+=(-starttls "$proto")',
  '  coproc TLS { exec openssl s_client "${args[@]}" 2>/dev/null; }',
  "  in=${TLS[0]} out=${TLS[1]}",
  "fi",
  'reply() { # $1: the command answered ("" for the greeting)',
  "  local line tag=${1%% *}",
  "  while IFS= read -r -t 15 line <&$in; do",
  "    line=${line%$'\\r'}",
  '    echo "S: $line"',
  "    case $proto in",
  '      smtp) [ "${line:3:1}" = "-" ] || return 0 ;;',
  '      imap) if [ -z "$1" ] || [ "${line%% *}" = "$tag" ]; then return 0; fi ;;',
  '      pop3) if [ "$tag" = CAPA ]; then [ "$line" = . ] && return 0; else return 0; fi ;;',
  "    esac",
  "  done",
  '  echo "S: (no reply)"; return 1',
  "}",
  '[ "$tls" = starttls ] || reply "" || exit 1',
  "while IFS= read -r cmd; do",
  '  echo "C: $cmd"',
  "  printf '%s\\r\\n' \"$cmd\" >&$out",
  '  if [ "$cmd" = DATA ]; then',
  "    reply DATA || exit 1",
  "    while IFS= read -r body && [ \"$body\" != . ]; do printf '%s\\r\\n' \"$body\" >&$out; done",
  "    printf '.\\r\\n' >&$out",
  "  fi",
  '  reply "$cmd" || exit 1',
  "done",
  "",
].join("\n");

interface Exchange {
  readonly command: string | null;
  readonly reply: string[];
}

/** Parses dialogue.sh's output into the greeting (command null) and one exchange per command. */
function exchanges(output: string): Exchange[] {
  const out: { command: string | null; reply: string[] }[] = [];
  for (const line of output.split("\n")) {
    if (line.startsWith("C: ")) out.push({ command: line.slice(3), reply: [] });
    else if (line.startsWith("S: ")) {
      if (out.length === 0) out.push({ command: null, reply: [] });
      out[out.length - 1].reply.push(line.slice(3));
    }
  }
  return out;
}

/**
 * A mail server started as the program starts one (images.ts: the supervisor
 * with the mail units, then packages, the rendered files, the units and the
 * health step), with a staging directory for the tests' dialogues at /stage.
 */
class MailContainer {
  readonly name: string;
  readonly dir: string;
  private commandFiles = 0;

  constructor(
    role: string,
    private readonly files: readonly RenderedFile[],
  ) {
    this.name = `mail-system-check-${role}-${process.pid}-${Date.now()}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-check-"));
    fs.writeFileSync(path.join(this.dir, "dialogue.sh"), DIALOGUE);
  }

  /** Makes the container and runs the program's steps; healthy within `seconds`, or throws with the log. Returns the seconds the steps took. */
  async start(image: string, network: string, seconds = 60): Promise<number> {
    const server = await ServerContainer.create(image, "mail", { name: this.name, network, volumes: [`${this.dir}:/stage:ro`] });
    return server.setUp(this.files, seconds);
  }

  exec(script: string, timeout = 60_000): Promise<{ code: number; output: string }> {
    return dockerResult(["exec", this.name, "bash", "-c", `exec 2>&1\n${script}`], timeout);
  }

  /** Runs a protocol dialogue from inside the container. */
  async dialogue(proto: "smtp" | "imap" | "pop3", host: string, port: number, tls: "plain" | "starttls" | "tls", commands: string[]): Promise<Exchange[]> {
    const file = `commands-${this.commandFiles++}`;
    fs.writeFileSync(path.join(this.dir, file), commands.map((c) => `${c}\n`).join(""));
    const r = await this.exec(`bash /stage/dialogue.sh ${proto} ${host} ${port} ${tls} < /stage/${file}`);
    return exchanges(r.output);
  }

  logs(): Promise<string> {
    return docker(["logs", this.name]).catch((e: Error) => e.message);
  }

  async remove(): Promise<void> {
    await dockerResult(["rm", "-f", "-v", this.name]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The reply to the first exchange whose command starts with `prefix`, as one string. */
function replyTo(ex: Exchange[], prefix: string): string {
  const e = ex.find((x) => x.command?.startsWith(prefix));
  if (!e) throw new Error(`no command ${prefix} in ${JSON.stringify(ex)}`);
  return e.reply.join("\n");
}

const saslPlain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`, "utf8").toString("base64");

// Delivers to leeo over Dovecot's LMTP socket: argv subject, X-Spam value, body.
const LMTP_PY = String.raw`
import socket, sys
subject, spam, body = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX); s.connect("/var/spool/postfix/private/dovecot-lmtp"); f = s.makefile("rwb")
def say(line=None):
    if line is not None: f.write((line + "\r\n").encode()); f.flush()
    while True:
        r = f.readline().decode()
        if r[3:4] != "-": return r.strip()
out = [say(), say("LHLO checker"), say("MAIL FROM:<someone@example.org>"), say("RCPT TO:<leeo@rockylinux.me>"), say("DATA")]
f.write(("X-Spam: %s\r\nSubject: %s\r\n\r\n%s\r\n.\r\n" % (spam, subject, body.rstrip("\n").replace("\n", "\r\n"))).encode()); f.flush()
out.append(say()); say("QUIT"); print(" | ".join(out))
`;
// Moves the one message with a subject between folders over IMAPS as a
// mail client does (UID MOVE); argv user, password, subject, from, to.
const IMAP_MOVE_PY = String.raw`
import imaplib, ssl, sys
user, password, subject, source, target = sys.argv[1:6]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=ctx)
m.login(user, password)
m.select(source)
uids = m.uid("SEARCH", None, "SUBJECT", '"%s"' % subject)[1][0].split()
if len(uids) != 1: sys.exit("%d messages with subject %s in %s" % (len(uids), subject, source))
typ, data = m.uid("MOVE", uids[0], target)
print("moved 1" if typ == "OK" else "MOVE: %s %s" % (typ, data))
m.logout()
`;

// Prints the quota of the user's INBOX over IMAPS (GETQUOTAROOT); argv user, password.
const IMAP_QUOTA_PY = String.raw`
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=ctx)
m.login(sys.argv[1], sys.argv[2])
typ, data = m.getquotaroot("INBOX")
print(data[1][0].decode())
m.logout()
`;

let image: string;
// A throwaway self-signed certificate, made in the image and uploaded as the program uploads MailServer's.
let certificate: RenderedFile[];
// The database's certificate for 127.0.0.1 (where the mail flow's server
// listens), issued by the program's own script, and its CA as the mail server gets it.
let dbTls: TlsMaterial;
let dbCaFile: RenderedFile;
beforeAll(async () => {
  const issued = await run("sh", ["-c", ADDRESS_ISSUE_SCRIPT], { env: { ...process.env, HOST: "127.0.0.1", ADDRESS: "127.0.0.1", DAYS: "2" } });
  const pem = JSON.parse(issued.stdout) as { ca: string; certificate: string; key: string };
  dbTls = { certificate: pem.certificate, privateKey: pem.key, caCertificate: pem.ca };
  dbCaFile = { path: SEED_DATABASE.caFile, content: pem.ca, owner: "root", group: "root", mode: "0644" };
  const t0 = Date.now();
  image = await buildImage("mail");
  console.log(`mail image ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  const made = await runWithFiles(image, [], `${MAKE_CERT}\ncat ${TLS.keyFile}; echo "=== certificate"; cat ${TLS.certificateFile}`);
  if (made.code !== 0) throw new Error(`no certificate: ${made.output}`);
  const [key, cert] = made.output.split("=== certificate\n");
  certificate = [
    { path: TLS.certificateFile, content: cert, owner: "root", group: "root", mode: "0644" },
    { path: TLS.keyFile, content: key, owner: "root", group: "root", mode: "0600", secret: true },
  ];
}, BUILD_TIMEOUT);

describe("the daemons' own checkers on the rendered files", () => {
  const files = renderAll(settings(SEED_DB));

  test("postfix check passes without a warning; postconf shows the settings and services", async () => {
    // Postfix's commands print their messages only to a terminal: script(1) gives them one.
    const r = await runWithFiles(
      image,
      files,
      [
        MAKE_CERT,
        `script -qec "postfix check" /dev/null > /tmp/check; echo "postfix check: $?"; tr -d '\\r' < /tmp/check`,
        "echo '--- postconf -n'; postconf -n",
        "echo '--- postconf -M'; postconf -M",
        "echo '--- postconf -P'; postconf -P",
      ].join("\n"),
    );
    expect(r.code).toBe(0);
    const [check, n, M, P] = r.output.split(/^--- postconf -[nMP]$/m);
    expect(check.trim()).toBe("postfix check: 0");
    expect(r.output).not.toMatch(/^\S+: (warning|fatal|error):/im);

    const p = parameters(n);
    expect(Object.fromEntries(["compatibility_level", "myhostname", "mydestination", "mynetworks", "smtpd_sasl_auth_enable",
      "smtpd_sasl_type", "smtpd_sasl_path", "smtpd_relay_restrictions", "smtpd_tls_security_level", "virtual_transport",
      "virtual_mailbox_domains", "disable_vrfy_command", "smtpd_helo_required", "maillog_file",
      "smtpd_milters", "non_smtpd_milters", "milter_default_action"].map((k) => [k, p.get(k)]))).toEqual({
      compatibility_level: "3.6",
      myhostname: "mail.rockylinux.me",
      mydestination: "",
      mynetworks: "127.0.0.0/8",
      smtpd_sasl_auth_enable: "no",
      smtpd_sasl_type: "dovecot",
      smtpd_sasl_path: "private/auth",
      smtpd_relay_restrictions: "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
      smtpd_tls_security_level: "may",
      virtual_transport: "lmtp:unix:private/dovecot-lmtp",
      virtual_mailbox_domains: "mysql:/etc/postfix/mysql-virtual-mailbox-domains.cf",
      disable_vrfy_command: "yes",
      smtpd_helo_required: "yes",
      maillog_file: "/dev/stdout",
      smtpd_milters: "unix:/var/spool/postfix/opendkim/opendkim.sock",
      non_smtpd_milters: "$smtpd_milters",
      milter_default_action: "accept",
    });

    // Outbound DANE where the receiver's signed zone has TLSA records (dane needs DNSSEC lookups, or Postfix falls back to may with a warning).
    expect([p.get("smtp_tls_security_level"), p.get("smtp_dns_support_level")]).toEqual(["dane", "dnssec"]);
    // SMTP smuggling (postconf would warn of a parameter this Postfix does not know).
    expect([p.get("smtpd_forbid_bare_newline"), p.get("smtpd_data_restrictions")]).toEqual(["normalize", "reject_unauth_pipelining"]);
    // The TLS policy.
    expect(Object.fromEntries(["tls_preempt_cipherlist", "smtpd_tls_mandatory_protocols", "smtpd_tls_mandatory_ciphers",
      "tls_high_cipherlist", "smtpd_tls_mandatory_exclude_ciphers", "smtpd_tls_protocols", "smtpd_tls_ciphers",
      "tls_medium_cipherlist"].map((k) => [k, p.get(k)]))).toEqual({
      tls_preempt_cipherlist: "yes",
      smtpd_tls_mandatory_protocols: ">=TLSv1.2",
      smtpd_tls_mandatory_ciphers: "high",
      tls_high_cipherlist: CLIENT_TLS12_CIPHERS,
      smtpd_tls_mandatory_exclude_ciphers: "aNULL",
      smtpd_tls_protocols: ">=TLSv1",
      smtpd_tls_ciphers: "medium",
      tls_medium_cipherlist: "ECDHE+AESGCM:ECDHE+CHACHA20:HIGH:MEDIUM:+RC4:+aNULL",
    });

    const services = M.split("\n").filter((l) => /^\S/.test(l));
    const service = (name: string) => services.find((l) => new RegExp(`^${name}\\s+inet\\s`).test(l)) ?? "";
    for (const name of ["submission", "smtps"]) {
      expect(service(name)).toMatch(/^\S+\s+inet\s+n\s+-\s+n\s+-\s+-\s+smtpd /);
      expect(service(name)).toContain("-o smtpd_sasl_auth_enable=yes");
      expect(service(name)).toContain("-o smtpd_tls_security_level=encrypt");
      expect(service(name)).toContain("-o smtpd_sender_restrictions=$mua_sender_restrictions");
      expect(service(name)).toContain("-o smtpd_milters=$mua_milters");
      expect(service(name)).toContain("-o cleanup_service_name=submission-cleanup");
      expect(service(name)).toContain("-o smtpd_relay_restrictions=permit_sasl_authenticated,reject");
    }
    expect(service("submission")).toContain("-o smtpd_tls_auth_only=yes");
    expect(service("smtps")).toContain("-o smtpd_tls_wrappermode=yes");
    // Port 25: no AUTH, and only Rspamd (OpenDKIM signs only logged-in users' mail), failing closed.
    expect(service("smtp")).toMatch(/^smtp\s+inet\s+n\s+-\s+n\s+-\s+-\s+smtpd -o smtpd_milters=\$inbound_milters$/);
    expect(p.get("inbound_milters")).toBe("{ inet:127.0.0.1:11332, default_action=tempfail }");
    // Nothing chrooted (column 5).
    for (const l of services) expect(l.split(/\s+/)[4]).toBe("n");

    expect(p.get("mua_sender_restrictions")).toBe("reject_sender_login_mismatch");
    expect(p.get("mua_recipient_restrictions")).toBe("check_policy_service inet:127.0.0.1:10032, check_recipient_access mysql:/etc/postfix/mysql-quota-recipients.cf");
    expect(p.get("smtpd_recipient_restrictions")).toBe("reject_non_fqdn_recipient, check_recipient_access mysql:/etc/postfix/mysql-quota-recipients.cf");
    expect(p.get("quota_check")).toBe("check_policy_service { inet:127.0.0.1:10040, default_action=DUNNO }");
    expect(p.get("mua_milters")).toBe(
      "{ inet:127.0.0.1:10031, default_action=tempfail }, { inet:127.0.0.1:11332, default_action=accept }, unix:/var/spool/postfix/opendkim/opendkim.sock",
    );
    expect(P).toContain("submission-cleanup/unix/header_checks = $mua_header_checks");
    expect(P).toContain("submission/inet/smtpd_sasl_auth_enable = yes");
    expect(P).toContain("smtps/inet/smtpd_tls_wrappermode = yes");
  }, 120_000);

  test("doveconf -n accepts dovecot.conf and shows the passdb, userdb and TLS settings", async () => {
    // doveconf -n leaves out settings at their defaults: ask for those by name.
    const named = ["ssl", "ssl_min_protocol", "disable_plaintext_auth", "auth_debug_passwords", "auth_verbose_passwords"];
    const r = await runWithFiles(image, files, `${MAKE_CERT}\ndoveconf -n; echo "doveconf: $?"; doveconf ${named.join(" ")}`);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/^doveconf: 0$/m);
    // Diagnostics, not the settings named quota_warning and quota-warning.
    expect(r.output).not.toMatch(/^doveconf: (warning|error|fatal)|^(warning|error|fatal):/im);
    expect(r.output).toMatch(/passdb \{\n\s+args = \/etc\/dovecot\/dovecot-sql.conf.ext\n\s+driver = sql\n\s*\}/);
    expect(r.output).toMatch(/userdb \{\n\s+args = \/etc\/dovecot\/dovecot-sql.conf.ext\n\s+default_fields = uid=vmail gid=vmail home=\/var\/mail\/vhosts\/%d\/%n\n\s+driver = sql\n\s*\}/);
    for (const line of [
      "ssl_cert = </etc/ssl/mail/cert.pem",
      "ssl_key = # hidden, use -P to show it",
      "ssl = required",
      "ssl_min_protocol = TLSv1.2",
      `ssl_cipher_list = ${CLIENT_TLS12_CIPHERS}`,
      "ssl_cipher_suites = TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
      "ssl_prefer_server_ciphers = yes",
      "login_greeting = Server ready.",
      "disable_plaintext_auth = yes",
      "auth_debug_passwords = no",
      "auth_verbose_passwords = no",
      "protocols = imap pop3 lmtp sieve",
      "mail_location = maildir:/var/mail/vhosts/%d/%n",
    ]) {
      expect(r.output.split("\n")).toContain(line);
    }
  }, 120_000);

  // The database stores "$6$..." and default_pass_scheme adds the scheme;
  // doveadm pw -t needs it written out. (The stored form is checked through
  // the real passdb in the MariaDB tests below.)
  test("doveadm pw verifies a hash made by passwordHash.ts and rejects a wrong password", async () => {
    const password = `two test ' " \\ # % and two`;
    const hash = sha512Crypt(password, "TF7w672arYUk.fGC");
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const r = await runWithFiles(
      image,
      files,
      [
        `doveadm pw -t ${q(`{SHA512-CRYPT}${hash}`)} -p ${q(password)}; echo "right: $?"`,
        `doveadm pw -t ${q(`{SHA512-CRYPT}${hash}`)} -p ${q(`${password}x`)}; echo "wrong: $?"`,
        `doveadm pw -t ${q(`{SHA512-CRYPT}${sha512Crypt("pw", "salt", USER_HASH_ROUNDS)}`)} -p pw; echo "rounds: $?"`,
      ].join("\n"),
    );
    expect(r.output).toMatch(/^right: 0$/m);
    expect(r.output).toMatch(/^wrong: [1-9]\d*$/m);
    expect(r.output).toMatch(/^rounds: 0$/m);
    expect(r.output).toMatch(/\(verified\)/);
  }, 120_000);
});

describe("the image started with the rendered files (--network none)", () => {
  let mail: MailContainer;

  beforeAll(async () => {
    mail = new MailContainer("mail", [...renderAll(settings(SEED_DB)), ...certificate, dbCaFile]);
    const t = await mail.start(image, "none", 60);
    console.log(`mail container set up and healthy after ${t.toFixed(1)}s`);
  }, 120_000);
  afterAll(async () => {
    await mail?.remove();
  }, 60_000);

  test("port 25 greets and offers STARTTLS but never AUTH", async () => {
    const ex = await mail.dialogue("smtp", "127.0.0.1", 25, "plain", ["EHLO client.example", "VRFY root", "QUIT"]);
    expect(ex[0].reply).toEqual(["220 mail.rockylinux.me ESMTP"]);
    const ehlo = replyTo(ex, "EHLO");
    expect(ehlo).toMatch(/^250-STARTTLS$/m);
    expect(ehlo).not.toMatch(/AUTH/);
    expect(replyTo(ex, "VRFY")).toMatch(/^502 /);
    // Not even after STARTTLS.
    const tls = await mail.dialogue("smtp", "127.0.0.1", 25, "starttls", ["EHLO client.example", "QUIT"]);
    expect(replyTo(tls, "EHLO")).toMatch(/^250 /m);
    expect(replyTo(tls, "EHLO")).not.toMatch(/AUTH/);
  }, 60_000);

  test("port 587 offers AUTH only after STARTTLS; 465 speaks TLS at once", async () => {
    const plain = await mail.dialogue("smtp", "127.0.0.1", 587, "plain", ["EHLO client.example", "AUTH PLAIN AGEAYg==", "QUIT"]);
    expect(replyTo(plain, "EHLO")).toMatch(/^250-STARTTLS$/m);
    expect(replyTo(plain, "EHLO")).not.toMatch(/AUTH/);
    expect(replyTo(plain, "AUTH")).toMatch(/^530 5.7.0 Must issue a STARTTLS command first/);
    const tls = await mail.dialogue("smtp", "127.0.0.1", 587, "starttls", ["EHLO client.example", "QUIT"]);
    expect(replyTo(tls, "EHLO")).toMatch(/^250-AUTH PLAIN LOGIN$/m);
    const smtps = await mail.dialogue("smtp", "127.0.0.1", 465, "tls", ["EHLO client.example", "QUIT"]);
    expect(smtps[0].reply).toEqual(["220 mail.rockylinux.me ESMTP"]);
    expect(replyTo(smtps, "EHLO")).toMatch(/^250-AUTH PLAIN LOGIN$/m);
  }, 60_000);

  // Dovecot counts a connection from its own address as secure, so these
  // connect to 127.0.0.2 (also on lo) from 127.0.0.1, as a remote client would.
  test("IMAP 143 advertises STARTTLS and LOGINDISABLED and refuses LOGIN before TLS; 993 speaks TLS", async () => {
    const ex = await mail.dialogue("imap", "127.0.0.2", 143, "plain", ["a CAPABILITY", "b LOGIN frank@rockylinux.me secret", "c LOGOUT"]);
    const caps = replyTo(ex, "a CAPABILITY");
    expect(caps).toMatch(/^\* CAPABILITY .*\bSTARTTLS\b/m);
    expect(caps).toMatch(/^\* CAPABILITY .*\bLOGINDISABLED\b/m);
    expect(caps).not.toMatch(/AUTH=PLAIN/);
    expect(replyTo(ex, "b LOGIN")).toMatch(/^b NO \[PRIVACYREQUIRED\]/m);
    const tls = await mail.dialogue("imap", "127.0.0.2", 143, "starttls", ["a CAPABILITY", "b LOGOUT"]);
    expect(replyTo(tls, "a CAPABILITY")).toMatch(/AUTH=PLAIN/);
    expect(replyTo(tls, "a CAPABILITY")).not.toMatch(/LOGINDISABLED/);
    const imaps = await mail.dialogue("imap", "127.0.0.2", 993, "tls", ["a LOGOUT"]);
    expect(imaps[0].reply[0]).toMatch(/^\* OK /);
  }, 60_000);

  test("ManageSieve 4190 offers STARTTLS and no login mechanism before TLS, PLAIN after it, and refuses AUTHENTICATE before TLS", async () => {
    // The greeting is the capability list, ending with OK.
    const plain = await mail.exec(
      String.raw`exec 3<>/dev/tcp/127.0.0.2/4190; timeout 5 sed -u '/^OK/q' <&3; printf 'AUTHENTICATE "PLAIN" "AGZyYW5rQHJvY2t5bGludXgubWUAc2VjcmV0"\r\n' >&3; timeout 5 head -n1 <&3`,
    );
    expect(plain.output).toMatch(/^"STARTTLS"\r?$/m);
    expect(plain.output).toMatch(/^"SASL" ""\r?$/m);
    expect(plain.output.trim().split("\n").pop()).toMatch(/^NO /);
    const tls = await mail.exec(String.raw`(sleep 2; printf 'LOGOUT\r\n') | timeout 10 openssl s_client -quiet -starttls sieve -connect 127.0.0.2:4190 2>/dev/null`);
    expect(tls.output).toMatch(/^"SASL" "PLAIN LOGIN"\r?$/m);
  }, 60_000);

  test("POP3 110 advertises STLS and refuses USER before TLS; 995 speaks TLS", async () => {
    const ex = await mail.dialogue("pop3", "127.0.0.2", 110, "plain", ["CAPA", "USER frank@rockylinux.me", "QUIT"]);
    expect(ex[0].reply[0]).toMatch(/^\+OK /);
    expect(replyTo(ex, "CAPA")).toMatch(/^STLS$/m);
    expect(replyTo(ex, "USER")).toMatch(/^-ERR \[AUTH\] Plaintext authentication disallowed/);
    const pop3s = await mail.dialogue("pop3", "127.0.0.2", 995, "tls", ["QUIT"]);
    expect(pop3s[0].reply[0]).toMatch(/^\+OK /);
  }, 60_000);

  test("the TLS services refuse TLS 1.1", async () => {
    // @SECLEVEL=0: OpenSSL 3's client offers TLS 1.1 only then.
    const r = await mail.exec("echo | openssl s_client -connect 127.0.0.1:993 -tls1_1 -cipher DEFAULT@SECLEVEL=0 >/dev/null 2>&1; echo \"tls1.1: $?\"; echo | openssl s_client -connect 127.0.0.1:993 -tls1_2 >/dev/null 2>&1; echo \"tls1.2: $?\"");
    expect(r.output).toMatch(/^tls1.1: [1-9]/m);
    expect(r.output).toMatch(/^tls1.2: 0$/m);
  }, 60_000);

  test("both daemons log to the container's output, without warnings", async () => {
    const logs = await mail.logs();
    expect(logs).toMatch(/postfix\/master\[\d+\]: daemon started/);
    expect(logs).toMatch(/master: Info: Dovecot v2\.3\.\d+.* starting up for imap, pop3, lmtp/);
    expect(logs).not.toMatch(/postfix\/[\w/-]+\[\d+\]: (warning|fatal|panic):/);
    // The only error expected here: the database is unreachable in --network none.
    const errors = logs.split("\n").filter((l) => /\b(Error|Fatal|Panic|Warning):/.test(l) && !/mysql\(192\.168\.100\.5\): Connect failed/.test(l));
    expect(errors).toEqual([]);
  }, 60_000);

  // After the log test: Postfix logs each refused handshake as a warning (TLS library problem).
  test("TLS policy: the client ports take TLS 1.2+ with ECDHE and AEAD only, in the server's order; 25 takes any TLS", async () => {
    // openssl s_client with security level 0, so that it really offers TLS 1.0/1.1 and anonymous ciphers.
    const ports: [number, string][] = [
      [25, "-starttls smtp"], [587, "-starttls smtp"], [465, ""], [143, "-starttls imap"], [993, ""], [110, "-starttls pop3"], [995, ""],
    ];
    const probes: [string, string][] = [
      ["tls1", "-tls1 -cipher DEFAULT@SECLEVEL=0"],
      ["tls1_1", "-tls1_1 -cipher DEFAULT@SECLEVEL=0"],
      ["anonymous", "-tls1_2 -cipher aNULL@SECLEVEL=0"],
      ["cbc", "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA@SECLEVEL=0"],
      // The client prefers a CBC cipher, then an anonymous one: the server's order decides.
      ["order", "-tls1_2 -cipher ECDHE-ECDSA-AES256-SHA:ADH-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256@SECLEVEL=0"],
    ];
    const script = ports
      .flatMap(([port, start]) =>
        probes.map(
          ([name, args]) =>
            `c=$(echo Q | timeout 10 openssl s_client -connect 127.0.0.2:${port} ${start} ${args} 2>/dev/null | sed -n 's/^ *Cipher *: *//p' | head -1); ` +
            `echo "${port} ${name}: \${c:-refused}"`,
        ),
      )
      .join("\n");
    const lines = (await mail.exec(script, 120_000)).output.trim().split("\n");
    const expected = ports.flatMap(([port]) =>
      port === 25
        ? [`25 tls1: ECDHE-ECDSA-AES256-SHA`, `25 tls1_1: ECDHE-ECDSA-AES256-SHA`, "25 anonymous: ADH-AES256-GCM-SHA384",
          "25 cbc: ECDHE-ECDSA-AES128-SHA", "25 order: ECDHE-ECDSA-AES128-GCM-SHA256"]
        : [`${port} tls1: refused`, `${port} tls1_1: refused`, `${port} anonymous: refused`, `${port} cbc: refused`,
          `${port} order: ECDHE-ECDSA-AES128-GCM-SHA256`],
    );
    // openssl prints "Cipher    : 0000" when the handshake failed.
    expect(lines.map((l) => l.replace(/: 0000$/, ": refused"))).toEqual(expected);
  }, 180_000);

  test("IMAP and POP3 greet without naming the product", async () => {
    const imap = await mail.dialogue("imap", "127.0.0.2", 143, "plain", ["a LOGOUT"]);
    expect(imap[0].reply[0]).toMatch(/^\* OK \[CAPABILITY [^\]]*\] Server ready\.$/);
    const pop3 = await mail.dialogue("pop3", "127.0.0.2", 110, "plain", ["QUIT"]);
    expect(pop3[0].reply).toEqual(["+OK Server ready."]);
  }, 60_000);

  // Confined to the mail role's capabilities, the supervisor still reloads
  // and restarts each daemon as the program's reload steps do.
  test("each daemon reloads (Postfix, Dovecot) or restarts (OpenDKIM) and the server stays healthy", async () => {
    const ctl = (action: string, unit: string) => `${SUPERVISOR_PATH} ctl ${action} ${unit} && echo "${unit} ${action}: ok"`;
    const pid = "cat /run/dovecot/master.pid /var/spool/postfix/pid/master.pid | tr -d ' ' | tr '\\n' ' '";
    const before = (await mail.exec(pid)).output;
    expect(before).toMatch(/^\d+ \d+ $/);
    const r = await mail.exec([ctl("reload", "dovecot"), ctl("reload", "postfix"), ctl("restart", "opendkim"), "sleep 2", ctl("running", "opendkim"), healthcheckPath("mail") + " && echo healthy"].join("\n"));
    expect(r.output.split("\n").filter((l) => /: ok$|^healthy$/.test(l))).toEqual([
      "dovecot reload: ok", "postfix reload: ok", "opendkim restart: ok", "opendkim running: ok", "healthy",
    ]);
    // A reload keeps the masters.
    expect((await mail.exec(pid)).output).toBe(before);
  }, 60_000);

  test("docker stop ends both daemons cleanly (exit 0)", async () => {
    await docker(["stop", "-t", "20", mail.name], 60_000);
    expect((await docker(["inspect", "-f", "{{.State.ExitCode}}", mail.name])).trim()).toBe("0");
  }, 60_000);
});

describe("a whole mail flow against a real MariaDB (the db role's server)", () => {
  const mailDb = { host: "127.0.0.1", port: 3306, name: "mailserver", user: "mailro", password: DB_PASSWORD, caFile: SEED_DATABASE.caFile };
  const db = { name: `mail-system-check-maildb-${process.pid}-${Date.now()}`, dir: "" };
  let mail: MailContainer;
  const frank = { email: "frank@rockylinux.me", password: `frank's "pass" \\ # % word` };
  const leeo = { email: "leeo@rockylinux.me", password: "twotestandtwo" };
  const sean = { email: "sean@rockylinux.me", password: "' OR 1=1 --" };
  // With the rounds the program uses, so Dovecot's passdb checks what it will see.
  const hash = (password: string, salt: string) => sha512Crypt(password, salt, USER_HASH_ROUNDS);

  /** Runs SQL through the database server's own client (as the program does), returning its output. */
  const mariadb = async (statements: string, database = "mailserver"): Promise<string> => {
    const file = `sql-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    fs.writeFileSync(path.join(db.dir, file), statements);
    const r = await dockerResult(["exec", db.name, "sh", "-c", `mariadb --batch --skip-column-names ${database} < /stage/${file}`]);
    if (r.code !== 0) throw new Error(`mariadb failed (${r.code}): ${r.output}`);
    return r.output;
  };
  const dump = () =>
    mariadb(
      "SELECT * FROM virtual_domains ORDER BY id; SELECT * FROM virtual_users ORDER BY id; SELECT * FROM virtual_aliases ORDER BY id;",
    );

  const dataSql = () =>
    [
      sql.upsertDomainSql("rockylinux.me"),
      sql.upsertDomainSql("mail.rockylinux.me"),
      sql.upsertUserSql(frank.email, hash(frank.password, "saltfrank")),
      sql.upsertUserSql(leeo.email, hash(leeo.password, "saltleeo")),
      sql.upsertUserSql(sean.email, hash(sean.password, "saltsean")),
      sql.upsertAliasSql("all@rockylinux.me", frank.email),
      sql.upsertAliasSql("all@rockylinux.me", leeo.email),
      sql.upsertAliasSql("info@rockylinux.me", frank.email),
      sql.upsertAliasSql("o'brien@rockylinux.me", frank.email),
      sql.upsertAliasSql("team@rockylinux.me", frank.email, true),
      sql.upsertAliasDomainSql("mirror.rockylinux.me", "rockylinux.me"),
    ].join("");

  beforeAll(async () => {
    const dbImage = await buildImage("db");
    db.dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-check-db-"));
    fs.chmodSync(db.dir, 0o755);
    // Set up as the program does, listening on loopback; healthy within 60 s, or the error has the log.
    const dbServer = await ServerContainer.create(dbImage, "db", { name: db.name, network: "none", volumes: [`${db.dir}:/stage:ro`] });
    await dbServer.setUp(renderDbServerFiles("debian", "127.0.0.1", dbTls), 60);
    // A SELECT-only account with the awkward password, created through sqlString, TLS only.
    await mariadb(
      [
        "CREATE DATABASE mailserver CHARACTER SET utf8mb4;",
        ...["localhost", "%"].map((h) => `CREATE USER 'mailro'@'${h}' IDENTIFIED BY ${sql.sqlString(DB_PASSWORD)} REQUIRE SSL;`),
        ...["localhost", "%"].map((h) => `GRANT SELECT ON mailserver.* TO 'mailro'@'${h}';`),
      ].join("\n"),
      "",
    );
    // The schema twice: it must be idempotent.
    await mariadb(sql.MAIL_SCHEMA_SQL);
    await mariadb(sql.MAIL_SCHEMA_SQL);
    await mariadb(dataSql());

    // The mail server shares the database's network namespace: it reaches it on 127.0.0.1.
    mail = new MailContainer("mailflow", [
      ...renderAll(settings(mailDb)),
      ...certificate,
      dbCaFile,
    ]);
    await mail.start(image, `container:${db.name}`, 60);
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    await mail?.remove();
    await dockerResult(["rm", "-f", "-v", db.name]);
    if (db.dir) fs.rmSync(db.dir, { recursive: true, force: true });
  }, 60_000);

  /** Delivers a message to leeo straight to Dovecot's LMTP socket, as Postfix does; the dialogue's replies joined by " | ". */
  const lmtpDeliver = async (subject: string, spam: string, body: string): Promise<string> => {
    fs.writeFileSync(path.join(mail.dir, "lmtp.py"), LMTP_PY);
    return (await mail.exec(`python3 /stage/lmtp.py '${subject}' '${spam}' '${body.replace(/'/g, "")}'`)).output.trim();
  };

  test("sqlString round-trips awkward strings through the real server", async () => {
    const values = ["' OR 1=1 --", "back\\slash\\", `"dq" 'sq'`, "nl\ncr\rnul\0sub\x1a", "päss ✓ 😀", "%_"];
    const out = await mariadb(`SET NAMES utf8mb4;\n${values.map((v) => `SELECT HEX(${sql.sqlString(v)});`).join("\n")}`);
    expect(out.trim().split("\n")).toEqual(values.map((v) => Buffer.from(v, "utf8").toString("hex").toUpperCase()));
  }, 60_000);

  test("re-running the schema and every upsert changes nothing", async () => {
    const before = await dump();
    await mariadb(sql.MAIL_SCHEMA_SQL + dataSql());
    expect(await dump()).toBe(before);
  }, 60_000);

  test("a database made before quotas and send-as gets their columns from the upgrade, keeping its rows; running it again changes nothing", async () => {
    const old = sql.MAIL_SCHEMA_SQL.replace("  quota_bytes BIGINT NULL,\n", "").replace("  send_as TINYINT(1) NOT NULL DEFAULT 0,\n", "");
    expect(old).not.toMatch(/quota_bytes|send_as/);
    await mariadb("DROP DATABASE IF EXISTS upgrade_check; CREATE DATABASE upgrade_check CHARACTER SET utf8mb4;", "");
    await mariadb(`${old}${sql.upsertDomainSql("rockylinux.me")}INSERT INTO virtual_users (email, password, domain_id) VALUES ('old@rockylinux.me', 'x', 1);` +
      "INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (1, 'old-alias@rockylinux.me', 'old@rockylinux.me');", "upgrade_check");
    const columns = () => mariadb("SELECT column_name FROM information_schema.columns WHERE table_schema = 'upgrade_check' AND table_name = 'virtual_users' ORDER BY ordinal_position;", "");
    await mariadb(sql.MAIL_SCHEMA_SQL + sql.MAIL_SCHEMA_UPGRADE_SQL, "upgrade_check");
    const after = await columns();
    expect(after.trim().split("\n")).toEqual(["id", "email", "password", "domain_id", "quota_bytes"]);
    await mariadb(sql.MAIL_SCHEMA_SQL + sql.MAIL_SCHEMA_UPGRADE_SQL, "upgrade_check");
    expect(await columns()).toBe(after);
    expect((await mariadb("SELECT email, quota_bytes FROM virtual_users;", "upgrade_check")).trim()).toBe("old@rockylinux.me\tNULL");
    expect((await mariadb("SELECT source, send_as FROM virtual_aliases;", "upgrade_check")).trim()).toBe("old-alias@rockylinux.me\t0");
    await mariadb("DROP DATABASE upgrade_check;", "");
  }, 60_000);

  test("an upsert changes only its own row; deletes remove only theirs; deleting a domain cascades", async () => {
    const rows = async () => (await mariadb("SELECT id, email, password FROM virtual_users ORDER BY id;")).trim().split("\n");
    const before = await rows();
    await mariadb(sql.upsertUserSql(leeo.email, hash("changed", "newsalt")));
    const after = await rows();
    expect(after.filter((r, i) => r !== before[i]).map((r) => r.split("\t")[1])).toEqual([leeo.email]);
    expect(after.map((r) => r.split("\t")[0])).toEqual(before.map((r) => r.split("\t")[0])); // same ids
    await mariadb(sql.upsertUserSql(leeo.email, hash(leeo.password, "saltleeo")));
    expect(await rows()).toEqual(before);

    await mariadb(sql.upsertDomainSql("gone.example") + sql.upsertUserSql("x@gone.example", hash("x", "x")) + sql.upsertAliasSql("a@gone.example", "x@gone.example"));
    await mariadb(sql.upsertAliasSql("info@rockylinux.me", leeo.email) + sql.deleteAliasSql("info@rockylinux.me", leeo.email));
    expect(await mariadb("SELECT destination FROM virtual_aliases WHERE source = 'info@rockylinux.me';")).toBe(`${frank.email}\n`);
    await mariadb(sql.deleteDomainSql("gone.example"));
    expect(await mariadb("SELECT COUNT(*) FROM virtual_users WHERE email LIKE '%@gone.example'; SELECT COUNT(*) FROM virtual_aliases WHERE source LIKE '%@gone.example';")).toBe("0\n0\n");
    await mariadb(sql.upsertUserSql("y@example.com", hash("y", "y"))).then(
      () => { throw new Error("a user of an unknown domain was inserted"); },
      (e: Error) => expect(e.message).toMatch(/domain_id.*cannot be null/i),
    );
    await mariadb(sql.upsertUserSql("tmp@rockylinux.me", hash("t", "t")) + sql.deleteUserSql("tmp@rockylinux.me"));
    expect(await rows()).toEqual(before);
  }, 60_000);

  test("Postfix's lookups answer through the SELECT-only account with the awkward password", async () => {
    const q = (key: string, map: string) => `v=$(postmap -q ${JSON.stringify(key)} mysql:/etc/postfix/mysql-${map}.cf); echo "$v [$?]"`;
    const lookups: [string, string, string][] = [
      ["rockylinux.me", "virtual-mailbox-domains", "1 [0]"],
      ["example.org", "virtual-mailbox-domains", " [1]"],
      [frank.email, "virtual-mailbox-maps", "1 [0]"],
      ["all@rockylinux.me", "virtual-alias-maps", `${frank.email},${leeo.email} [0]`],
      [leeo.email, "virtual-email2email", `${leeo.email} [0]`],
      ["o'brien@rockylinux.me", "virtual-alias-maps", `${frank.email} [0]`],
      // A login sends as itself, as an alias whose row says so, and as its address at an alias domain...
      [frank.email, "sender-login-maps", `${frank.email} [0]`],
      ["team@rockylinux.me", "sender-login-maps", `${frank.email} [0]`],
      ["Frank@Mirror.RockyLinux.me", "sender-login-maps", `${frank.email} [0]`],
      // ...not as an alias that does not say so.
      ["all@rockylinux.me", "sender-login-maps", " [1]"],
      ["O'Brien@RockyLinux.me", "sender-login-maps", " [1]"],
      ["nobody@mirror.rockylinux.me", "sender-login-maps", " [1]"],
      // An alias domain: its addresses are the target's, if someone there receives them (quotes escaped).
      ["mirror.rockylinux.me", "virtual-alias-domains", "1 [0]"],
      ["rockylinux.me", "virtual-alias-domains", " [1]"],
      ["leeo@mirror.rockylinux.me", "virtual-alias-domain-maps", `${leeo.email} [0]`],
      ["all@mirror.rockylinux.me", "virtual-alias-domain-maps", "all@rockylinux.me [0]"],
      ["o'brien@mirror.rockylinux.me", "virtual-alias-domain-maps", "o'brien@rockylinux.me [0]"],
      ["nobody@mirror.rockylinux.me", "virtual-alias-domain-maps", " [1]"],
      ["x' OR '1'='1@mirror.rockylinux.me", "virtual-alias-domain-maps", " [1]"],
      ["@mirror.rockylinux.me", "virtual-alias-domain-maps", " [1]"],
      [leeo.email, "virtual-alias-domain-maps", " [1]"],
    ];
    const r = await mail.exec(lookups.map(([key, map]) => q(key, map)).join("\n"));
    expect(r.output.trim().split("\n")).toEqual(lookups.map(([, , want]) => want));
    // A catch-all at the target takes the alias domain's other addresses too.
    await mariadb(sql.upsertAliasSql("@rockylinux.me", leeo.email));
    const caught = await mail.exec(q("nobody@mirror.rockylinux.me", "virtual-alias-domain-maps"));
    await mariadb(sql.deleteAliasSql("@rockylinux.me", leeo.email));
    expect(caught.output.trim()).toBe("nobody@rockylinux.me [0]");
  }, 60_000);

  test("submission's header checks drop the Received header of a logged-in client, and only that one", async () => {
    const q = (header: string) => `v=$(postmap -q ${JSON.stringify(header)} regexp:/etc/postfix/submission-header-checks); echo "$v [$?]"`;
    const r = await mail.exec([
      q("Received: from [192.0.2.7] (unknown [192.0.2.7])\n\tby mail.rockylinux.me (Postfix) with ESMTPSA id 4B1C2; Sat, 5 Dec 2026 07:00:00 +0000"),
      q("Received: from client (client [192.0.2.7]) by mail.rockylinux.me (Postfix) with UTF8SMTPSA id X;"),
      q("Received: from mx.example.org (mx.example.org [198.51.100.1]) by mail.rockylinux.me (Postfix) with ESMTPS id 4B1C2;"),
      q("Subject: with ESMTPSA"),
    ].join("\n"));
    expect(r.output.trim().split("\n")).toEqual(["IGNORE [0]", "IGNORE [0]", " [1]", " [1]"]);
  }, 60_000);

  test("the database is reached over TLS 1.2+ only, its certificate verified with the CA file", async () => {
    const r = await mail.exec(databaseTlsProbe("rockylinux.me", TLS.certificateFile));
    expectDatabaseTls(r.output, /'mailro'@'(localhost|127\.0\.0\.1)'/);
  }, 60_000);

  test("Dovecot authenticates against the stored hashes (and refuses wrong passwords)", async () => {
    const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    // Successes first: after a failure Dovecot delays the next attempts (auth penalty).
    const r = await mail.exec([
      `doveadm auth test ${sh(frank.email)} ${sh(frank.password)}; echo "frank: $?"`,
      `doveadm auth test ${sh("Frank@RockyLinux.me")} ${sh(frank.password)}; echo "frank in capitals: $?"`,
      `doveadm auth test ${sh(sean.email)} ${sh(sean.password)}; echo "sean: $?"`,
      `doveadm auth test ${sh(leeo.email)} ${sh(frank.password)}; echo "wrong: $?"`,
      `doveadm auth test ${sh("x' OR '1'='1")} ${sh(sean.password)}; echo "injected user: $?"`,
    ].join("\n"));
    expect(r.output).toMatch(/^frank: 0$/m);
    expect(r.output).toMatch(/^frank in capitals: 0$/m);
    expect(r.output).toMatch(/^sean: 0$/m);
    expect(r.output).toMatch(/^injected user: 77$/m);
    expect(r.output).toMatch(/^wrong: 77$/m);
  }, 60_000);

  test("mail from outside on 25 reaches every destination of an alias; no relaying", async () => {
    // XCLIENT makes this loopback session count as a remote client (a
    // documentation address; nothing is sent there). Only this test's
    // container is given the right to use it.
    const allow = await mail.exec("postconf -e smtpd_authorized_xclient_hosts=127.0.0.1 && postfix reload && sleep 1");
    expect(allow.code).toBe(0);
    const ex = await mail.dialogue("smtp", "127.0.0.1", 25, "plain", [
      "EHLO client.example",
      "XCLIENT ADDR=203.0.113.9 NAME=[UNAVAILABLE]",
      "EHLO client.example",
      "MAIL FROM:<someone@example.org>",
      "RCPT TO:<stranger@example.net>",
      "RCPT TO:<nobody@rockylinux.me>",
      "RCPT TO:<all@rockylinux.me>",
      "DATA",
      "Subject: to all",
      "",
      "hello all",
      ".",
      "QUIT",
    ]);
    await mail.exec("postconf -e smtpd_authorized_xclient_hosts= && postfix reload");
    expect(replyTo(ex, "XCLIENT")).toMatch(/^220 /);
    const rcpts = ex.filter((e) => e.command?.startsWith("RCPT")).map((e) => e.reply.join(" "));
    expect(rcpts[0]).toMatch(/^554 5.7.1 <stranger@example.net>: Relay access denied/);
    expect(rcpts[1]).toMatch(/^550 5.1.1 <nobody@rockylinux.me>: Recipient address rejected/);
    expect(rcpts[2]).toMatch(/^250 /);
    expect(replyTo(ex, "DATA")).toMatch(/^250 2.0.0 Ok: queued/m);
  }, 60_000);

  test("submission on 587: STARTTLS, AUTH, then only as oneself: envelope, null sender and From header (mail-guard)", async () => {
    const ex = await mail.dialogue("smtp", "127.0.0.1", 587, "starttls", [
      "EHLO client.example",
      `AUTH PLAIN ${saslPlain(frank.email, "wrong")}`,
      `AUTH PLAIN ${saslPlain(frank.email, frank.password)}`,
      `MAIL FROM:<${leeo.email}>`,
      `RCPT TO:<${leeo.email}>`,
      "RSET",
      // An alias frank receives is not his to send as (aliasSenders is off).
      "MAIL FROM:<all@rockylinux.me>",
      "RCPT TO:<someone@example.org>",
      "RSET",
      "MAIL FROM:<>",
      "RSET",
      // His own envelope, leeo's From header: refused after the headers.
      `MAIL FROM:<${frank.email}>`,
      `RCPT TO:<${leeo.email}>`,
      "DATA",
      `From: Leeo <${leeo.email}>`,
      "Subject: forged",
      "",
      "not from leeo",
      ".",
      `MAIL FROM:<${frank.email}>`,
      `RCPT TO:<${leeo.email}>`,
      "DATA",
      `From: Frank <${frank.email}>`,
      "Subject: from frank",
      "",
      "hello leeo",
      ".",
      "QUIT",
    ]);
    const auths = ex.filter((e) => e.command?.startsWith("AUTH")).map((e) => e.reply.join(" "));
    expect(auths[0]).toMatch(/^535 /);
    expect(auths[1]).toMatch(/^235 /);
    const rcpts = ex.filter((e) => e.command?.startsWith("RCPT")).map((e) => e.reply.join(" "));
    expect(rcpts[0]).toMatch(/^553 5.7.1 <leeo@rockylinux.me>: Sender address rejected: not owned by user frank@rockylinux.me/);
    expect(rcpts[1]).toMatch(/^553 5.7.1 <all@rockylinux.me>: Sender address rejected: not owned by user frank@rockylinux.me/);
    expect(replyTo(ex, "MAIL FROM:<>")).toMatch(/^553 5.7.1 The null sender <> is for bounces/);
    // Each DATA's reply is the 354, then the reply to the end of the data.
    const ends = ex.filter((e) => e.command === "DATA").map((e) => e.reply.slice(1).join(" "));
    expect(ends[0]).toMatch(/^550 5.7.1 The From header \(leeo@rockylinux.me\) is not your sender address \(frank@rockylinux.me\)/);
    expect(ends[1]).toMatch(/^250 2.0.0 Ok: queued/);
  }, 60_000);

  test("the messages land in vmail-owned maildirs and leeo reads both over IMAP with STARTTLS", async () => {
    // Delivery is asynchronous: wait (bounded) for leeo's two messages.
    const count = await mail.exec(
      "for i in $(seq 1 30); do n=$(ls /var/mail/vhosts/rockylinux.me/leeo/new 2>/dev/null | wc -l); [ \"$n\" -ge 2 ] && break; sleep 1; done; " +
        "echo \"leeo: $n\"; ls /var/mail/vhosts/rockylinux.me/frank/new | wc -l; stat -c '%u:%g' /var/mail/vhosts/rockylinux.me/leeo /var/mail/vhosts/rockylinux.me/leeo/new/*",
    );
    const [leeoCount, frankCount, ...owners] = count.output.trim().split("\n");
    expect(leeoCount).toBe("leeo: 2");
    expect(frankCount).toBe("1");
    expect(new Set(owners)).toEqual(new Set(["2000:2000"]));
    const ex = await mail.dialogue("imap", "127.0.0.2", 143, "starttls", [
      `a AUTHENTICATE PLAIN ${saslPlain(leeo.email, leeo.password)}`,
      "b LIST \"\" \"*\"",
      "c SELECT INBOX",
      "d FETCH 1:* (BODY[HEADER.FIELDS (SUBJECT)])",
      "e LOGOUT",
    ]);
    expect(replyTo(ex, "a AUTH")).toMatch(/^a OK /m);
    expect(replyTo(ex, "b LIST")).toMatch(/\\Sent\) "\/" Sent/);
    expect(replyTo(ex, "c SELECT")).toMatch(/^\* 2 EXISTS$/m);
    const subjects = replyTo(ex, "d FETCH");
    expect(subjects).toContain("Subject: to all");
    expect(subjects).toContain("Subject: from frank");
  }, 90_000);

  test("Sieve: mail marked \"X-Spam: Yes\" is filed into Junk on delivery, other mail into the inbox (the shared scripts compiled)", async () => {
    const deliver = (subject: string, spam: string) => lmtpDeliver(subject, spam, "body");
    expect(await deliver("marked spam", "Yes")).toMatch(/\| 250 2\.0\.0 <leeo@rockylinux\.me> .* Saved$/);
    expect(await deliver("marked ham", "No")).toMatch(/\| 250 2\.0\.0 <leeo@rockylinux\.me> .* Saved$/);
    const where = await mail.exec(
      "cd /var/mail/vhosts/rockylinux.me/leeo && grep -l 'Subject: marked' .Junk/new/* new/* cur/* 2>/dev/null | sed 's,/.*,,' | sort; ls /etc/dovecot/sieve",
    );
    expect(where.output.trim().split("\n")).toEqual([".Junk", "new", "junk.sieve", "junk.svbin", "learn-ham.sieve", "learn-ham.svbin", "learn-spam.sieve", "learn-spam.svbin"]);
    const junk = await mail.exec("grep -l 'Subject: marked spam' /var/mail/vhosts/rockylinux.me/leeo/.Junk/new/*");
    expect(junk.code).toBe(0);
  }, 60_000);

  test("learning: a message moved into Junk over IMAP is learned as spam, moved back out as ham, moved to the Trash not at all", async () => {
    // Rspamd's learn counts, read from Redis where Bayes keeps them (rspamc stat reads them on a timer).
    const learns = async () => {
      const r = await mail.exec("redis-cli -h 127.0.0.1 HMGET RS learns_spam learns_ham");
      // One line each, empty for a count not yet kept.
      const [spam, ham] = r.output.split("\n").map((n) => Number(n.trim() || 0));
      return { spam, ham };
    };
    fs.writeFileSync(path.join(mail.dir, "move.py"), IMAP_MOVE_PY);
    const move = async (subject: string, from: string, to: string) =>
      (await mail.exec(`python3 /stage/move.py '${leeo.email}' "$(cat /stage/leeo-password)" '${subject}' '${from}' '${to}'`)).output.trim();
    fs.writeFileSync(path.join(mail.dir, "leeo-password"), leeo.password);
    const body = "Dear Leeo, the quarterly figures are attached as promised; please check the totals for March and April, and tell me whether the review can move to Thursday afternoon. Best regards, Alice";
    expect(await lmtpDeliver("teach me", "No", body)).toMatch(/\| 250 2\.0\.0 /);
    const before = await learns();
    const settle = async (want: Record<string, number>) => {
      let now = await learns();
      for (let i = 0; i < 20 && JSON.stringify(now) !== JSON.stringify(want); i++) {
        await new Promise((r) => setTimeout(r, 500));
        now = await learns();
      }
      return now;
    };
    expect(await move("teach me", "INBOX", "Junk")).toBe("moved 1");
    const spam = { spam: before.spam + 1, ham: before.ham };
    const afterSpam = await settle(spam);
    if (JSON.stringify(afterSpam) !== JSON.stringify(spam)) throw new Error(`learns ${JSON.stringify(before)} -> ${JSON.stringify(afterSpam)}:\n${(await mail.logs()).split("\n").slice(-40).join("\n")}`);
    expect(await move("teach me", "Junk", "INBOX")).toBe("moved 1");
    // Relearned: Rspamd takes it out of the spam counts as it learns it as ham.
    const ham = { spam: before.spam, ham: before.ham + 1 };
    expect(await settle(ham)).toEqual(ham);
    // Into Junk, then out to the Trash: learned as spam once, never as ham.
    expect(await lmtpDeliver("bin me", "No", `${body} P.S. ignore this one.`)).toMatch(/\| 250 2\.0\.0 /);
    expect(await move("bin me", "INBOX", "Junk")).toBe("moved 1");
    const binned = { spam: ham.spam + 1, ham: ham.ham };
    expect(await settle(binned)).toEqual(binned);
    expect(await move("bin me", "Junk", "Trash")).toBe("moved 1");
    await new Promise((r) => setTimeout(r, 3000));
    expect(await learns()).toEqual(binned);
    // Too few words to learn from: the move succeeds, Rspamd's refusal is in the log, the counts stay.
    expect(await lmtpDeliver("tiny", "No", "x")).toMatch(/\| 250 2\.0\.0 /);
    expect(await move("tiny", "INBOX", "Junk")).toBe("moved 1");
    let log = "";
    for (let i = 0; i < 20 && !log.includes("rspamd-learn spam: "); i++) {
      await new Promise((r) => setTimeout(r, 500));
      log = await mail.logs();
    }
    expect(log).toMatch(/rspamd-learn spam: .*(tokens|learn)/);
    expect(await learns()).toEqual(binned);
  }, 120_000);

  test("user Sieve: a script uploaded over ManageSieve (STARTTLS, AUTHENTICATE) files matching mail into a folder it creates, after the shared junk script", async () => {
    fs.copyFileSync(path.join(__dirname, "..", "e2e", "mailclient.py"), path.join(mail.dir, "mailclient.py"));
    fs.writeFileSync(path.join(mail.dir, "leeo-password"), leeo.password);
    const script = 'require ["fileinto", "mailbox"];\nif header :contains "subject" "[news]" { fileinto :create "News"; stop; }\n';
    fs.writeFileSync(path.join(mail.dir, "user.sieve"), script);
    const up = await mail.exec(
      `MAIL_PASSWORD="$(cat /stage/leeo-password)" python3 /stage/mailclient.py managesieve --host 127.0.0.2 --port 4190 --ca ${TLS.certificateFile} --servername mail.rockylinux.me --user '${leeo.email}' --script-name mine --body "$(cat /stage/user.sieve)"`,
    );
    expect(JSON.parse(up.output)).toEqual({ ok: true, saslBeforeTls: ['"SASL" ""'], scripts: ['"mine" ACTIVE'] });
    const delivered = await lmtpDeliver("[news] weekly", "No", "body");
    if (!/\| 250 2\.0\.0 /.test(delivered)) throw new Error(`${delivered}\n${(await mail.logs()).split("\n").filter((l) => /lmtp|sieve/i.test(l)).slice(-15).join("\n")}`);
    const where = await mail.exec("cd /var/mail/vhosts/rockylinux.me/leeo && grep -l 'Subject: \\[news\\] weekly' .News/new/* new/* cur/* 2>/dev/null; ls -la . sieve");
    expect(where.output.split("\n")[0]).toMatch(/^\.News\/new\//);
  }, 60_000);

  test("quotas: the user's own quota (one row) warns at 90 %, refuses mail at RCPT when full (552, on 25 and 587), shows in GETQUOTAROOT; NULL restores the default", async () => {
    const setQuota = (bytes: number | null) => mariadb(`UPDATE virtual_users SET quota_bytes = ${bytes === null ? "NULL" : bytes} WHERE email = 'leeo@rockylinux.me';`);
    // What leeo holds now (doveadm: STORAGE in KiB), with the default (none) in force.
    const usage = async () => {
      const r = await mail.exec("doveadm quota recalc -u leeo@rockylinux.me && doveadm -f tab quota get -u leeo@rockylinux.me");
      const row = r.output.split("\n").find((l) => /\tSTORAGE\t/.test(l));
      if (!row) throw new Error(`no quota: ${r.output}`);
      const [, , value, limit] = row.split("\t");
      return { bytes: Number(value) * 1024, limit };
    };
    const before = await usage();
    expect(before.limit).toBe("-");
    // doveadm rounds to KiB, so the usage is known to within 1 KiB. A 40 KB
    // message and a quota it fills to at most 97 %: leeo is well below 90 %
    // before it and certainly above 90 % (not full) after it, which brings the warning.
    const fill = 40_000;
    const quota = Math.ceil((before.bytes + 1024 + fill) / 0.97);
    await setQuota(quota);
    const body = `${"x".repeat(79)}\n`.repeat(fill / 80);
    expect(await lmtpDeliver("fills", "No", body)).toMatch(/\| 250 2\.0\.0 /);
    let warned = { code: 1, output: "" };
    for (let i = 0; i < 20 && warned.code !== 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      warned = await mail.exec("grep -rl '^Subject: Your mailbox is 90% full' /var/mail/vhosts/rockylinux.me/leeo/new /var/mail/vhosts/rockylinux.me/leeo/cur");
    }
    if (warned.code !== 0) {
      const log = (await mail.logs()).split("\n").filter((l) => /quota|lda|warning|leeo/i.test(l)).slice(-20).join("\n");
      throw new Error(`no quota warning (quota ${quota} bytes, usage ${before.bytes}; now ${JSON.stringify(await usage())}):\n${log}`);
    }
    // Delivered without an error on the way (lda's own lines and the stats socket once logged as errors).
    expect((await mail.logs()).split("\n").filter((l) => /quota-warning: (Error|Fatal|Warning)/.test(l))).toEqual([]);
    // Full: 1 KiB.
    await setQuota(1024);
    const rcpt = async (port: number, commands: string[]) =>
      replyTo(await mail.dialogue("smtp", "127.0.0.2", port, port === 587 ? "starttls" : "plain", ["EHLO client.example", ...commands, "RCPT TO:<leeo@rockylinux.me>", "QUIT"]), "RCPT");
    expect(await rcpt(25, ["MAIL FROM:<someone@example.org>"])).toBe("552 5.2.2 <leeo@rockylinux.me>: Recipient address rejected: Mailbox is full: the recipient's quota is used up");
    const auth = `AUTH PLAIN ${saslPlain(frank.email, frank.password)}`;
    expect(await rcpt(587, [auth, `MAIL FROM:<${frank.email}>`])).toMatch(/^552 5\.2\.2 .*Mailbox is full/);
    // IMAP's view of it (RFC 9208): used and limit in KiB.
    fs.writeFileSync(path.join(mail.dir, "quota.py"), IMAP_QUOTA_PY);
    fs.writeFileSync(path.join(mail.dir, "leeo-password"), leeo.password);
    const root = await mail.exec(`python3 /stage/quota.py '${leeo.email}' "$(cat /stage/leeo-password)"`);
    expect(root.output.trim()).toMatch(/^"User quota" \(STORAGE \d+ 1\)$/);
    // Postfix hands a recipient to quota-status only while its mailbox has a
    // quota (mysql-quota-recipients.cf, asked here as smtpd asks it).
    const quotaClass = async (key: string) => (await mail.exec(`postmap -q "$(printf %s '${Buffer.from(key).toString("base64")}' | base64 -d)" mysql:/etc/postfix/mysql-quota-recipients.cf`));
    expect(await quotaClass("leeo@rockylinux.me")).toMatchObject({ code: 0, output: "quota_check\n" });
    expect(await quotaClass("rockylinux.me")).toMatchObject({ code: 1, output: "" });
    expect(await quotaClass("o'brien\\\"; DROP TABLE virtual_users; --@rockylinux.me")).toMatchObject({ code: 1, output: "" });
    await setQuota(0);
    expect(await quotaClass("leeo@rockylinux.me")).toMatchObject({ code: 1, output: "" });
    // Back to the default (none): mail is taken again, with no reload or restart.
    await setQuota(null);
    expect(await quotaClass("leeo@rockylinux.me")).toMatchObject({ code: 1, output: "" });
    expect(await rcpt(25, ["MAIL FROM:<someone@example.org>"])).toMatch(/^250 /);
  }, 120_000);

  test("OpenDKIM signs what frank submitted after logging in, and not the mail from outside", async () => {
    // The header blocks of leeo's two messages, each with its Subject and any DKIM-Signature.
    const r = await mail.exec(
      // (IMAP has moved them from new/ to cur/.) Then OpenDKIM's process and its user.
      String.raw`for f in /var/mail/vhosts/rockylinux.me/leeo/{new,cur}/*; do echo '=== message'; sed '/^\r\?$/q' "$f"; done; ` +
        String.raw`echo '=== processes'; for d in /proc/[0-9]*; do [ "$(cat $d/comm 2>/dev/null)" = opendkim ] && echo "opendkim $(stat -c %U $d)"; done; true`,
    );
    const messages = r.output.split("=== message\n").slice(1).map((m) => m.split("=== processes")[0]);
    const bySubject = (subject: string) => messages.find((m) => m.includes(`Subject: ${subject}`)) ?? "";
    expect(bySubject("from frank")).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/simple; d=rockylinux\.me;\s+s=mail;/m);
    expect(bySubject("to all")).toContain("Subject: to all");
    expect(bySubject("to all")).not.toContain("DKIM-Signature");
    // The Received header of a submission (naming the client) is dropped; mail from outside keeps its own.
    expect(bySubject("from frank")).not.toMatch(/with E?SMTPS?A/);
    expect(bySubject("to all")).toMatch(/^Received: from .*\n?.* with ESMTP/m);
    // OpenDKIM runs as its own user under the supervisor.
    expect(r.output).toMatch(/^opendkim opendkim$/m);
    // Its socket: Postfix's user may connect; any other account may not (it would get mail signed).
    const connect = (user: string) =>
      `runuser -u ${user} -- python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect("/var/spool/postfix/opendkim/opendkim.sock"); print("connected")' 2>&1 | tail -1`;
    const who = await mail.exec(`${connect("postfix")}; ${connect("nobody")}; ${connect("vmail")}`);
    expect(who.output.trim().split("\n")).toEqual(["connected", expect.stringMatching(/PermissionError/), expect.stringMatching(/PermissionError/)]);
  }, 60_000);

  // The container has no-new-privileges: Postfix's sendmail hands mail to the
  // setgid-postdrop postdrop, whose setgid now gains nothing. Root (which
  // writes the maildrop without that group) can still use it; any other
  // user cannot (postdrop retries for ever, so the test stops it after 5 s).
  // Nothing in the container calls it: mail arrives over SMTP
  // and LMTP, Postfix makes its bounces itself, Dovecot has no LDA or Sieve.
  test("no-new-privileges: root's sendmail still delivers; another user's is refused (postdrop's setgid gains nothing)", async () => {
    const r = await mail.exec(
      [
        "grep NoNewPrivs /proc/self/status",
        "printf 'Subject: by sendmail\\n\\nhi\\n' | sendmail -f root@rockylinux.me sean@rockylinux.me; echo \"root: $?\"",
        "printf 'Subject: as nobody\\n\\nhi\\n' | timeout 5 setpriv --reuid=nobody --regid=nogroup --clear-groups sendmail sean@rockylinux.me; echo \"nobody: $?\"",
        "for i in $(seq 1 30); do grep -qs 'Subject: by sendmail' /var/mail/vhosts/rockylinux.me/sean/new/* && break; sleep 1; done",
        "grep -ls 'Subject: by sendmail' /var/mail/vhosts/rockylinux.me/sean/new/* | wc -l",
        "grep -ls 'Subject: as nobody' /var/mail/vhosts/rockylinux.me/sean/new/* | wc -l",
      ].join("\n"),
    );
    expect(r.output).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(r.output).toMatch(/^root: 0$/m);
    expect(r.output).toMatch(/^nobody: 124$/m);
    expect(r.output).toMatch(/postdrop: warning: mail_queue_enter: create file maildrop\/[^:]+: Permission denied/);
    expect(r.output.trim().split("\n").slice(-2)).toEqual(["1", "0"]);
  }, 90_000);
});
