// The SQL that keeps the mail database, its application user and the grant,
// run as root through the server's own client (end-to-end tests run it on
// MariaDB 10.11; here: what it says, and what it refuses).
import {
  DB_TLS_FILES,
  LEGACY_ADMIN_USER,
  SERVER_CNF_PATH,
  createDatabaseSql,
  createUserSql,
  dropDatabaseSql,
  dropUserSql,
  grantSelectSql,
  renderDbServerFiles,
  revokeSelectSql,
} from "../../components/render/dbServer";
import { DB_SERVICES } from "../../components/mysqlServer";

const pem = (label: string, body = "MIIBAA==") => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const TLS = { certificate: pem("CERTIFICATE", "TEVBRg=="), privateKey: pem("PRIVATE KEY"), caCertificate: pem("CERTIFICATE", "Q0E=") };

/** `name = value` lines of an option file. */
const options = (text: string) =>
  new Map(
    text
      .split("\n")
      .map((l) => /^([a-z_-]+) = (.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );

test("server.cnf: listens on its address, TLS 1.2+ with the rendered certificate, key and CA", () => {
  for (const family of ["debian", "rhel"] as const) {
    const files = renderDbServerFiles(family, "10.0.0.5", TLS);
    expect(files.map((f) => f.path)).toEqual([SERVER_CNF_PATH[family], DB_TLS_FILES.certificate, DB_TLS_FILES.ca, DB_TLS_FILES.key]);
    const cnf = files[0].content;
    expect(cnf).toMatch(/^\[mysqld\]$/m);
    expect(Object.fromEntries(options(cnf))).toEqual({
      "bind-address": "10.0.0.5",
      port: "3306",
      ssl_cert: DB_TLS_FILES.certificate,
      ssl_key: DB_TLS_FILES.key,
      ssl_ca: DB_TLS_FILES.ca,
      tls_version: "TLSv1.2,TLSv1.3",
    });
    const at = (p: string) => files.find((f) => f.path === p)!;
    expect(at(DB_TLS_FILES.certificate)).toMatchObject({ content: TLS.certificate, owner: "root", mode: "0644" });
    expect(at(DB_TLS_FILES.ca)).toMatchObject({ content: TLS.caCertificate, owner: "root", mode: "0644" });
    // The key: the server's account alone, and a secret.
    expect(at(DB_TLS_FILES.key)).toEqual({ path: DB_TLS_FILES.key, content: TLS.privateKey, owner: "mysql", group: "mysql", mode: "0600", secret: true });
    expect(files.filter((f) => f.path !== DB_TLS_FILES.key).some((f) => f.secret || f.content.includes("PRIVATE KEY"))).toBe(false);
  }
});

test("a new certificate or key restarts the server (it reads them at start only)", () => {
  const [server] = DB_SERVICES;
  for (const p of [...Object.values(DB_TLS_FILES), SERVER_CNF_PATH.debian, SERVER_CNF_PATH.rhel]) expect(server.reads(p)).toBe(true);
  expect(server.onChange).toBe("restart");
  expect(server.reads("/usr/local/sbin/mail-system-healthcheck-db")).toBe(false);
});

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

test("the application user: made or re-passworded idempotently, from one address or anywhere, TLS required (also of an existing one)", () => {
  expect(createUserSql("mailrl", "192.168.100.6", "s3cret")).toBe(
    "CREATE USER IF NOT EXISTS 'mailrl'@'192.168.100.6' IDENTIFIED BY 's3cret' REQUIRE SSL;\n" +
      "ALTER USER 'mailrl'@'192.168.100.6' IDENTIFIED BY 's3cret' REQUIRE SSL;",
  );
  expect(dropUserSql("mailrl", "%")).toBe("DROP USER IF EXISTS 'mailrl'@'%';");
});

test("a password with SQL metacharacters stays one string literal", () => {
  const sql = createUserSql("mailrl", "%", `it's"; DROP DATABASE mysql; -- \\`);
  expect(sql).toContain(`IDENTIFIED BY 'it\\'s\\"; DROP DATABASE mysql; -- \\\\' REQUIRE SSL;`);
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
  [() => renderDbServerFiles("debian", "0.0.0.0; x", TLS), /bind address/],
  [() => renderDbServerFiles("debian", "10.0.0.5", { ...TLS, certificate: "" }), /tls.certificate is not a PEM certificate/],
  [() => renderDbServerFiles("debian", "10.0.0.5", { ...TLS, certificate: TLS.privateKey }), /tls.certificate is not a PEM certificate/],
  [() => renderDbServerFiles("debian", "10.0.0.5", { ...TLS, caCertificate: "CA" }), /tls.caCertificate is not a PEM certificate/],
  [() => renderDbServerFiles("debian", "10.0.0.5", { ...TLS, privateKey: TLS.certificate }), /tls.privateKey is not a PEM private key/],
])("refuses what is not a plain name or address (%#)", (f, message) => {
  expect(f).toThrow(message);
});
