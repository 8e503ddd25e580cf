// Postfix's configuration as a pure function of plain settings: main.cf,
// master.cf and the five MySQL lookup tables. Templates live in
// files/mail/templates; values are validated here so that nothing a caller
// passes can change the meaning of a file (no injected line, no stray `$`).
import { renderTemplate } from "./template";
import { DatabaseClient, RenderedFile } from "./types";
import { isDnsName, isIPv4, isPort } from "./checks";
import { DEFAULT_LIMITS, limitProblems, MAIL_GUARD, MAIL_GUARD_MILTER, MailLimits } from "./mailGuard";

/** What the mail server's Postfix and Dovecot configurations are made of. */
export interface MailServerSettings {
  /** myhostname, e.g. "mail.rockylinux.me". */
  hostname: string;
  /** mydomain, e.g. "rockylinux.me". */
  domain: string;
  /**
   * The server's own IPv4 address, e.g. "192.168.100.6": Postfix treats mail
   * to it as local (proxy_interfaces). Both daemons listen on every interface
   * of the server, so a server without this address still starts.
   */
  listenAddress: string;
  /** The database, reached over TLS and verified with database.caFile. */
  database: DatabaseClient;
  /** Paths of the PEM files on the server (the program writes them there). */
  tls: { certificateFile: string; keyFile: string };
  /** Bytes, default 10240000 (the seed's value). */
  messageSizeLimit?: number;
  /**
   * Milters every message passes through (smtpd_milters and
   * non_smtpd_milters), e.g. ["inet:127.0.0.1:8891"] for OpenDKIM. Default none.
   */
  milters?: string[];
  /**
   * The spam filter's milter (Rspamd, inet:HOST:PORT), or none. Mail from
   * other servers (25) passes through it and is deferred (4xx) when it does
   * not answer, never let in unfiltered; mail from logged-in users (587/465)
   * passes through it after mail-guard and before `milters`, and flows when
   * it does not answer (users are not blocked by a filter outage).
   */
  filterMilter?: string;
  /**
   * Where the daemons log: "stdout" (a container: Postfix's postlogd to
   * stdout, Dovecot to stderr; the container's log) or "syslog" (a host: the
   * journal or /var/log/mail.log). Default "stdout".
   */
  logTo?: "stdout" | "syslog";
  /** Abuse limits (anvil on 25, mail-guard on 587/465 and for logins). Default DEFAULT_LIMITS. */
  limits?: MailLimits;
  /** Storage quota of a mailbox without one of its own, in bytes. Default 0: none. */
  quotaBytes?: number;
}

/** Dovecot's quota-status service, which Postfix asks at RCPT time whether a mailbox is full. */
export const QUOTA_STATUS = { host: "127.0.0.1", port: 10040 } as const;

const DEFAULT_MESSAGE_SIZE_LIMIT = 10_240_000;

/**
 * The TLS 1.2 ciphers of the ports where clients log in (587, 465; IMAP and
 * POP3: Dovecot), in this order: Mozilla's "intermediate" profile without
 * its DHE ciphers, i.e. ECDHE with an AEAD cipher, for an ECDSA certificate
 * (the stack's own CA issues one) or an RSA one (a certificate of yours).
 * TLS 1.3's suites are all AEAD: OpenSSL's defaults, Mozilla's three.
 */
export const CLIENT_TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

// Unquoted in every file, so only characters no format treats specially.
const DB_NAME = /^[A-Za-z0-9_]{1,64}$/;
const DB_USER = /^[A-Za-z0-9_.-]{1,80}$/;
const PEM_PATH = /^\/[A-Za-z0-9._/-]+$/;
// inet:host:port or unix:/path, nothing Postfix would split or expand.
const MILTER = /^(?:inet:[A-Za-z0-9.-]+:\d{1,5}|unix:\/[A-Za-z0-9._/-]+)$/;

function fail(what: string, value: unknown, why: string): never {
  throw new Error(`mail server settings: ${what} ${JSON.stringify(value)} ${why}`);
}

