// Dovecot's configuration as a pure function of plain settings: one complete
// dovecot.conf (no conf.d includes) and the SQL passdb's dovecot-sql.conf.ext.
import { checkMailServerSettings, MailServerSettings } from "./postfix";
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
  const parts = [`host=${db.host}`, `port=${db.port}`, `dbname=${db.name}`, `user=${db.user}`, `password=${db.password}`];
  return `"${parts.join(" ").replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** dovecot.conf and dovecot-sql.conf.ext, with their owners and modes. */
export function renderDovecotFiles(settings: MailServerSettings): RenderedFile[] {
  const s = checkMailServerSettings(settings);
  const conf = renderTemplate("mail/templates/dovecot.conf", {
    hostname: s.hostname,
    domain: s.domain,
    certificateFile: s.tls.certificateFile,
    keyFile: s.tls.keyFile,
  });
  const sql = renderTemplate("mail/templates/dovecot-sql.conf.ext", { connect: connectValue(s.database) });
  return [
    { path: "/etc/dovecot/dovecot.conf", content: conf, owner: "root", group: "root", mode: "0644" },
    // Read by the auth processes (started as root; service auth then runs as dovecot).
    { path: "/etc/dovecot/dovecot-sql.conf.ext", content: sql, owner: "root", group: "dovecot", mode: "0640", secret: true },
  ];
}
