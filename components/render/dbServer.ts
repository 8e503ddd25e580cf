// The database server's own configuration and the objects the program keeps
// in it, as pure functions of plain values: server.cnf (where it listens,
// and TLS with the stack's certificate) at the path each family's server
// reads, the certificate and key, and the SQL that makes (or drops) the
// mail database, the application user and its grant. The SQL runs through the
// server's own client as root over the unix socket, so no account with
// network access administers the server and nothing but the application user
// is reachable over TCP.
import { sqlString } from "./mailSql";
import { renderTemplate } from "./template";
import { RenderedFile, TlsMaterial } from "./types";
import { hasPemBlock, isIPv4, isPort } from "./checks";

// MySQL account names: at most 32 characters; kept to plain ones.
const ACCOUNT = /^[A-Za-z0-9_]{1,32}$/;
// Database names: kept to plain ones (no quoting surprises in any client).
const DATABASE = /^[A-Za-z0-9_]{1,64}$/;

/** Where each family's server reads extra configuration (after the package's own). */
export const SERVER_CNF_PATH = {
  // Read after Debian's 50-server.cnf, whose bind-address (127.0.0.1) it overrides.
  debian: "/etc/mysql/mariadb.conf.d/60-mail-system.cnf",
  rhel: "/etc/my.cnf.d/mail-system.cnf",
} as const;

/**
 * The account earlier versions of the program administered the server with
 * over TCP (through @pulumi/mysql). It is dropped when the database is made,
 * so upgraded servers keep no account with ALL privileges on the network.
 */
export const LEGACY_ADMIN_USER = "mail_system_admin";

/**
 * Where the server's TLS files go (both families): the server reads them at
 * start, so a change restarts it (DB_SERVICES).
 */
export const DB_TLS_DIR = "/etc/mysql/ssl";
export const DB_TLS_FILES = {
  certificate: `${DB_TLS_DIR}/server-cert.pem`,
  key: `${DB_TLS_DIR}/server-key.pem`,
  ca: `${DB_TLS_DIR}/ca.pem`,
} as const;

/**
 * server.cnf for a family: listen on `bindAddress` (and port) and offer TLS
 * 1.2+ with `tls` (the certificate must name `bindAddress`, which clients
 * verify); plus the certificate, its CA and the key (mysql's alone).
 */
export function renderDbServerFiles(family: keyof typeof SERVER_CNF_PATH, bindAddress: string, tls: TlsMaterial, port = 3306): RenderedFile[] {
  if (!isIPv4(bindAddress)) throw new Error(`database server: bind address ${JSON.stringify(bindAddress)} is not an IPv4 address`);
  if (!isPort(port)) throw new Error(`database server: port ${JSON.stringify(port)} is not a TCP port`);
  if (!hasPemBlock(tls.certificate, /^CERTIFICATE$/)) throw new Error("database server: tls.certificate is not a PEM certificate");
  if (!hasPemBlock(tls.caCertificate, /^CERTIFICATE$/)) throw new Error("database server: tls.caCertificate is not a PEM certificate");
  if (!hasPemBlock(tls.privateKey, /PRIVATE KEY$/)) throw new Error("database server: tls.privateKey is not a PEM private key");
  const content = renderTemplate("db/templates/server.cnf", {
    bindAddress,
    port,
    certificateFile: DB_TLS_FILES.certificate,
    keyFile: DB_TLS_FILES.key,
    caFile: DB_TLS_FILES.ca,
  });
  return [
    { path: SERVER_CNF_PATH[family], content, owner: "root", group: "root", mode: "0644" },
    { path: DB_TLS_FILES.certificate, content: tls.certificate, owner: "root", group: "root", mode: "0644" },
    { path: DB_TLS_FILES.ca, content: tls.caCertificate, owner: "root", group: "root", mode: "0644" },
    // Read by the server after it became the mysql user.
    { path: DB_TLS_FILES.key, content: tls.privateKey, owner: "mysql", group: "mysql", mode: "0600", secret: true },
  ];
}

/** `'user'@'host'`; host is an IPv4 address or "%" (anywhere). */
function account(user: string, host: string): string {
  if (!ACCOUNT.test(user)) throw new Error(`database account ${JSON.stringify(user)} must be 1-32 of A-Z a-z 0-9 _`);
  if (host !== "%" && !isIPv4(host)) throw new Error(`database account host ${JSON.stringify(host)} is not an IPv4 address or "%"`);
  return `${sqlString(user)}@${sqlString(host)}`;
}

function database(name: string): string {
  if (!DATABASE.test(name)) throw new Error(`database name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 _`);
  return `\`${name}\``;
}

/**
 * Makes the mail database (utf8mb4, case-insensitive, as mail addresses are
 * compared) unless it exists; drops the legacy administrator account allowed
 * from `legacyAdminHost` (the engine's address), if an earlier version made it.
 */
export function createDatabaseSql(name: string, legacyAdminHost?: string): string {
  return [
    `CREATE DATABASE IF NOT EXISTS ${database(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;`,
    ...(legacyAdminHost !== undefined ? [`DROP USER IF EXISTS ${account(LEGACY_ADMIN_USER, legacyAdminHost)};`] : []),
  ].join("\n");
}

/** Drops the mail database with its tables (destroy). */
export function dropDatabaseSql(name: string): string {
  return `DROP DATABASE IF EXISTS ${database(name)};`;
}

/**
 * Makes the application user, or sets its password when it exists; either
 * way it must use TLS (REQUIRE SSL: no login in clear, on new and upgraded
 * servers alike). Idempotent.
 */
export function createUserSql(user: string, host: string, password: string): string {
  const a = account(user, host);
  const pw = sqlString(password);
  return [`CREATE USER IF NOT EXISTS ${a} IDENTIFIED BY ${pw} REQUIRE SSL;`, `ALTER USER ${a} IDENTIFIED BY ${pw} REQUIRE SSL;`].join("\n");
}

/** Drops the application user (destroy). */
export function dropUserSql(user: string, host: string): string {
  return `DROP USER IF EXISTS ${account(user, host)};`;
}

/** Lets the user read (SELECT) every table of the database, and nothing else. Idempotent. */
export function grantSelectSql(databaseName: string, user: string, host: string): string {
  return `GRANT SELECT ON ${database(databaseName)}.* TO ${account(user, host)};`;
}

/** Takes the grant back (destroy). */
export function revokeSelectSql(databaseName: string, user: string, host: string): string {
  return `REVOKE SELECT ON ${database(databaseName)}.* FROM ${account(user, host)};`;
}
