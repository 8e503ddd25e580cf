// The SQL that keeps the mail database, its application user and the grant,
// run as root through the server's own client (end-to-end tests run it on
// MariaDB 10.11; here: what it says, and what it refuses).
import {
  LEGACY_ADMIN_USER,
  createDatabaseSql,
  createUserSql,
  dropDatabaseSql,
  dropUserSql,
  grantSelectSql,
  renderDbServerFiles,
  revokeSelectSql,
} from "../../components/render/dbServer";

test("the database: made once in utf8mb4, dropped on destroy; the legacy admin account goes", () => {
  expect(createDatabaseSql("mailserver")).toBe(
    "CREATE DATABASE IF NOT EXISTS `mailserver` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;",
  );
  expect(createDatabaseSql("mailserver", "10.0.0.1")).toBe(
    "CREATE DATABASE IF NOT EXISTS `mailserver` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;\n" +
      `DROP USER IF EXISTS '${LEGACY_ADMIN_USER}'@'10.0.0.1';`,
  );
  expect(dropDatabaseSql("mailserver")).toBe("DROP DATABASE IF EXISTS `mailserver`;");
});

test("the application user: made or re-passworded idempotently, from one address or anywhere", () => {
  expect(createUserSql("mailrl", "192.168.100.6", "s3cret")).toBe(
    "CREATE USER IF NOT EXISTS 'mailrl'@'192.168.100.6' IDENTIFIED BY 's3cret';\n" +
      "ALTER USER 'mailrl'@'192.168.100.6' IDENTIFIED BY 's3cret';",
  );
  expect(dropUserSql("mailrl", "%")).toBe("DROP USER IF EXISTS 'mailrl'@'%';");
});

test("a password with SQL metacharacters stays one string literal", () => {
  const sql = createUserSql("mailrl", "%", `it's"; DROP DATABASE mysql; -- \\`);
  expect(sql).toContain(`IDENTIFIED BY 'it\\'s\\"; DROP DATABASE mysql; -- \\\\';`);
  expect(sql.split("\n")).toHaveLength(2);
});

test("the grant is SELECT on the mail database only, and is taken back on destroy", () => {
  expect(grantSelectSql("mailserver", "mailrl", "%")).toBe("GRANT SELECT ON `mailserver`.* TO 'mailrl'@'%';");
  expect(revokeSelectSql("mailserver", "mailrl", "%")).toBe("REVOKE SELECT ON `mailserver`.* FROM 'mailrl'@'%';");
});

test.each([
  [() => createDatabaseSql("mail`server"), /database name "mail`server" must be 1-64 of/],
  [() => dropDatabaseSql(""), /database name "" must be/],
  [() => createUserSql("mail rl", "%", "x"), /database account "mail rl" must be 1-32 of/],
  [() => createUserSql("mailrl", "localhost'--", "x"), /host "localhost'--" is not an IPv4 address or "%"/],
  [() => grantSelectSql("mailserver", "mailrl", "10.0.0.256"), /is not an IPv4 address/],
  [() => createDatabaseSql("mailserver", "*"), /host "\*" is not an IPv4 address/],
  [() => renderDbServerFiles("debian", "0.0.0.0; x"), /bind address/],
])("refuses what is not a plain name or address (%#)", (f, message) => {
  expect(f).toThrow(message);
});
