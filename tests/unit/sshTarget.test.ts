// The program with `target: ssh`, under Pulumi's mocks: the same components
// put on hosts with remote commands (facts, packages, files, services,
// reloads, health), the RHEL family as the facts report it, nothing of Docker.
import * as pulumi from "@pulumi/pulumi";
import { generateKeyPairSync } from "crypto";
import { testCertificate } from "../fixtures/certificates";
import { Created, isSecret, mockResources, valueOf } from "../fixtures/mocks";

const DKIM_PEM = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const CERT = JSON.stringify({ ca: pem("CERTIFICATE", "CA"), certificate: testCertificate("mail.rockylinux.me"), key: pem("PRIVATE KEY", "KEY") });
const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

const created = mockResources((args) => {
  if (args.type === "command:remote:Command" && args.name.endsWith("-facts")) {
    return { stdout: "family=rhel\nos=rocky 8.9\ninit=systemd\nclient=10.20.0.99" };
  }
  // The key recorder prints the pinned key, else the one the host presents.
  if (args.type === "command:local:Command" && args.name.startsWith("hostkey-")) {
    const env = args.inputs.environment as Record<string, string>;
    return { stdout: env.PINNED_KEY ?? `ssh-ed25519 RECORDED${env.SSH_HOST.replace(/\./g, "")}x${env.SSH_PORT}` };
  }
  if (args.type === "command:local:Command") {
    const stdout = args.name.endsWith("-serial") ? "1700000000" : args.name.endsWith("-issue") ? CERT : args.name.includes("-dkim-") ? DKIM_PEM : "";
    return { stdout };
  }
  if (args.type === "random:index/randomPassword:RandomPassword") return { result: `pw-${args.name}` };
  if (args.type === "random:index/randomString:RandomString") return { result: "SaltSaltSaltSalt" };
  return {};
});

/** The plain value of an input that may be a secret envelope. */
function open(v: unknown): unknown {
  if (v !== null && typeof v === "object" && (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) {
    return open((v as { value: unknown }).value);
  }
  return v;
}
const byName = (name: string): Created => {
  const r = created.find((c) => c.name === name);
  if (!r) throw new Error(`no resource ${name}; have ${created.map((c) => c.name).join(", ")}`);
  return r;
};
const stdinOf = async (name: string) => open(await byName(name).inputs.stdin) as string;
/** The files a files script writes: path -> content. */
function written(script: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of script.matchAll(/^put '([^']+)' \S+ \S+ \S+ '([A-Za-z0-9+/=]*)'$/gm)) out.set(m[1], Buffer.from(m[2], "base64").toString());
  return out;
}

