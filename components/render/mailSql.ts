// The mail database's schema and the statements that keep one domain, user
// or alias in step with the program (MariaDB/MySQL, run through the database
// server's own client). Each upsert touches only its own row and changes
// nothing when run again, so a `pulumi up` may repeat it safely.
import { isDnsName, splitAddress } from "./checks";

/**
 * The seed's three tables, plus the UNIQUE keys that make upserts natural:
 * virtual_domains(name), virtual_users(email) as in the seed, and
 * virtual_aliases(source, destination) (one row per destination, as the
 * seed); and virtual_alias_domains, the domains that mirror another (every
 * address at `name` is the same local part at the target). Deleting a domain
 * deletes its users, aliases and alias domains (ON DELETE CASCADE).
 * virtual_users.quota_bytes is the user's storage quota (NULL: the server's
 * default; 0: none); virtual_aliases.send_as says whether the alias's
 * destinations may send as its source. Databases made before these columns
 * existed get them from MAIL_SCHEMA_UPGRADE_SQL.
 * A case-insensitive collation, because mail addresses are compared so.
 */
export const MAIL_SCHEMA_SQL = `CREATE TABLE IF NOT EXISTS virtual_domains (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(50) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY virtual_domains_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE IF NOT EXISTS virtual_users (
  id INT NOT NULL AUTO_INCREMENT,
  email VARCHAR(128) NOT NULL,
  password VARCHAR(150) NOT NULL,
  domain_id INT NOT NULL,
  quota_bytes BIGINT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY virtual_users_email (email),
  FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE IF NOT EXISTS virtual_aliases (
  id INT NOT NULL AUTO_INCREMENT,
  domain_id INT NOT NULL,
  source VARCHAR(100) NOT NULL,
  destination VARCHAR(100) NOT NULL,
  send_as TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY virtual_aliases_source_destination (source, destination),
  FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE IF NOT EXISTS virtual_alias_domains (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(50) NOT NULL,
  target_domain_id INT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY virtual_alias_domains_name (name),
  FOREIGN KEY (target_domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
`;

/** Adds `column` to `table` unless it is there: portable to MySQL 8, which has no ADD COLUMN IF NOT EXISTS. */
function addColumnSql(table: string, column: string, definition: string): string {
  const v = `@add_${table}_${column}`;
  return `SET ${v} = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE ${table} ADD COLUMN ${column} ${definition}', 'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = '${table}' AND column_name = '${column}');
PREPARE add_column FROM ${v};
EXECUTE add_column;
DEALLOCATE PREPARE add_column;
`;
}

/**
 * What a database made by an earlier release lacks, added (never dropped or
 * changed): virtual_users.quota_bytes, virtual_aliases.send_as (the table
 * virtual_alias_domains comes from MAIL_SCHEMA_SQL's IF NOT EXISTS). Run
 * after MAIL_SCHEMA_SQL, any number of times.
 */
export const MAIL_SCHEMA_UPGRADE_SQL =
  addColumnSql("virtual_users", "quota_bytes", "BIGINT NULL") + addColumnSql("virtual_aliases", "send_as", "TINYINT(1) NOT NULL DEFAULT 0");

// MySQL's own escapes (as mysql_real_escape_string), for the default
// sql_mode; NO_BACKSLASH_ESCAPES must not be set on the server.
const ESCAPES: Readonly<Record<string, string>> = {
  "\0": "\\0",
  "\n": "\\n",
  "\r": "\\r",
  "\x1a": "\\Z",
  "\\": "\\\\",
  "'": "\\'",
  '"': '\\"',
};

/** A MySQL/MariaDB string literal holding exactly `value`. */
export function sqlString(value: string): string {
  if (/[\uD800-\uDFFF]/u.test(value)) throw new Error(`SQL string: ${JSON.stringify(value)} is not valid Unicode (lone surrogate)`);
  return `'${value.replace(/[\0\n\r\x1a\\'"]/g, (c) => ESCAPES[c])}'`;
}

/**
 * What the schema's columns hold (VARCHAR lengths): virtual_domains.name,
 * virtual_users.email, virtual_aliases.source and .destination. The stack
 * configuration checks them too, so a value that does not fit is reported
 * with its key before anything is deployed.
 */
