import { sha512Crypt } from "../../components/passwordHash";
import {
  deleteAliasSql,
  deleteDomainSql,
  deleteUserSql,
  MAIL_SCHEMA_SQL,
  sqlString,
  upsertAliasSql,
  upsertDomainSql,
  upsertUserSql,
  MAIL_SCHEMA_UPGRADE_SQL,
  deleteAliasDomainSql,
  upsertAliasDomainSql,
} from "../../components/render/mailSql";

const HASH = sha512Crypt("onetestandone", "dEqUVsCirHzV8kHw");

/** Reads a MySQL string literal back (the inverse of sqlString), or throws if `text` is not exactly one. */
function unquote(text: string): string {
  const m = /^'((?:[^'\\]|\\.)*)'$/s.exec(text);
  if (!m) throw new Error(`not one string literal: ${text}`);
  const back: Record<string, string> = { "0": "\0", n: "\n", r: "\r", Z: "\x1a" };
  return m[1].replace(/\\(.)/gs, (_, c: string) => back[c] ?? c);
}

describe("sqlString", () => {
  test.each([
    ["plain", "'plain'"],
    ["' OR 1=1 --", "'\\' OR 1=1 --'"],
    ["back\\slash", "'back\\\\slash'"],
    ['"double"', "'\\\"double\\\"'"],
    ["it's", "'it\\'s'"],
    ["a\nb\rc\0d\x1ae", "'a\\nb\\rc\\0d\\Ze'"],
    ["", "''"],
    ["päss ✓ 😀", "'päss ✓ 😀'"],
  ])("%j -> %s", (value, literal) => {
    expect(sqlString(value)).toBe(literal);
    expect(unquote(sqlString(value))).toBe(value);
  });

  test("a trailing backslash cannot escape the closing quote", () => {
    expect(sqlString("x\\")).toBe("'x\\\\'");
    expect(unquote(sqlString("x\\"))).toBe("x\\");
  });

  test("rejects a lone surrogate, which no client could send as UTF-8", () => {
    expect(() => sqlString("a\uD800b")).toThrow(/lone surrogate/);
  });
});

test("MAIL_SCHEMA_UPGRADE_SQL only adds the quota and send-as columns, and only where they are missing", () => {
  expect(MAIL_SCHEMA_UPGRADE_SQL).not.toMatch(/\b(DROP|TRUNCATE|DELETE FROM|INSERT|UPDATE|MODIFY|CHANGE)\b/i);
  expect([...MAIL_SCHEMA_UPGRADE_SQL.matchAll(/ALTER TABLE (\w+) ADD COLUMN (\w+)/g)].map((m) => `${m[1]}.${m[2]}`)).toEqual([
    "virtual_users.quota_bytes",
    "virtual_aliases.send_as",
  ]);
  expect(MAIL_SCHEMA_UPGRADE_SQL).toMatch(/IF\(COUNT\(\*\) = 0, 'ALTER TABLE virtual_users ADD COLUMN quota_bytes BIGINT NULL', 'DO 0'\)/);
  expect(MAIL_SCHEMA_UPGRADE_SQL).toMatch(/IF\(COUNT\(\*\) = 0, 'ALTER TABLE virtual_aliases ADD COLUMN send_as TINYINT\(1\) NOT NULL DEFAULT 0', 'DO 0'\)/);
  // The same column definitions as a new database's.
  expect(MAIL_SCHEMA_SQL).toMatch(/quota_bytes BIGINT NULL,/);
  expect(MAIL_SCHEMA_SQL).toMatch(/send_as TINYINT\(1\) NOT NULL DEFAULT 0,/);
});

