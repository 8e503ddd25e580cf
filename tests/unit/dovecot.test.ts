import { createPublicKey, getDiffieHellman } from "crypto";
import { DOVECOT_DH_FILE, dhParametersPem, MailServerSettings, renderDovecotFiles } from "../../components/render/dovecot";
import { CLIENT_TLS12_CIPHERS } from "../../components/render/postfix";
import { fileAt, SEED_DATABASE, seedMailSettings } from "../fixtures/mail";

const settings = (password = SEED_DATABASE.password, over: Partial<MailServerSettings> = {}): MailServerSettings =>
  seedMailSettings({ database: { ...SEED_DATABASE, password }, ...over });
const file = fileAt;

/** Top-level `key = value` settings of a Dovecot file (outside any { } section). */
function topLevel(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let depth = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.endsWith("{")) depth++;
    else if (line === "}") depth--;
    else if (depth === 0) {
      const m = /^([a-z_]+)\s*=\s*(.*)$/.exec(line);
      if (!m) throw new Error(`not a setting: ${line}`);
      out.set(m[1], m[2]);
    }
  }
  expect(depth).toBe(0);
  return out;
}

/** The section starting with `header {` (first match), as text. */
function section(text: string, header: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === `${header} {`);
  if (start < 0) throw new Error(`no section ${header}`);
  let depth = 0;
  for (let i = start; i < lines.length; i++) {
    if (lines[i].trim().endsWith("{")) depth++;
    if (lines[i].trim() === "}") depth--;
    if (depth === 0) return lines.slice(start, i + 1).join("\n");
  }
  throw new Error(`unterminated section ${header}`);
}