export const MAIL_COLUMNS = { domain: 50, email: 128, alias: 100 } as const;
const DOMAIN_COLUMN_LENGTH = MAIL_COLUMNS.domain;
const isMailDomain = (name: string) => isDnsName(name) && name.length <= DOMAIN_COLUMN_LENGTH;
// An alias's local part: no whitespace, control characters, double quotes,
// commas (Postfix joins multiple results with commas), '@', or other
// characters that need quoting in an address.
const LOCAL_PART = /^[^\s\x00-\x1f\x7f@,"<>()[\]\\;:]+$/;
// A user's: only what Dovecot accepts in a login name (its default
// auth_username_chars), so that every user created can log in.
const LOGIN_LOCAL_PART = /^[A-Za-z0-9._-]+$/;

function domainName(name: string): string {
  if (!isMailDomain(name)) {
    throw new Error(`mail domain ${JSON.stringify(name)} is not a DNS name of at most ${DOMAIN_COLUMN_LENGTH} characters`);
  }
  return name;
}

/** Splits `user@domain`; `allowEmptyLocal` admits a catch-all alias source "@domain". */
function address(what: string, value: string, maxLength: number, allowEmptyLocal = false, localPart = LOCAL_PART): { local: string; domain: string } {
  const { local, domain } = splitAddress(value) ?? { local: "", domain: "" };
  const localOk = local === "" ? allowEmptyLocal : localPart.test(local);
  if (!localOk || !isMailDomain(domain) || value.length > maxLength) {
    throw new Error(`${what} ${JSON.stringify(value)} is not an address user@domain of at most ${maxLength} characters`);
  }
  return { local, domain };
}

const domainId = (domain: string) => `(SELECT id FROM virtual_domains WHERE name = ${sqlString(domain)})`;

// A crypt(3) SHA-512 string as components/passwordHash.ts makes it, stored
// without a {SCHEME} prefix (dovecot-sql.conf.ext: default_pass_scheme =
// SHA512-CRYPT), as the seed does.
const SHA512_CRYPT = /^\$6\$(?:rounds=[1-9]\d{0,8}\$)?[./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{86}$/;

/** Adds the domain, or leaves it as it is. */
export function upsertDomainSql(name: string): string {
  return `INSERT INTO virtual_domains (name) VALUES (${sqlString(domainName(name))}) ON DUPLICATE KEY UPDATE id = id;\n`;
}

/** Removes the domain, and with it its users and aliases. */
export function deleteDomainSql(name: string): string {
  return `DELETE FROM virtual_domains WHERE name = ${sqlString(domainName(name))};\n`;
}

/**
 * Adds the user or sets their password hash ("$6$..."). The domain (the part
 * after '@') must exist: otherwise domain_id is NULL and the statement fails.
 */
export function upsertUserSql(email: string, passwordHash: string, quotaBytes: number | null = null): string {
  const { domain } = address("user", email, MAIL_COLUMNS.email, false, LOGIN_LOCAL_PART);
  if (!SHA512_CRYPT.test(passwordHash)) {
    throw new Error(`password hash for ${email} is not a SHA512-CRYPT string "$6$salt$hash"`);
  }
  if (quotaBytes !== null && (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0)) {
    throw new Error(`quota for ${email} is not a whole number of bytes: ${quotaBytes}`);
  }
  const e = sqlString(email);
  const h = sqlString(passwordHash);
  const q = quotaBytes === null ? "NULL" : String(quotaBytes);
  return (
    `INSERT INTO virtual_users (email, password, domain_id, quota_bytes) VALUES (${e}, ${h}, ${domainId(domain)}, ${q})` +
    ` ON DUPLICATE KEY UPDATE password = ${h}, domain_id = ${domainId(domain)}, quota_bytes = ${q};\n`
  );
}

/** Removes the user (their maildir stays on the mail server's disk). */
export function deleteUserSql(email: string): string {
  address("user", email, MAIL_COLUMNS.email, false, LOGIN_LOCAL_PART);
  return `DELETE FROM virtual_users WHERE email = ${sqlString(email)};\n`;
}

/**
 * Adds one alias row source -> destination (an alias with several
 * destinations has one row each), or sets whether the destination may send
 * as the source. The source's domain must exist; "@domain" is a catch-all
 * source, which nobody sends as.
 */
export function upsertAliasSql(source: string, destination: string, sendAs = false): string {
  const { local, domain } = address("alias source", source, MAIL_COLUMNS.alias, true);
  address("alias destination", destination, MAIL_COLUMNS.alias);
  if (sendAs && local === "") throw new Error(`alias ${source}: a catch-all cannot be sent as (name the addresses instead)`);
  const flag = sendAs ? 1 : 0;
  return (
    `INSERT INTO virtual_aliases (domain_id, source, destination, send_as) VALUES (${domainId(domain)}, ${sqlString(source)}, ${sqlString(destination)}, ${flag})` +
    ` ON DUPLICATE KEY UPDATE domain_id = ${domainId(domain)}, send_as = ${flag};\n`
  );
}

/** Removes the one row source -> destination. */
export function deleteAliasSql(source: string, destination: string): string {
  address("alias source", source, MAIL_COLUMNS.alias, true);
  address("alias destination", destination, MAIL_COLUMNS.alias);
  return `DELETE FROM virtual_aliases WHERE source = ${sqlString(source)} AND destination = ${sqlString(destination)};\n`;
}

/**
 * Makes `name` an alias domain of `target` (which must exist): every address
 * at `name` delivers as the same local part at `target`.
 */
export function upsertAliasDomainSql(name: string, target: string): string {
  domainName(name);
  if (name === domainName(target)) throw new Error(`alias domain ${name} cannot mirror itself`);
  return (
    `INSERT INTO virtual_alias_domains (name, target_domain_id) VALUES (${sqlString(name)}, ${domainId(target)})` +
    ` ON DUPLICATE KEY UPDATE target_domain_id = ${domainId(target)};\n`
  );
}

/** Removes the alias domain (its target and the target's mail stay). */
export function deleteAliasDomainSql(name: string): string {
  return `DELETE FROM virtual_alias_domains WHERE name = ${sqlString(domainName(name))};\n`;
}