describe("MAIL_SCHEMA_SQL", () => {
  const statements = MAIL_SCHEMA_SQL.split(";").map((s) => s.trim()).filter((s) => s !== "");

  test("creates the seed's three tables and the alias domains', idempotently, InnoDB and utf8mb4", () => {
    expect(statements.map((s) => /^CREATE TABLE IF NOT EXISTS (\w+) \(/.exec(s)?.[1])).toEqual([
      "virtual_domains",
      "virtual_users",
      "virtual_aliases",
      "virtual_alias_domains",
    ]);
    for (const s of statements) expect(s).toMatch(/\) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci$/);
    expect(MAIL_SCHEMA_SQL).not.toMatch(/\b(DROP|TRUNCATE|ALTER|DELETE FROM|INSERT|UPDATE)\b/i);
  });

  test("the seed's columns, foreign keys with ON DELETE CASCADE, and unique keys for upserts", () => {
    const [domains, users, aliases, aliasDomains] = statements;
    expect(aliasDomains).toMatch(/UNIQUE KEY \w+ \(name\)/);
    expect(aliasDomains).toMatch(/FOREIGN KEY \(target_domain_id\) REFERENCES virtual_domains\(id\) ON DELETE CASCADE/);
    expect(domains).toMatch(/name VARCHAR\(50\) NOT NULL/);
    expect(domains).toMatch(/UNIQUE KEY \w+ \(name\)/);
    expect(users).toMatch(/email VARCHAR\(128\) NOT NULL/);
    expect(users).toMatch(/password VARCHAR\(150\) NOT NULL/);
    expect(users).toMatch(/UNIQUE KEY \w+ \(email\)/);
    expect(aliases).toMatch(/source VARCHAR\(100\) NOT NULL/);
    expect(aliases).toMatch(/destination VARCHAR\(100\) NOT NULL/);
    expect(aliases).toMatch(/UNIQUE KEY \w+ \(source, destination\)/);
    for (const t of [users, aliases]) {
      expect(t).toMatch(/domain_id INT NOT NULL/);
      expect(t).toMatch(/FOREIGN KEY \(domain_id\) REFERENCES virtual_domains\(id\) ON DELETE CASCADE/);
    }
  });
});