/** What Dovecot 2.3 makes of the connect value: unquote and unescape, then split on spaces. */
function connectArgs(value: string): Map<string, string> {
  expect(value).toMatch(/^".*"$/);
  const unquoted = value.slice(1, -1).replace(/\\(.)/g, "$1");
  return new Map(unquoted.split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

describe("renderDovecotFiles", () => {
  const files = renderDovecotFiles(settings());
  const conf = file(files, "/etc/dovecot/dovecot.conf").content;
  const sql = file(files, "/etc/dovecot/dovecot-sql.conf.ext").content;

  test("renders dovecot.conf and dovecot-sql.conf.ext with their owners and modes", () => {
    expect(files.map((f) => [f.path, f.owner, f.group, f.mode, f.secret ?? false])).toEqual([
      ["/etc/dovecot/dovecot.conf", "root", "root", "0644", false],
      ["/etc/dovecot/dovecot-sql.conf.ext", "root", "dovecot", "0640", true],
      ["/etc/dovecot/dovecot-sql-client.cnf", "root", "root", "0644", false],
      ["/etc/dovecot/dh.pem", "root", "root", "0644", false],
      // The shared Sieve scripts and the learning program they pipe to.
      ["/etc/dovecot/sieve/junk.sieve", "root", "root", "0644", false],
      ["/etc/dovecot/sieve/learn-spam.sieve", "root", "root", "0644", false],
      ["/etc/dovecot/sieve/learn-ham.sieve", "root", "root", "0644", false],
      ["/usr/local/lib/mail-system/quota-warning", "root", "root", "0755", false],
      ["/usr/local/lib/mail-system/sieve-pipe/rspamd-learn", "root", "root", "0755", false],
    ]);
    for (const f of files) {
      expect(f.content).not.toMatch(/\{\{|\}\}/);
      expect(f.content.endsWith("\n")).toBe(true);
    }
    for (const f of renderDovecotFiles(settings("S3cret-pw!"))) expect([f.path, f.content.includes("S3cret-pw!")]).toEqual([f.path, f.secret === true]);
  });

  test("the DH parameters are RFC 3526 group 14 as PEM, named by ssl_dh, identical on every render", () => {
    const pem = dhParametersPem();
    expect(fileAt(files, DOVECOT_DH_FILE).content).toBe(pem);
    expect(fileAt(files, "/etc/dovecot/dovecot.conf").content).toMatch(new RegExp(`^ssl_dh = <${DOVECOT_DH_FILE}$`, "m"));
    // Decode the DER by hand: SEQUENCE { INTEGER p, INTEGER g }.
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    expect(der.subarray(0, 4)).toEqual(Buffer.from([0x30, 0x82, 0x01, 0x08]));
    expect(der.subarray(4, 9)).toEqual(Buffer.from([0x02, 0x82, 0x01, 0x01, 0x00]));
    expect(der.subarray(9, 9 + 256)).toEqual(getDiffieHellman("modp14").getPrime());
    expect(der.subarray(265)).toEqual(Buffer.from([0x02, 0x01, 0x02]));
    expect(dhParametersPem()).toBe(pem);
    expect(() => createPublicKey(pem)).toThrow(); // parameters, not a key: nothing secret in it
  });

  test("dovecot.conf is one complete file: no includes", () => {
    expect(conf).not.toMatch(/^\s*!include/m);
  });

  test("protocols, TLS and no plaintext login before TLS", () => {
    const p = topLevel(conf);
    expect(p.get("protocols")).toBe("imap pop3 lmtp sieve");
    expect(p.get("ssl")).toBe("required");
    expect(p.get("ssl_cert")).toBe("</etc/ssl/mail/cert.pem");
    expect(p.get("ssl_key")).toBe("</etc/ssl/mail/key.pem");
    expect(p.get("ssl_min_protocol")).toBe("TLSv1.2");
    expect(p.get("disable_plaintext_auth")).toBe("yes");
    expect(p.get("auth_mechanisms")).toBe("plain login");
    expect(p.get("mail_location")).toBe("maildir:/var/mail/vhosts/%d/%n");
    expect(p.get("log_path")).toBe("/dev/stderr");
    expect(p.get("hostname")).toBe("mail.rockylinux.me");
    expect(p.get("postmaster_address")).toBe("postmaster@rockylinux.me");
    // Passwords are never logged.
    expect(p.get("auth_debug_passwords")).toBe("no");
    expect(p.get("auth_verbose_passwords")).toBe("no");
  });

  test("TLS: Mozilla's intermediate profile (TLS 1.2+, ECDHE with AEAD, the server's order), as Postfix on 587/465", () => {
    const p = topLevel(conf);
    expect(p.get("ssl")).toBe("required");
    expect(p.get("ssl_min_protocol")).toBe("TLSv1.2");
    expect(p.get("ssl_cipher_list")).toBe(
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
    );
    expect(p.get("ssl_cipher_list")).toBe(CLIENT_TLS12_CIPHERS);
    expect(p.get("ssl_cipher_suites")).toBe("TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
    expect(p.get("ssl_prefer_server_ciphers")).toBe("yes");
    // No listener lowers it.
    expect(conf).not.toMatch(/^\s+ssl_(min_protocol|cipher_list|cipher_suites|prefer_server_ciphers)\b/m);
    expect(conf.match(/^\s*ssl = .*$/gm)?.map((l) => l.trim())).toEqual(["ssl = required", "ssl = yes", "ssl = yes"]);
  });

  test("the IMAP and POP3 greeting names no product", () => {
    const greeting = topLevel(conf).get("login_greeting");
    expect(greeting).toBe("Server ready.");
    expect(greeting).not.toMatch(/dovecot|debian|\d/i);
  });

  test("quotas: the default rule (none unless set), the user's own from their row, quota-status for Postfix on loopback, a warning at 90 %", () => {
    expect(conf).toMatch(/^\s*quota_rule = \*:bytes=0$/m);
    const withQuota = fileAt(renderDovecotFiles(seedMailSettings({ quotaBytes: 2 ** 30 })), "/etc/dovecot/dovecot.conf").content;
    expect(withQuota).toMatch(/^\s*quota_rule = \*:bytes=1073741824$/m);
    expect(() => renderDovecotFiles(seedMailSettings({ quotaBytes: -1 }))).toThrow(/quotaBytes/);
    expect(sql).toMatch(/^user_query = SELECT CONCAT\('\*:bytes=', quota_bytes\) AS quota_rule FROM virtual_users WHERE email = '%u'$/m);
    expect(section(conf, "service quota-status")).toMatch(/address = 127\.0\.0\.1\n\s*port = 10040/);
    expect(conf).toMatch(/^\s*quota_warning = storage=90%% quota-warning 90 %u$/m);
    // Maildir++ (not the index-based count, whose cost grows with the mailbox), the same root for the warning's own delivery.
    expect(conf).toMatch(/^\s*quota = maildir:User quota$/m);
    expect(fileAt(renderDovecotFiles(seedMailSettings()), "/usr/local/lib/mail-system/quota-warning").content).toContain('-o "plugin/quota=maildir:User quota:noenforcing"');
    expect(section(conf, "service quota-warning")).toMatch(/executable = script \/usr\/local\/lib\/mail-system\/quota-warning\n\s*user = vmail/);
  });

  test("the seed's SQL passdb, an SQL userdb (the quota) with the seed's static fields, and unix listeners", () => {
    expect(section(conf, "passdb")).toMatch(/driver = sql\n\s*args = \/etc\/dovecot\/dovecot-sql.conf.ext/);
    expect(section(conf, "userdb")).toMatch(/driver = sql\n\s*args = \/etc\/dovecot\/dovecot-sql.conf.ext\n\s*default_fields = uid=vmail gid=vmail home=\/var\/mail\/vhosts\/%d\/%n/);
    const lmtp = section(conf, "unix_listener /var/spool/postfix/private/dovecot-lmtp");
    expect(lmtp).toMatch(/mode = 0600\n\s*user = postfix\n\s*group = postfix/);
    const auth = section(conf, "service auth");
    expect(section(auth, "unix_listener auth-userdb")).toMatch(/mode = 0600\n\s*user = vmail\n\s*group = vmail/);
    expect(section(auth, "unix_listener /var/spool/postfix/private/auth")).toMatch(/mode = 0660\n\s*user = postfix\n\s*group = postfix/);
    expect(auth).toMatch(/^\s*user = dovecot$/m);
    expect(section(conf, "service auth-worker")).toMatch(/user = vmail/);
    expect(section(conf, "inet_listener imaps")).toMatch(/port = 993\n\s*ssl = yes/);
    expect(section(conf, "inet_listener pop3s")).toMatch(/port = 995\n\s*ssl = yes/);
  });

  test("dovecot-sql.conf.ext: mysql over TLS verified with the database's CA, SHA512-CRYPT, the query by %u", () => {
    const p = topLevel(sql);
    expect(p.get("driver")).toBe("mysql");
    expect(p.get("default_pass_scheme")).toBe("SHA512-CRYPT");
    expect(p.get("password_query")).toBe("SELECT password FROM virtual_users WHERE email = '%u'");
    expect(Object.fromEntries(connectArgs(p.get("connect") ?? ""))).toEqual({
      option_file: "/etc/dovecot/dovecot-sql-client.cnf",
      host: "192.168.100.5",
      port: "3306",
      dbname: "mailserver",
      user: "mailrl",
      password: "mail.rockylinux.me",
      ssl_ca: "/etc/ssl/mail/database-ca.pem",
      ssl_verify_server_cert: "yes",
    });
  });

  test("dovecot-sql-client.cnf: every (re)connect over TLS, verifying the server with the database's CA", () => {
    // Dovecot 2.3 sets ssl_ca on a connection once; the client library reads this file at every connect.
    const cnf = file(files, "/etc/dovecot/dovecot-sql-client.cnf").content;
    const options = cnf.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(options).toEqual(["[client]", "ssl-ca = /etc/ssl/mail/database-ca.pem", "ssl-verify-server-cert"]);
  });

  test("throws on a database CA path Dovecot would split or that is not absolute", () => {
    for (const caFile of ["/ca.pem ssl_verify_server_cert=no", "ca.pem", "/a/../ca.pem", ""]) {
      expect(() => renderDovecotFiles(settings("pw", { database: { ...SEED_DATABASE, caFile } }))).toThrow(/database.caFile/);
    }
  });

  test.each([`"quoted"`, `it's`, `#hash`, `100%`, `back\\slash\\`, `$HOME`, `a=b`, `{{x}}`, `#a"b'c%d\\e$f=g!\\`])(
    "the password %s survives Dovecot's quoting",
    (password) => {
      const connect = topLevel(renderDovecotFiles(settings(password))[1].content).get("connect") ?? "";
      expect(connectArgs(connect).get("password")).toBe(password);
      // No unescaped quote ends the value early.
      expect(connect.slice(1, -1).replace(/\\./g, "")).not.toContain('"');
    },
  );

  test.each([
    ["a space", "two words"],
    ["a newline", "a\nb"],
    ["a tab", "a\tb"],
  ])("throws on a password with %s (Dovecot splits connect on spaces)", (_, password) => {
    expect(() => renderDovecotFiles(settings(password))).toThrow(/database.password contains whitespace/);
  });

  test("throws on a hostname with spaces", () => {
    expect(() => renderDovecotFiles(settings("pw", { hostname: "mail host" }))).toThrow(/hostname/);
  });
});
