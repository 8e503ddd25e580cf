// Dovecot's configuration as a pure function of plain settings: one complete
// dovecot.conf (no conf.d includes) and the SQL passdb's dovecot-sql.conf.ext.
import { getDiffieHellman } from "crypto";
import { checkMailServerSettings, CLIENT_TLS12_CIPHERS, MailServerSettings, QUOTA_STATUS } from "./postfix";
import { MAIL_GUARD } from "./mailGuard";
import { renderTemplate } from "./template";
import { RenderedFile } from "./types";

export type { MailServerSettings } from "./postfix";

/**
 * The value of dovecot-sql.conf.ext's `connect`, double-quoted so that '#'
 * is not read as a comment, with `\` and `"` escaped for Dovecot's settings
 * parser. Dovecot 2.3 then splits it on spaces, which is why the settings
 * check rejects whitespace in every part.
 */
function connectValue(db: MailServerSettings["database"]): string {
  const parts = [
    // Read at every (re)connect, unlike ssl_ca below: keeps reconnects on TLS (see the file).
    `option_file=${DOVECOT_SQL_CLIENT_FILE}`,
    ...[`host=${db.host}`, `port=${db.port}`, `dbname=${db.name}`, `user=${db.user}`, `password=${db.password}`],
    // TLS, verifying the server's certificate (chain, and that it names host) with the CA.
    ...[`ssl_ca=${db.caFile}`, "ssl_verify_server_cert=yes"],
  ];
  return `"${parts.join(" ").replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The MySQL client option file of Dovecot's SQL connections (files/mail/templates/dovecot-sql-client.cnf). */
export const DOVECOT_SQL_CLIENT_FILE = "/etc/dovecot/dovecot-sql-client.cnf";

/** Where the Sieve scripts every user gets live (compiled by the check: sievec), and the pipe program they call. */
export const SIEVE_DIR = "/etc/dovecot/sieve";
export const SIEVE_PIPE_DIR = "/usr/local/lib/mail-system/sieve-pipe";
/** The program Dovecot's quota-warning service runs (as vmail) to warn a user whose mailbox is nearly full. */
export const QUOTA_WARNING = "/usr/local/lib/mail-system/quota-warning";
/**
 * The quota root: Maildir++ (maildirsize). Dovecot's index-based `count`
 * backend resynchronised the mailbox (listed all its files) for each
 * delivery, a cost that grew with the mailbox (bench/README). The warning's
 * own delivery uses the same root.
 */
export const QUOTA_ROOT = "maildir:User quota";
/** Rspamd's controller (learning), on loopback. */
const RSPAMD_CONTROLLER = "127.0.0.1:11334";

/** Where the DH parameters go: rendered, so no distribution's copy (or a slow dhparam run) is needed. */
export const DOVECOT_DH_FILE = "/etc/dovecot/dh.pem";

/**
 * The RFC 3526 2048-bit MODP group (group 14, generator 2) as PEM "DH
 * PARAMETERS": a published, well-tested group, the same on every server.
 */
export function dhParametersPem(): string {
  const dh = getDiffieHellman("modp14");
  const integer = (bytes: Buffer): Buffer => {
    const body = bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
    return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
  };
  const body = Buffer.concat([integer(dh.getPrime()), integer(dh.getGenerator())]);
  const der = Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return ["-----BEGIN DH PARAMETERS-----", ...lines, "-----END DH PARAMETERS-----", ""].join("\n");
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** dovecot.conf, dovecot-sql.conf.ext and the DH parameters, with their owners and modes. */
export function renderDovecotFiles(settings: MailServerSettings): RenderedFile[] {
  const s = checkMailServerSettings(settings);
  const conf = renderTemplate("mail/templates/dovecot.conf", {
    hostname: s.hostname,
    domain: s.domain,
    certificateFile: s.tls.certificateFile,
    keyFile: s.tls.keyFile,
    dhFile: DOVECOT_DH_FILE,
    clientCiphers: CLIENT_TLS12_CIPHERS,
    guardAuth: MAIL_GUARD.auth,
    sieveDir: SIEVE_DIR,
    sievePipeDir: SIEVE_PIPE_DIR,
    defaultQuotaBytes: s.quotaBytes,
    quotaStatusPort: QUOTA_STATUS.port,
    quotaWarning: QUOTA_WARNING,
    quotaRoot: QUOTA_ROOT,
    logging: s.logTo === "stdout" ? "# In a container: log to stderr, no syslog.\nlog_path = /dev/stderr" : "# On a host: syslog (the journal).\nlog_path = syslog",
  });
  const sql = renderTemplate("mail/templates/dovecot-sql.conf.ext", { connect: connectValue(s.database) });
  return [
    { path: "/etc/dovecot/dovecot.conf", content: conf, owner: "root", group: "root", mode: "0644" },
    // Read by the auth processes (started as root; service auth then runs as dovecot).
    { path: "/etc/dovecot/dovecot-sql.conf.ext", content: sql, owner: "root", group: "dovecot", mode: "0640", secret: true },
    // No secret: read by the auth workers (vmail) at every connect.
    {
      path: DOVECOT_SQL_CLIENT_FILE,
      content: renderTemplate("mail/templates/dovecot-sql-client.cnf", { caFile: s.database.caFile }),
      owner: "root",
      group: "root",
      mode: "0644",
    },
    { path: DOVECOT_DH_FILE, content: dhParametersPem(), owner: "root", group: "root", mode: "0644" },
    ...["junk.sieve", "learn-spam.sieve", "learn-ham.sieve"].map(
      (f): RenderedFile => ({ path: `${SIEVE_DIR}/${f}`, content: renderTemplate(`mail/sieve/${f}`, {}), owner: "root", group: "root", mode: "0644" }),
    ),
    { path: QUOTA_WARNING, content: renderTemplate("mail/quota-warning", { domain: s.domain, quotaRoot: QUOTA_ROOT }), owner: "root", group: "root", mode: "0755" },
    {
      path: `${SIEVE_PIPE_DIR}/rspamd-learn`,
      content: renderTemplate("mail/sieve/rspamd-learn", { controller: RSPAMD_CONTROLLER }),
      owner: "root",
      group: "root",
      mode: "0755",
    },
  ];
}