describe("the seed's lab on three RHEL hosts over SSH", () => {
  let outputs: typeof import("../../index");

  beforeAll(async () => {
    pulumi.runtime.setAllConfig(
      {
        "mail-system:domain": "rockylinux.me",
        "mail-system:mailDomains": JSON.stringify(["rockylinux.me"]),
        "mail-system:users": JSON.stringify([{ email: "frank@rockylinux.me", password: "onetestandone" }]),
        "mail-system:target": "ssh",
        "mail-system:sshPrivateKey": SSH_KEY,
        "mail-system:hosts": JSON.stringify({
          dns: { address: "192.168.100.7" },
          db: { address: "192.168.100.5", user: "admin", port: 2222 },
          mail: { address: "192.168.100.6", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB" },
        }),
      },
      ["mail-system:users", "mail-system:sshPrivateKey"],
    );
    outputs = await import("../../index");
    await valueOf(outputs.endpoints);
    await valueOf(outputs.zoneSerial);
    await valueOf(outputs.deployCheck);
  });

  test("nothing of Docker: every server is remote commands on its host", () => {
    expect(created.filter((r) => r.type.startsWith("docker:"))).toEqual([]);
    const remote = created.filter((r) => r.type === "command:remote:Command").map((r) => r.name);
    for (const role of ["dns", "db", "mail"]) {
      for (const step of ["facts", "packages", "files", "health"]) expect(remote).toContain(`${role}-${step}`);
    }
    expect(remote).toEqual(expect.arrayContaining(["dns-named", "db-server", "mail-dovecot", "mail-opendkim", "mail-postfix"]));
    // A daemon's reload is its own step's update: no step of its own.
    expect(remote.filter((n) => n.endsWith("-reload"))).toEqual([]);
  });

  test("each role connects to its own host, user and port; the key is secret; a pinned host key is passed", async () => {
    const conn = async (name: string) => open(await byName(name).inputs.connection) as Record<string, unknown>;
    expect(await conn("db-files")).toMatchObject({ host: "192.168.100.5", user: "admin", port: 2222 });
    expect(await conn("dns-files")).toMatchObject({ host: "192.168.100.7", user: "root", port: 22 });
    expect(await conn("mail-files")).toMatchObject({ hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB" });
    // A few tries only: a changed key fails the deploy at once (the key scan waits for a booting host).
    expect(await conn("mail-files")).toMatchObject({ dialErrorLimit: 5, perDialTimeout: 5 });
    const raw = (await byName("dns-files").inputs.connection) as Record<string, unknown>;
    expect(raw[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig); // the key makes it all secret
    expect(open((open(raw) as Record<string, unknown>).privateKey)).toBe(SSH_KEY);
  });

  test("each SSH server's key is recorded once (trust on first use) and every command of its roles requires it", async () => {
    const recorders = created.filter((r) => r.name.startsWith("hostkey-"));
    expect(recorders.map((r) => r.name).sort()).toEqual(["hostkey-192.168.100.5-2222", "hostkey-192.168.100.6-22", "hostkey-192.168.100.7-22"]);
    for (const r of recorders) expect(r.type).toBe("command:local:Command");
    const dnsKey = byName("hostkey-192.168.100.7-22").inputs;
    expect(dnsKey.environment).toEqual({ SSH_HOST: "192.168.100.7", SSH_PORT: "22", KEY_SETTING: "hosts.dns.hostKey" });
    // Only another server asks again; the pinned key is checked against what the host presents.
    expect(dnsKey.triggers).toEqual(["192.168.100.7", 22]);
    expect(byName("hostkey-192.168.100.6-22").inputs.environment).toMatchObject({ PINNED_KEY: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB" });

    const expected: Record<string, string> = {
      "192.168.100.7": "ssh-ed25519 RECORDED1921681007x22",
      "192.168.100.5": "ssh-ed25519 RECORDED1921681005x2222",
      "192.168.100.6": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB",
    };
    const remote = created.filter((r) => r.type === "command:remote:Command");
    expect(remote.length).toBeGreaterThan(20);
    for (const r of remote) {
      const c = open(await r.inputs.connection) as { host: string; hostKey?: string };
      expect([r.name, c.hostKey]).toEqual([r.name, expected[c.host]]);
    }
  });

  test("packages: dnf on the RHEL family (bind, mysql-server, EPEL then OpenDKIM)", async () => {
    expect(await stdinOf("dns-packages")).toContain("for p in bind bind-utils; do");
    expect(await stdinOf("db-packages")).toContain("for p in mysql-server; do");
    const mail = await stdinOf("mail-packages");
    expect(mail).toContain("dnf install -y -q $missing");
    expect(mail).toContain("for p in epel-release; do");
    expect(mail).toContain("useradd -u 2000 -g vmail"); // files/mail/accounts.sh, the images' own
  });

  test("files: RHEL's BIND layout, MySQL's my.cnf.d, the same Postfix/Dovecot files as in a container", async () => {
    const dns = written(await stdinOf("dns-files"));
    expect([...dns.keys()]).toEqual(expect.arrayContaining(["/etc/named.conf", "/var/named/rockylinux.me.zone"]));
    expect(dns.get("/var/named/rockylinux.me.zone")).toMatch(/^mail\s+IN\s+A\s+192\.168\.100\.6$/m);
    expect(dns.get("/usr/local/sbin/mail-system-dns-healthcheck")).toContain("dig +norec");
    const db = written(await stdinOf("db-files"));
    expect(db.get("/etc/my.cnf.d/mail-system.cnf")).toContain("bind-address = 192.168.100.5");
    const mail = written(await stdinOf("mail-files"));
    expect(mail.get("/etc/postfix/mysql-virtual-mailbox-maps.cf")).toContain("pw-db-app");
    // Rspamd's files come first, in a step of their own; a host's own resolver, which Rspamd uses as it is.
    const filter = written(await stdinOf("mail-early-files"));
    expect([...mail.keys()].filter((f) => f.startsWith("/etc/rspamd/"))).toEqual([]);
    expect(filter.get("/etc/rspamd/override.d/options.inc")).not.toMatch(/nameserver/);
    expect(mail.get("/etc/dovecot/dovecot.conf")).toContain("ssl_dh = </etc/dovecot/dh.pem");
    expect([...mail.keys()]).toContain("/etc/dovecot/dh.pem");
    expect(mail.get("/etc/opendkim/keys/rockylinux.me/mail.private")).toBe(DKIM_PEM.endsWith("\n") ? DKIM_PEM : `${DKIM_PEM}\n`);
  });

  test("scripts holding secrets travel as secrets", async () => {
    for (const name of ["mail-files", "db-files", "db-app-user", "db-user-frank@rockylinux.me"]) {
      const stdin = byName(name).inputs.stdin;
      expect((await stdin)[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
    }
  });

  test("services: RHEL unit names, each checked before it is (re)started", async () => {
    expect(await stdinOf("db-server")).toContain("svc enable mysqld");
    expect(await stdinOf("dns-named")).toContain("/usr/sbin/named-checkconf -z /etc/named.conf >&2\n");
    expect(await stdinOf("dns-named")).toContain("runuser -u named -- test -r \"$f\"");
    expect(await stdinOf("mail-postfix")).toContain("postfix check\nsvc enable postfix\n");
    expect(await stdinOf("mail-postfix")).toMatch(/\]; then svc reload postfix \|\| svc restart postfix\n/);
    expect(await stdinOf("mail-opendkim")).toContain("opendkim -n -x /etc/opendkim.conf\nsvc enable opendkim\n");
    expect(await stdinOf("mail-opendkim")).toMatch(/\]; then svc restart opendkim\n/);
  });

  test("the database, the application user and its grant go through the server's own client; no mysql provider", async () => {
    expect(created.filter((r) => r.type.startsWith("mysql:") || r.type === "pulumi:providers:mysql")).toEqual([]);
    const database = await stdinOf("db-database");
    expect(database).toContain("'mysql' '--batch' <<'MAIL_SYSTEM_INPUT'\nCREATE DATABASE IF NOT EXISTS `mailserver`");
    // The administrator account of earlier versions, allowed from the engine's address the host reported, goes.
    expect(database).toContain("DROP USER IF EXISTS 'mail_system_admin'@'10.20.0.99';");
    expect(database).toContain("DROP DATABASE IF EXISTS `mailserver`;");
    const user = await stdinOf("db-app-user");
    expect(user).toContain("CREATE USER IF NOT EXISTS 'mailrl'@'192.168.100.6' IDENTIFIED BY 'pw-db-app-password' REQUIRE SSL;");
    expect(user).toContain("DROP USER IF EXISTS 'mailrl'@'192.168.100.6';");
    expect(await stdinOf("db-app-grant")).toContain("GRANT SELECT ON `mailserver`.* TO 'mailrl'@'192.168.100.6';");
    for (const name of ["db-database", "db-app-user", "db-app-grant"]) expect((open(await byName(name).inputs.connection) as { host: string }).host).toBe("192.168.100.5");
    // The password travels on stdin, as a secret; a new host for the account replaces it.
    expect((await byName("db-app-user").inputs.stdin)[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
    expect(open(await byName("db-app-user").inputs.triggers)).toEqual(["mailrl", "192.168.100.6"]);
  });

  test("outputs are the Docker target's, with servers as user@host", async () => {
    expect(await valueOf(outputs.servers.db)).toBe("admin@192.168.100.5");
    expect(await valueOf(outputs.servers.mail)).toBe("root@192.168.100.6");
    expect((await valueOf(outputs.endpoints)).submission).toBe("192.168.100.6:587");
    expect(await isSecret(outputs.userPasswords)).toBe(true);
  });
});

describe("reloads follow exactly the files each daemon reads", () => {
  /** The daemons' steps' scripts (each with the digest of what it reads) of a MailServer rendered with `change` applied. */
  async function triggers(name: string, change: { password?: string; selector?: string }) {
    const { MailServer } = await import("../../components/mailServer");
    const { SshTarget } = await import("../../components/targets/ssh");
    const host = { address: "10.0.0.6", privateKey: SSH_KEY };
    new MailServer(name, {
      target: new SshTarget({ mail: host }),
      address: "10.0.0.6",
      zone: "example.test",
      hostLabel: "mail",
      mailDomains: ["example.test"],
      database: { host: "10.0.0.5", port: 3306, name: "mailserver", user: "mailrl", password: change.password ?? "pw", caCertificate: "-----BEGIN CERTIFICATE-----\nREItQ0E=\n-----END CERTIFICATE-----\n" },
      certificate: "CERT",
      privateKey: "KEY",
      dkimSelector: change.selector ?? "mail",
    });
    const out: Record<string, string> = {};
    for (const service of ["dovecot", "opendkim", "postfix"]) {
      // Registered once the facts resolve (bounded wait).
      for (let i = 0; i < 100 && !created.some((r) => r.name === `${name}-${service}`); i++) await new Promise((r) => setTimeout(r, 20));
      const stdin = await byName(`${name}-${service}`).inputs.stdin;
      // The digest of its files makes the script a secret.
      expect(stdin[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
      out[service] = open(stdin) as string;
    }
    return out;
  }

  test("a new database password reloads Postfix and Dovecot, not OpenDKIM; a new selector only OpenDKIM", async () => {
    const base = await triggers("m1", {});
    const password = await triggers("m2", { password: "other" });
    expect(password.postfix).not.toBe(base.postfix);
    expect(password.dovecot).not.toBe(base.dovecot);
    // DKIM keys are per resource name: compare OpenDKIM against itself across password changes only.
    const sameKeys = await triggers("m1b", {});
    expect(sameKeys.postfix).toBe(base.postfix);
    expect(sameKeys.dovecot).toBe(base.dovecot);
    const selector = await triggers("m3", { selector: "s2024" });
    expect(selector.postfix).toBe(base.postfix);
    expect(selector.dovecot).toBe(base.dovecot);
    expect(selector.opendkim).not.toBe(base.opendkim);
  });
});

describe("roles on one SSH server", () => {
  test("share its recorded key: one recorder, whose key both roles' commands require", async () => {
    const { SshTarget } = await import("../../components/targets/ssh");
    const shared = { address: "10.9.0.1", privateKey: SSH_KEY };
    const target = new SshTarget({ dns: shared, db: { ...shared, user: "admin" }, mail: { address: "10.9.0.1", port: 2200, privateKey: SSH_KEY } });
    const parent = new pulumi.ComponentResource("test:index:Servers", "shared");
    for (const role of ["dns", "db", "mail"]) {
      target.place(`shared-${role}`, { role, packages: { debian: [], rhel: [] }, files: () => [], services: [], capabilities: [] }, "10.9.0.1", parent);
    }
    // Registered asynchronously (bounded wait).
    for (let i = 0; i < 100 && !created.some((r) => r.name === "shared-mail-facts"); i++) await new Promise((r) => setTimeout(r, 20));
    // Another port is another SSH server (its own key).
    expect(created.filter((r) => r.name.startsWith("hostkey-10.9.0.1-")).map((r) => r.name)).toEqual(["hostkey-10.9.0.1-22", "hostkey-10.9.0.1-2200"]);
    expect(byName("hostkey-10.9.0.1-22").inputs.environment.KEY_SETTING).toBe("hosts.dns.hostKey and hosts.db.hostKey");
    const keyOf = async (name: string) => (open(await byName(name).inputs.connection) as { hostKey: string }).hostKey;
    expect(await keyOf("shared-dns-facts")).toBe("ssh-ed25519 RECORDED10901x22");
    expect(await keyOf("shared-db-facts")).toBe("ssh-ed25519 RECORDED10901x22");
    expect(await keyOf("shared-mail-facts")).toBe("ssh-ed25519 RECORDED10901x2200");
  });
});