/** The settings with defaults applied; throws on any value that cannot be rendered safely. */
export function checkMailServerSettings(s: MailServerSettings): Required<MailServerSettings> {
  if (!isDnsName(s.hostname)) fail("hostname", s.hostname, "is not a DNS name (letters, digits, '-', dots)");
  if (!isDnsName(s.domain)) fail("domain", s.domain, "is not a DNS name (letters, digits, '-', dots)");
  if (!isIPv4(s.listenAddress)) fail("listenAddress", s.listenAddress, "is not an IPv4 address");
  const db = s.database;
  if (!isDnsName(db.host) && !isIPv4(db.host)) fail("database.host", db.host, "is not a host name or IPv4 address");
  if (!isPort(db.port)) fail("database.port", db.port, "is not a TCP port");
  if (!DB_NAME.test(db.name)) fail("database.name", db.name, "must be 1-64 of A-Z a-z 0-9 _");
  if (!DB_USER.test(db.user)) fail("database.user", db.user, "must be 1-80 of A-Z a-z 0-9 _ . -");
  // Postfix map files take the rest of the line, trimmed, and Dovecot 2.3
  // splits its SQL connect string on spaces (quoting does not help: checked
  // against the real daemons), so whitespace and control characters cannot
  // be represented. Quotes, '#', '%', '$' and '\' are fine.
  if (db.password.length === 0) throw new Error("mail server settings: database.password is empty");
  if (/[\s\x00-\x1f\x7f]/.test(db.password)) {
    throw new Error(
      "mail server settings: database.password contains whitespace or a control character, " +
        "which Postfix's map files and Dovecot's SQL connect string cannot hold",
    );
  }
  for (const [what, p] of [
    ["tls.certificateFile", s.tls.certificateFile],
    ["tls.keyFile", s.tls.keyFile],
    ["database.caFile", db.caFile],
  ] as const) {
    if (!PEM_PATH.test(p) || p.split("/").includes("..")) fail(what, p, "must be an absolute path of A-Z a-z 0-9 . _ - /");
  }
  const milters = s.milters ?? [];
  for (const m of milters) if (!MILTER.test(m)) fail("milters", m, "must be inet:HOST:PORT or unix:/PATH");
  const filterMilter = s.filterMilter ?? "";
  if (filterMilter !== "" && !/^inet:[A-Za-z0-9.-]+:\d{1,5}$/.test(filterMilter)) fail("filterMilter", filterMilter, "must be inet:HOST:PORT");
  const messageSizeLimit = s.messageSizeLimit ?? DEFAULT_MESSAGE_SIZE_LIMIT;
  if (!Number.isSafeInteger(messageSizeLimit) || messageSizeLimit < 1) {
    fail("messageSizeLimit", messageSizeLimit, "must be a positive whole number of bytes");
  }
  const logTo = s.logTo ?? "stdout";
  if (logTo !== "stdout" && logTo !== "syslog") fail("logTo", logTo, 'must be "stdout" or "syslog"');
  const limits = s.limits ?? DEFAULT_LIMITS;
  for (const p of limitProblems(limits)) throw new Error(`mail server settings: limits.${p.field} ${p.message}`);
  const quotaBytes = s.quotaBytes ?? 0;
  if (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0) fail("quotaBytes", quotaBytes, "must be a whole number of bytes (0: none)");
  return { ...s, messageSizeLimit, milters, filterMilter, logTo, limits, quotaBytes };
}

// An alias domain's address as the same local part at its target, when that
// exists there as a mailbox, an alias or under a catch-all: so an address
// nobody receives is refused at RCPT, not accepted and bounced. Postfix
// skips a query with %u or %d for a key that is not user@domain.
const ALIAS_DOMAIN_TARGET =
  "SELECT CONCAT('%u@', t.name) FROM virtual_alias_domains a JOIN virtual_domains t ON t.id = a.target_domain_id WHERE a.name='%d'" +
  " AND (EXISTS (SELECT 1 FROM virtual_users WHERE email=CONCAT('%u@', t.name))" +
  " OR EXISTS (SELECT 1 FROM virtual_aliases WHERE source IN (CONCAT('%u@', t.name), CONCAT('@', t.name))))";

// The lookups. Postfix replaces %s with the escaped lookup key (the address
// or domain); every query is a SELECT, as the database user may do no more.
const MAPS: readonly { file: string; purpose: string; query: string }[] = [
  {
    file: "mysql-virtual-mailbox-domains.cf",
    purpose: "virtual_mailbox_domains: the domains this server receives mail for.",
    query: "SELECT 1 FROM virtual_domains WHERE name='%s'",
  },
  {
    file: "mysql-virtual-mailbox-maps.cf",
    purpose: "virtual_mailbox_maps: the mailboxes that exist.",
    query: "SELECT 1 FROM virtual_users WHERE email='%s'",
  },
  {
    file: "mysql-virtual-alias-maps.cf",
    purpose: "virtual_alias_maps: where an alias delivers (one row per destination).",
    query: "SELECT destination FROM virtual_aliases WHERE source='%s'",
  },
  {
    file: "mysql-virtual-email2email.cf",
    purpose: "virtual_alias_maps: a mailbox delivers to itself (so a catch-all alias does not swallow it).",
    query: "SELECT email FROM virtual_users WHERE email='%s'",
  },
  {
    file: "mysql-virtual-alias-domains.cf",
    purpose: "virtual_alias_domains: the domains that mirror another (mail-system:aliasDomains).",
    query: "SELECT 1 FROM virtual_alias_domains WHERE name='%s'",
  },
  {
    file: "mysql-virtual-alias-domain-maps.cf",
    purpose: "virtual_alias_maps: an alias domain's address is the same local part at its target, if that receives mail.",
    query: ALIAS_DOMAIN_TARGET,
  },
  {
    file: "mysql-sender-login-maps.cf",
    purpose:
      "smtpd_sender_login_maps: the logins that may send as an address: the user, at their domain and its alias " +
      "domains, and the destinations of an alias that says so (send_as).",
    query:
      "SELECT email FROM virtual_users WHERE email='%s'" +
      " UNION SELECT destination FROM virtual_aliases WHERE source='%s' AND send_as=1" +
      " UNION SELECT u.email FROM virtual_alias_domains a JOIN virtual_domains t ON t.id = a.target_domain_id" +
      " JOIN virtual_users u ON u.email=CONCAT('%u@', t.name) WHERE a.name='%d'",
  },
];