describe("upserts and deletes", () => {
  test("alias domain: its target's id; deleting it leaves the target", () => {
    expect(upsertAliasDomainSql("other.rockylinux.me", "mail.rockylinux.me")).toBe(
      "INSERT INTO virtual_alias_domains (name, target_domain_id) VALUES ('other.rockylinux.me', (SELECT id FROM virtual_domains WHERE name = 'mail.rockylinux.me'))" +
        " ON DUPLICATE KEY UPDATE target_domain_id = (SELECT id FROM virtual_domains WHERE name = 'mail.rockylinux.me');\n",
    );
    expect(deleteAliasDomainSql("other.rockylinux.me")).toBe("DELETE FROM virtual_alias_domains WHERE name = 'other.rockylinux.me';\n");
    expect(() => upsertAliasDomainSql("a.rockylinux.me", "a.rockylinux.me")).toThrow(/cannot mirror itself/);
    for (const bad of ["x'; DROP TABLE virtual_users; --", "a..b", `${"a".repeat(50)}.me`]) {
      expect(() => upsertAliasDomainSql(bad, "rockylinux.me")).toThrow(/is not a DNS name/);
      expect(() => upsertAliasDomainSql("rockylinux.me", bad)).toThrow(/is not a DNS name/);
    }
  });

  test("domain", () => {
    expect(upsertDomainSql("rockylinux.me")).toBe(
      "INSERT INTO virtual_domains (name) VALUES ('rockylinux.me') ON DUPLICATE KEY UPDATE id = id;\n",
    );
    expect(deleteDomainSql("rockylinux.me")).toBe("DELETE FROM virtual_domains WHERE name = 'rockylinux.me';\n");
  });

  test("user: the domain id is looked up from the address's domain part; only that row is updated", () => {
    const sql = upsertUserSql("frank@mail.rockylinux.me", HASH);
    const domainId = "(SELECT id FROM virtual_domains WHERE name = 'mail.rockylinux.me')";
    expect(sql).toBe(
      `INSERT INTO virtual_users (email, password, domain_id, quota_bytes) VALUES ('frank@mail.rockylinux.me', '${HASH}', ${domainId}, NULL)` +
        ` ON DUPLICATE KEY UPDATE password = '${HASH}', domain_id = ${domainId}, quota_bytes = NULL;\n`,
    );
    // A quota of the user's own (bytes; 0: none); NULL keeps the server's default.
    expect(upsertUserSql("frank@mail.rockylinux.me", HASH, 1048576)).toContain(", 1048576) ON DUPLICATE KEY UPDATE password");
    expect(upsertUserSql("frank@mail.rockylinux.me", HASH, 0)).toMatch(/quota_bytes = 0;\n$/);
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) expect(() => upsertUserSql("frank@mail.rockylinux.me", HASH, bad)).toThrow(/not a whole number of bytes/);
    expect(deleteUserSql("frank@mail.rockylinux.me")).toBe("DELETE FROM virtual_users WHERE email = 'frank@mail.rockylinux.me';\n");
  });

  test("user: only names Dovecot accepts as a login (its auth_username_chars)", () => {
    expect(() => upsertUserSql("first.last-1_x@rockylinux.me", HASH)).not.toThrow();
    for (const bad of ["o'brien@rockylinux.me", "a+b@rockylinux.me", "pär@rockylinux.me", "@rockylinux.me"]) {
      expect(() => upsertUserSql(bad, HASH)).toThrow(/is not an address/);
      expect(() => deleteUserSql(bad)).toThrow(/is not an address/);
    }
  });

  test("alias: an apostrophe in the address is escaped", () => {
    expect(upsertAliasSql("o'brien@rockylinux.me", "frank@rockylinux.me")).toContain("'o\\'brien@rockylinux.me', 'frank@rockylinux.me'");
    expect(deleteAliasSql("o'brien@rockylinux.me", "frank@rockylinux.me")).toBe(
      "DELETE FROM virtual_aliases WHERE source = 'o\\'brien@rockylinux.me' AND destination = 'frank@rockylinux.me';\n",
    );
  });

  test("user: the hash is a SHA512-CRYPT string, with or without rounds", () => {
    expect(() => upsertUserSql("a@rockylinux.me", sha512Crypt("pw", "salt", 10000))).not.toThrow();
    for (const bad of ["plaintext", `{SHA512-CRYPT}${HASH}`, HASH.replace("$6$", "$5$"), `${HASH}'`, `${HASH.slice(0, -1)}`]) {
      expect(() => upsertUserSql("a@rockylinux.me", bad)).toThrow(/not a SHA512-CRYPT string/);
    }
  });

  test("alias: one row per (source, destination), which says whether the destination may send as the source", () => {
    const domainId = "(SELECT id FROM virtual_domains WHERE name = 'mail.rockylinux.me')";
    expect(upsertAliasSql("all@mail.rockylinux.me", "frank@mail.rockylinux.me")).toBe(
      `INSERT INTO virtual_aliases (domain_id, source, destination, send_as) VALUES (${domainId}, 'all@mail.rockylinux.me', 'frank@mail.rockylinux.me', 0)` +
        ` ON DUPLICATE KEY UPDATE domain_id = ${domainId}, send_as = 0;\n`,
    );
    expect(upsertAliasSql("all@mail.rockylinux.me", "frank@mail.rockylinux.me", true)).toMatch(/, 1\) ON DUPLICATE KEY UPDATE domain_id = .*, send_as = 1;\n$/);
    expect(() => upsertAliasSql("@mail.rockylinux.me", "frank@mail.rockylinux.me", true)).toThrow(/a catch-all cannot be sent as/);
    expect(deleteAliasSql("all@mail.rockylinux.me", "frank@mail.rockylinux.me")).toBe(
      "DELETE FROM virtual_aliases WHERE source = 'all@mail.rockylinux.me' AND destination = 'frank@mail.rockylinux.me';\n",
    );
  });

  test("alias: a catch-all source @domain, and an outside destination", () => {
    expect(upsertAliasSql("@rockylinux.me", "someone@example.org")).toContain("'@rockylinux.me', 'someone@example.org'");
    expect(() => upsertAliasSql("x@rockylinux.me", "@example.org")).toThrow(/alias destination/);
  });

  test.each([
    ["' OR 1=1 --"],
    ["x' OR '1'='1@rockylinux.me"],
    ["a@b@"],
    ["no-at-sign"],
    ["a,b@rockylinux.me"],
    ["a b@rockylinux.me"],
    ["a@rockylinux.me'); DROP TABLE virtual_users; --"],
    ["a\\@rockylinux.me"],
    [`${"x".repeat(120)}@rockylinux.me`],
  ])("rejects the address %j", (address) => {
    expect(() => upsertUserSql(address, HASH)).toThrow(/is not an address/);
    expect(() => deleteUserSql(address)).toThrow(/is not an address/);
    expect(() => upsertAliasSql(address, "a@rockylinux.me")).toThrow(/is not an address/);
    expect(() => upsertAliasSql("a@rockylinux.me", address)).toThrow(/is not an address/);
  });

  test.each([["' OR 1=1 --"], ["bad domain"], ["-x.me"], [`${"a".repeat(47)}.me.x`], [""]])("rejects the domain %j", (name) => {
    expect(() => upsertDomainSql(name)).toThrow(/mail domain/);
    expect(() => deleteDomainSql(name)).toThrow(/mail domain/);
  });
});
