// The database server's own configuration and its administrator account, as
// pure functions of plain values: server.cnf (where it listens) at the path
// each family's server reads, and the SQL that makes (or drops) the account
// the program administers the database with.
import { sqlString } from "./mailSql";
import { renderTemplate } from "./template";
import { RenderedFile } from "./types";
import { IPV4 } from "./patterns";

// MySQL account names: at most 32 characters; kept to plain ones.
const ACCOUNT = /^[A-Za-z0-9_]{1,32}$/;

/** Where each family's server reads extra configuration (after the package's own). */
export const SERVER_CNF_PATH = {
  // Read after Debian's 50-server.cnf, whose bind-address (127.0.0.1) it overrides.
  debian: "/etc/mysql/mariadb.conf.d/60-mail-system.cnf",
  rhel: "/etc/my.cnf.d/mail-system.cnf",
} as const;

/** server.cnf for a family: listen on `bindAddress` (and port). */
export function renderDbServerFiles(family: keyof typeof SERVER_CNF_PATH, bindAddress: string, port = 3306): RenderedFile[] {
  if (!IPV4.test(bindAddress)) throw new Error(`database server: bind address ${JSON.stringify(bindAddress)} is not an IPv4 address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`database server: port ${JSON.stringify(port)} is not a TCP port`);
  const content = renderTemplate("db/templates/server.cnf", { bindAddress, port });
  return [{ path: SERVER_CNF_PATH[family], content, owner: "root", group: "root", mode: "0644" }];
}

function account(user: string, host: string): string {
  if (!ACCOUNT.test(user)) throw new Error(`database account ${JSON.stringify(user)} must be 1-32 of A-Z a-z 0-9 _`);
  if (!IPV4.test(host)) throw new Error(`database account host ${JSON.stringify(host)} is not an IPv4 address`);
  return `${sqlString(user)}@${sqlString(host)}`;
}

/**
 * Makes (or re-passwords) the administrator account, allowed from one
 * address only. Run as root over the unix socket; idempotent.
 */
export function adminAccountSql(user: string, host: string, password: string): string {
  const a = account(user, host);
  const pw = sqlString(password);
  return [
    `CREATE USER IF NOT EXISTS ${a} IDENTIFIED BY ${pw};`,
    `ALTER USER ${a} IDENTIFIED BY ${pw};`,
    `GRANT ALL PRIVILEGES ON *.* TO ${a} WITH GRANT OPTION;`,
  ].join("\n");
}

/** Drops the administrator account (destroy). */
export function dropAdminAccountSql(user: string, host: string): string {
  return `DROP USER IF EXISTS ${account(user, host)};`;
}