// Only a mailbox with a quota (its own, or the server's default when its row
// has none) can be full, so only its recipients go on to quota-status (the
// restriction class QUOTA_CHECK in main.cf). Dovecot 2.3's quota-status
// asks the config process for the whole configuration again on every request
// (it reads its settings under another service name than its lookups use,
// which misses its settings cache): about 1.7 ms of CPU a recipient, with
// the config process's share, where this lookup costs one indexed SELECT.
// %u and %d: only user@domain keys are looked up, not the bare domain or
// user@ that access maps also try.
export const QUOTA_CHECK = "quota_check";
function quotaRecipientsMap(defaultQuotaBytes: number): { file: string; purpose: string; query: string } {
  return {
    file: "mysql-quota-recipients.cf",
    purpose: `smtpd_recipient_restrictions: the mailboxes with a quota, whose recipients quota-status checks (${QUOTA_CHECK}).`,
    query: `SELECT '${QUOTA_CHECK}' FROM virtual_users WHERE email=CONCAT('%u', '@', '%d') AND COALESCE(quota_bytes, ${defaultQuotaBytes}) > 0`,
  };
}

/** main.cf, master.cf and the MySQL lookup tables, with their owners and modes. */
export function renderPostfixFiles(settings: MailServerSettings): RenderedFile[] {
  const s = checkMailServerSettings(settings);
  const mainCf = renderTemplate("mail/templates/main.cf", {
    hostname: s.hostname,
    domain: s.domain,
    listenAddress: s.listenAddress,
    messageSizeLimit: s.messageSizeLimit,
    certificateFile: s.tls.certificateFile,
    keyFile: s.tls.keyFile,
    milters: s.milters.join(", "),
    inboundMilters: s.filterMilter ? `{ ${s.filterMilter}, default_action=tempfail }` : "",
    guardMilter: [MAIL_GUARD_MILTER, ...(s.filterMilter ? [`{ ${s.filterMilter}, default_action=accept }`] : []), ...s.milters].join(", "),
    guardPolicy: MAIL_GUARD.policy,
    quotaStatus: `inet:${QUOTA_STATUS.host}:${QUOTA_STATUS.port}`,
    quotaCheck: QUOTA_CHECK,
    smtpConnectionsPerMinute: s.limits.smtpConnectionsPerMinute,
    smtpMessagesPerMinute: s.limits.smtpMessagesPerMinute,
    smtpConnectionsAtOnce: s.limits.smtpConnectionsAtOnce,
    clientCiphers: CLIENT_TLS12_CIPHERS,
    maillog:
      s.logTo === "stdout"
        ? "# In a container: log to stdout (postlogd, see master.cf), no syslog.\nmaillog_file = /dev/stdout"
        : "# On a host: syslog (the journal, or /var/log/mail.log).",
  });
  const masterCf = renderTemplate("mail/templates/master.cf", {});
  const maps = [...MAPS, quotaRecipientsMap(s.quotaBytes)].map(
    (m): RenderedFile => ({
      path: `/etc/postfix/${m.file}`,
      content: renderTemplate("mail/templates/mysql-map.cf", {
        purpose: m.purpose,
        host: s.database.host,
        port: s.database.port,
        dbname: s.database.name,
        user: s.database.user,
        password: s.database.password,
        caFile: s.database.caFile,
        query: m.query,
      }),
      // Read by Postfix's unprivileged daemons (user postfix), by nobody else.
      owner: "root",
      group: "postfix",
      mode: "0640",
      secret: true,
    }),
  );
  return [
    { path: "/etc/postfix/main.cf", content: mainCf, owner: "root", group: "root", mode: "0644" },
    { path: "/etc/postfix/master.cf", content: masterCf, owner: "root", group: "root", mode: "0644" },
    {
      path: "/etc/postfix/submission-header-checks",
      content: renderTemplate("mail/templates/submission-header-checks", {}),
      owner: "root",
      group: "root",
      mode: "0644",
    },
    ...maps,
  ];
}
