import { CLIENT_TLS12_CIPHERS, MailServerSettings, renderPostfixFiles } from "../../components/render/postfix";
import { DEFAULT_LIMITS, MAIL_GUARD } from "../../components/render/mailGuard";
import { fileAt, SEED_DATABASE, seedMailSettings } from "../fixtures/mail";

const settings = (over: Partial<MailServerSettings> = {}, password = SEED_DATABASE.password): MailServerSettings =>
  seedMailSettings({ database: { ...SEED_DATABASE, password }, ...over });
const file = fileAt;

/** `name = value` lines of a Postfix-style file (main.cf, map files), continuation lines joined. */
function params(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split("\n")) {
    if (/^\s*(#|$)/.test(line)) continue;
    if (/^\s/.test(line) && last) {
      out.set(last, `${out.get(last)} ${line.trim()}`);
      continue;
    }
    const m = /^([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) throw new Error(`not a parameter line: ${line}`);
    expect(out.has(m[1])).toBe(false); // each parameter set once
    out.set(m[1], m[2]);
    last = m[1];
  }
  return out;
}

const MAPS = [
  "mysql-virtual-mailbox-domains.cf",
  "mysql-virtual-mailbox-maps.cf",
  "mysql-virtual-alias-maps.cf",
  "mysql-virtual-email2email.cf",
  "mysql-virtual-alias-domains.cf",
  "mysql-virtual-alias-domain-maps.cf",
  "mysql-sender-login-maps.cf",
  "mysql-quota-recipients.cf",
];

describe("renderPostfixFiles", () => {
  const files = renderPostfixFiles(settings());

  test("renders main.cf, master.cf, the submission header checks and the eight maps with their owners and modes", () => {
    expect(files.map((f) => [f.path, f.owner, f.group, f.mode, f.secret ?? false])).toEqual([
      ["/etc/postfix/main.cf", "root", "root", "0644", false],
      ["/etc/postfix/master.cf", "root", "root", "0644", false],
      ["/etc/postfix/submission-header-checks", "root", "root", "0644", false],
      ...MAPS.map((m) => [`/etc/postfix/${m}`, "root", "postfix", "0640", true]),
    ]);
    for (const f of files) {
      expect(f.content).not.toMatch(/\{\{|\}\}/);
      expect(f.content.endsWith("\n")).toBe(true);
    }
  });

  test("only the files marked secret hold the password", () => {
    for (const f of renderPostfixFiles(settings({}, "S3cret-pw!"))) expect([f.path, f.content.includes("S3cret-pw!")]).toEqual([f.path, f.secret === true]);
    for (const m of MAPS) expect(params(file(files, `/etc/postfix/${m}`).content).get("password")).toBe("mail.rockylinux.me");
  });

  test("main.cf: the seed's virtual domains, mailboxes, aliases, SASL and LMTP", () => {
    const p = params(file(files, "/etc/postfix/main.cf").content);
    expect(p.get("compatibility_level")).toBe("3.6");
    expect(p.get("myhostname")).toBe("mail.rockylinux.me");
    expect(p.get("mydomain")).toBe("rockylinux.me");
    expect(p.get("mydestination")).toBe("");
    expect(p.get("virtual_mailbox_domains")).toBe("mysql:/etc/postfix/mysql-virtual-mailbox-domains.cf");
    expect(p.get("virtual_mailbox_maps")).toBe("mysql:/etc/postfix/mysql-virtual-mailbox-maps.cf");
    expect(p.get("virtual_alias_domains")).toBe("mysql:/etc/postfix/mysql-virtual-alias-domains.cf");
    expect(p.get("virtual_alias_maps")).toBe(
      "mysql:/etc/postfix/mysql-virtual-alias-maps.cf, mysql:/etc/postfix/mysql-virtual-email2email.cf, " +
        "mysql:/etc/postfix/mysql-virtual-alias-domain-maps.cf",
    );
    expect(p.get("virtual_transport")).toBe("lmtp:unix:private/dovecot-lmtp");
    expect(p.get("smtpd_sasl_type")).toBe("dovecot");
    expect(p.get("smtpd_sasl_path")).toBe("private/auth");
    expect(p.get("message_size_limit")).toBe("10240000");
    expect(p.get("inet_interfaces")).toBe("all");
    expect(p.get("proxy_interfaces")).toBe("192.168.100.6");
    expect(p.get("maillog_file")).toBe("/dev/stdout");
  });

  test("main.cf: no open relay, no AUTH on 25, TLS with the given certificate", () => {
    const p = params(file(files, "/etc/postfix/main.cf").content);
    expect(p.get("mynetworks")).toBe("127.0.0.0/8");
    expect(p.get("smtpd_relay_restrictions")).toBe("permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination");
    expect(p.get("smtpd_sasl_auth_enable")).toBe("no");
    expect(p.get("smtpd_tls_security_level")).toBe("may");
    expect(p.get("smtpd_tls_auth_only")).toBe("yes");
    expect(p.get("smtpd_tls_cert_file")).toBe("/etc/ssl/mail/cert.pem");
    expect(p.get("smtpd_tls_key_file")).toBe("/etc/ssl/mail/key.pem");
    expect(p.get("smtpd_tls_mandatory_protocols")).toBe(">=TLSv1.2");
    expect(p.get("disable_vrfy_command")).toBe("yes");
    expect(p.get("smtpd_helo_required")).toBe("yes");
    expect(p.get("strict_rfc821_envelopes")).toBe("yes");
    // No local recipients: user@[this server's address] is refused, not accepted and bounced.
    expect(p.get("local_recipient_maps")).toBe("texthash:/dev/null");
    expect(p.get("mydestination")).toBe("");
    expect(p.get("smtpd_sender_login_maps")).toBe("mysql:/etc/postfix/mysql-sender-login-maps.cf");
  });

  test("main.cf: SMTP smuggling (CVE-2023-51764): only <CR><LF>.<CR><LF> ends the data; data sent before 354 is refused", () => {
    const p = params(file(files, "/etc/postfix/main.cf").content);
    expect(p.get("smtpd_forbid_bare_newline")).toBe("normalize");
    expect(p.get("smtpd_data_restrictions")).toBe("reject_unauth_pipelining");
    // Postfix's default exemption ($mynetworks: this host's own processes) stands.
    expect(p.has("smtpd_forbid_bare_newline_exclusions")).toBe(false);
    // No service turns either off.
    expect(file(files, "/etc/postfix/master.cf").content).not.toMatch(/smtpd_forbid_bare_newline|smtpd_data_restrictions/);
  });

  test("main.cf: 587/465 (mandatory TLS) get Mozilla's intermediate profile, ECDHE and AEAD only, no anonymous cipher", () => {
    const p = params(file(files, "/etc/postfix/main.cf").content);
    expect(p.get("tls_preempt_cipherlist")).toBe("yes");
    expect(p.get("smtpd_tls_mandatory_protocols")).toBe(">=TLSv1.2");
    expect(p.get("smtpd_tls_mandatory_ciphers")).toBe("high");
    expect(p.get("tls_high_cipherlist")).toBe(
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
    );
    expect(p.get("tls_high_cipherlist")).toBe(CLIENT_TLS12_CIPHERS);
    for (const c of CLIENT_TLS12_CIPHERS.split(":")) expect(c).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    expect(p.get("smtpd_tls_mandatory_exclude_ciphers")).toBe("aNULL");
  });

  test("main.cf: 25 stays opportunistic (every protocol and Postfix's cipher set), strongest first, anonymous last", () => {
    const p = params(file(files, "/etc/postfix/main.cf").content);
    expect(p.get("smtpd_tls_security_level")).toBe("may");
    expect(p.get("smtpd_tls_protocols")).toBe(">=TLSv1");
    expect(p.get("smtpd_tls_ciphers")).toBe("medium");
    expect(p.get("tls_medium_cipherlist")).toBe("ECDHE+AESGCM:ECDHE+CHACHA20:HIGH:MEDIUM:+RC4:+aNULL");
    expect(p.has("smtpd_tls_exclude_ciphers")).toBe(false);
  });

  test("master.cf: submission and smtps require TLS, enable AUTH and check the sender's login; nothing chrooted", () => {
    const text = file(files, "/etc/postfix/master.cf").content;
    const services = new Map<string, { fields: string[]; opts: string[] }>();
    let current: { fields: string[]; opts: string[] } | undefined;
    for (const line of text.split("\n")) {
      if (/^\s*(#|$)/.test(line)) continue;
      if (/^\s/.test(line)) {
        const m = /^\s+-o\s+(\S+)$/.exec(line);
        if (m && current) current.opts.push(m[1]);
        continue;
      }
      const fields = line.trim().split(/\s+/);
      current = { fields, opts: [] };
      services.set(`${fields[0]}/${fields[1]}`, current);
    }
    // The TLS policy is main.cf's: no service changes a protocol or cipher setting.
    for (const [name, s] of services) expect([name, s.opts.filter((o) => /^(tls_|smtpd_tls_(.*ciphers|.*protocols))/.test(o))]).toEqual([name, []]);
    for (const [name, s] of services) expect([name, s.fields[4]]).toEqual([name, "n"]);
    // Port 25 calls only the spam filter (inbound_milters), not OpenDKIM: it signs only mail from logged-in users.
    expect(services.get("smtp/inet")?.opts).toEqual(["smtpd_milters=$inbound_milters"]);
    const common = [
      "smtpd_sasl_auth_enable=yes",
      "smtpd_tls_security_level=encrypt",
      "smtpd_sender_restrictions=$mua_sender_restrictions",
      "smtpd_recipient_restrictions=$mua_recipient_restrictions",
      "smtpd_milters=$mua_milters",
      "smtpd_client_message_rate_limit=0",
      "cleanup_service_name=submission-cleanup",
      "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
      "smtpd_client_restrictions=permit_sasl_authenticated,reject",
    ];
    expect(services.get("submission/inet")?.opts).toEqual(expect.arrayContaining([...common, "smtpd_tls_auth_only=yes"]));
    expect(services.get("smtps/inet")?.opts).toEqual(expect.arrayContaining([...common, "smtpd_tls_wrappermode=yes"]));
    expect(services.get("postlog/unix-dgram")?.fields[7]).toBe("postlogd");
    // Submitted mail goes through a cleanup of its own, which drops the client's Received header.
    expect(services.get("submission-cleanup/unix")?.fields[7]).toBe("cleanup");
    expect(services.get("submission-cleanup/unix")?.opts).toEqual(["header_checks=$mua_header_checks"]);
  });

  test("maps: the database over TLS verified with its CA, and SELECT-only queries with the seed's lookups", () => {
    const q = (m: string) => params(file(files, `/etc/postfix/${m}`).content);
    for (const m of MAPS) {
      const p = q(m);
      expect([...p.keys()].sort()).toEqual(["dbname", "hosts", "password", "query", "tls_CAfile", "tls_verify_cert", "user"]);
      expect(p.get("hosts")).toBe("inet:192.168.100.5:3306");
      expect(p.get("tls_CAfile")).toBe("/etc/ssl/mail/database-ca.pem");
      expect(p.get("tls_verify_cert")).toBe("yes");
      expect(p.get("dbname")).toBe("mailserver");
      expect(p.get("user")).toBe("mailrl");
      expect(p.get("query")).toMatch(/^SELECT /);
      expect(p.get("query")).not.toMatch(/\b(INSERT|UPDATE|DELETE|DROP|ALTER|CREATE|GRANT)\b/i);
    }
    expect(q("mysql-virtual-mailbox-domains.cf").get("query")).toBe("SELECT 1 FROM virtual_domains WHERE name='%s'");
    expect(q("mysql-virtual-mailbox-maps.cf").get("query")).toBe("SELECT 1 FROM virtual_users WHERE email='%s'");
    expect(q("mysql-virtual-alias-maps.cf").get("query")).toBe("SELECT destination FROM virtual_aliases WHERE source='%s'");
    expect(q("mysql-virtual-email2email.cf").get("query")).toBe("SELECT email FROM virtual_users WHERE email='%s'");
    // A login sends as itself, as its address at an alias domain, and as the aliases whose row says so.
    expect(q("mysql-sender-login-maps.cf").get("query")).toMatch(
      /^SELECT email FROM virtual_users WHERE email='%s' UNION SELECT destination FROM virtual_aliases WHERE source='%s' AND send_as=1 UNION /,
    );
    expect(q("mysql-virtual-alias-domains.cf").get("query")).toBe("SELECT 1 FROM virtual_alias_domains WHERE name='%s'");
    expect(q("mysql-virtual-alias-domain-maps.cf").get("query")).toMatch(/^SELECT CONCAT\('%u@', t\.name\) FROM virtual_alias_domains /);
    // quota-status only for a mailbox with a quota: its own, else the server's default.
    expect(q("mysql-quota-recipients.cf").get("query")).toBe(
      "SELECT 'quota_check' FROM virtual_users WHERE email=CONCAT('%u', '@', '%d') AND COALESCE(quota_bytes, 0) > 0",
    );
    const withDefault = params(file(renderPostfixFiles(settings({ quotaBytes: 5_000_000 })), "/etc/postfix/mysql-quota-recipients.cf").content);
    expect(withDefault.get("query")).toMatch(/ AND COALESCE\(quota_bytes, 5000000\) > 0$/);
  });

  test("limits: anvil per client address on 25 (defaults, or the given ones); 587/465 count per login through mail-guard", () => {
    const p = params(file(files, "/etc/postfix/main.cf").content);
    expect(p.get("anvil_rate_time_unit")).toBe("60s");
    expect(p.get("smtpd_client_connection_rate_limit")).toBe(String(DEFAULT_LIMITS.smtpConnectionsPerMinute));
    expect(p.get("smtpd_client_message_rate_limit")).toBe(String(DEFAULT_LIMITS.smtpMessagesPerMinute));
    expect(p.get("smtpd_client_connection_count_limit")).toBe(String(DEFAULT_LIMITS.smtpConnectionsAtOnce));
    // This host's own processes stay exempt (Postfix's default, $mynetworks).
    expect(p.has("smtpd_client_event_limit_exceptions")).toBe(false);
    expect(p.get("mua_recipient_restrictions")).toBe(
      `check_policy_service inet:${MAIL_GUARD.policy}, check_recipient_access mysql:/etc/postfix/mysql-quota-recipients.cf`,
    );
    // Port 25 asks quota-status too, for mailboxes with a quota only; an outage skips the check (delivery still enforces the quota).
    expect(p.get("smtpd_recipient_restrictions")).toBe("reject_non_fqdn_recipient, check_recipient_access mysql:/etc/postfix/mysql-quota-recipients.cf");
    expect(p.get("smtpd_restriction_classes")).toBe("quota_check");
    expect(p.get("quota_check")).toBe("check_policy_service { inet:127.0.0.1:10040, default_action=DUNNO }");
    const given = { ...DEFAULT_LIMITS, smtpConnectionsPerMinute: 7, smtpMessagesPerMinute: 8, smtpConnectionsAtOnce: 9 };
    const q = params(file(renderPostfixFiles(settings({ limits: given })), "/etc/postfix/main.cf").content);
    expect([q.get("smtpd_client_connection_rate_limit"), q.get("smtpd_client_message_rate_limit"), q.get("smtpd_client_connection_count_limit")]).toEqual(["7", "8", "9"]);
    for (const bad of [0, -1, 1.5, Number.NaN, 2_000_000]) {
      expect(() => renderPostfixFiles(settings({ limits: { ...DEFAULT_LIMITS, authFailures: bad } }))).toThrow(/limits\.authFailures/);
    }
  });

  test("587/465: the sender's login checked, then mail-guard's milter (fails closed) before the other milters", () => {
    const p = params(file(renderPostfixFiles(settings({ milters: ["inet:127.0.0.1:8891"] })), "/etc/postfix/main.cf").content);
    expect(p.get("mua_sender_restrictions")).toBe("reject_sender_login_mismatch");
    expect(p.get("mua_milters")).toBe(`{ inet:${MAIL_GUARD.milter}, default_action=tempfail }, inet:127.0.0.1:8891`);
    expect(p.get("mua_header_checks")).toBe("regexp:/etc/postfix/submission-header-checks");
  });

  test("filterMilter: on 25 alone and failing closed (4xx); on 587/465 after mail-guard, before the others, failing open", () => {
    const none = params(file(renderPostfixFiles(settings({ milters: ["inet:127.0.0.1:8891"] })), "/etc/postfix/main.cf").content);
    expect(none.get("inbound_milters")).toBe("");
    const p = params(
      file(renderPostfixFiles(settings({ milters: ["inet:127.0.0.1:8891"], filterMilter: "inet:127.0.0.1:11332" })), "/etc/postfix/main.cf").content,
    );
    expect(p.get("inbound_milters")).toBe("{ inet:127.0.0.1:11332, default_action=tempfail }");
    expect(p.get("mua_milters")).toBe(
      `{ inet:${MAIL_GUARD.milter}, default_action=tempfail }, { inet:127.0.0.1:11332, default_action=accept }, inet:127.0.0.1:8891`,
    );
    // Mail this host makes (bounces) is not filtered.
    expect(p.get("smtpd_milters")).toBe("inet:127.0.0.1:8891");
    expect(p.get("non_smtpd_milters")).toBe("$smtpd_milters");
    for (const bad of ["unix:/x", "inet:a:1, inet:b:2", "$x"]) expect(() => renderPostfixFiles(settings({ filterMilter: bad }))).toThrow(/filterMilter/);
  });

  test("a password with quotes, '#', '%', '$', '=' and backslashes is written verbatim", () => {
    const password = `#a"b'c%d\\e$f=g!{{x}}\\`;
    for (const f of renderPostfixFiles(settings({}, password)).filter((x) => x.secret)) {
      expect(f.content.split("\n")).toContain(`password = ${password}`);
    }
  });

  test("milters: none by default; given, every message passes through them and mail flows if they fail", () => {
    const none = params(file(renderPostfixFiles(settings({})), "/etc/postfix/main.cf").content);
    expect(none.get("smtpd_milters")).toBe("");
    const p = params(file(renderPostfixFiles(settings({ milters: ["inet:127.0.0.1:8891"] })), "/etc/postfix/main.cf").content);
    expect(p.get("smtpd_milters")).toBe("inet:127.0.0.1:8891");
    expect(p.get("non_smtpd_milters")).toBe("$smtpd_milters");
    expect(p.get("milter_default_action")).toBe("accept");
  });

  test("deferred mail is retried after a minute, so it flows soon after LMTP or the database is back", () => {
    const p = params(file(files, "/etc/postfix/main.cf").content);
    expect(p.get("minimal_backoff_time")).toBe("60s");
    expect(p.get("queue_run_delay")).toBe("60s");
  });

  test("messageSizeLimit is honoured", () => {
    const p = params(file(renderPostfixFiles(settings({ messageSizeLimit: 52428800 })), "/etc/postfix/main.cf").content);
    expect(p.get("message_size_limit")).toBe("52428800");
  });

  test.each([
    ["a password with a space", settings({}, "two words"), /database.password contains whitespace/],
    ["a password with a newline", settings({}, "x\nquery = DROP"), /database.password contains whitespace/],
    ["a password with a tab", settings({}, "x\ty"), /database.password contains whitespace/],
    ["a password with a control character", settings({}, "x\u0001y"), /control character/],
    ["an empty password", settings({}, ""), /database.password is empty/],
    ["a hostname with a space", settings({ hostname: "mail rockylinux.me" }), /hostname "mail rockylinux.me" is not a DNS name/],
    ["a hostname with a $", settings({ hostname: "$mydomain" }), /hostname/],
    ["a domain with a newline", settings({ domain: "a.me\nrelayhost = evil" }), /domain/],
    ["a listen address that is no IPv4 address", settings({ listenAddress: "192.168.100.256" }), /listenAddress/],
    ["a database host with a colon", settings({ database: { ...SEED_DATABASE, host: "db:3306" } }), /database.host/],
    ["a port out of range", settings({ database: { ...SEED_DATABASE, host: "db", port: 70000 } }), /database.port/],
    ["a database name with a quote", settings({ database: { ...SEED_DATABASE, host: "db", name: "m'x" } }), /database.name/],
    ["a database user with a space", settings({ database: { ...SEED_DATABASE, host: "db", user: "u x" } }), /database.user/],
    ["a relative certificate path", settings({ tls: { certificateFile: "cert.pem", keyFile: "/k.pem" } }), /tls.certificateFile/],
    ["a key path with a space", settings({ tls: { certificateFile: "/c.pem", keyFile: "/my key.pem" } }), /tls.keyFile/],
    ["a key path with ..", settings({ tls: { certificateFile: "/c.pem", keyFile: "/etc/../k.pem" } }), /tls.keyFile/],
    ["a fractional size limit", settings({ messageSizeLimit: 1.5 }), /messageSizeLimit/],
    ["a zero size limit", settings({ messageSizeLimit: 0 }), /messageSizeLimit/],
    ["a relative database CA path", settings({ database: { ...SEED_DATABASE, caFile: "db-ca.pem" } }), /database.caFile "db-ca.pem" must be an absolute path/],
    ["a database CA path with a newline", settings({ database: { ...SEED_DATABASE, caFile: "/ca.pem\ntls_verify_cert = no" } }), /database.caFile/],
    ["a database CA path with a space", settings({ database: { ...SEED_DATABASE, caFile: "/ca.pem ssl_verify_server_cert=no" } }), /database.caFile/],
    ["no database CA path", settings({ database: { ...SEED_DATABASE, caFile: "" } }), /database.caFile/],
    ["a milter with a second entry", settings({ milters: ["inet:127.0.0.1:8891, inet:evil:1"] }), /milters/],
    ["a milter that is no socket", settings({ milters: ["$foo"] }), /milters/],
  ])("throws on %s", (_, s, message) => {
    expect(() => renderPostfixFiles(s)).toThrow(message);
  });
});
