// The components' wiring, with Pulumi's mocks: what one component outputs is
// what the next one renders into its files.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { sha512Crypt } from "../../components/passwordHash";
import { testCertificate } from "../fixtures/certificates";
import { isSecret, mockResources, providerAnswers, valueOf } from "../fixtures/mocks";

// What an issue command prints, different per command (the mail host's, the database's).
const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const certFor = (command: string) => ({
  ca: pem("CERTIFICATE", `CA ${command}`),
  certificate: testCertificate(command),
  key: pem("PRIVATE KEY", `KEY ${command}`),
});

// The DKIM keys DkimKeys' openssl commands would print: a real RSA key per domain.
const DKIM_KEYS = new Map<string, string>();
function dkimKeyFor(commandName: string): string {
  let pem = DKIM_KEYS.get(commandName);
  if (!pem) {
    pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    DKIM_KEYS.set(commandName, pem.trimEnd());
  }
  return DKIM_KEYS.get(commandName)!;
}

// What the providers would answer, the issued certificates and DKIM keys per command.
const created = mockResources(providerAnswers(certFor, dkimKeyFor));

type Upload = { file: string; content: string; owner: string; group: string; permissions: string };
/** The files the server's files script writes into its container (path, owner, group, mode, content). */
/** Every file a server's files steps write (its early files included). */
async function uploadsOf(server: string): Promise<Map<string, Upload>> {
  const steps = created.filter((r) => r.type === "command:local:Command" && (r.name === `${server}-files` || r.name === `${server}-early-files`));
  if (!steps.some((r) => r.name === `${server}-files`)) throw new Error(`no files command for ${server}`);
  const files: Upload[] = [];
  for (const c of steps) {
    const script = unwrapSecrets(await c.inputs.stdin) as string;
    files.push(...[...script.matchAll(/^put '([^']+)' (\S+) (\S+) (\S+) '([A-Za-z0-9+/=]*)'$/gm)].map(
      ([, file, owner, group, permissions, b64]): Upload => ({ file, owner, group, permissions, content: Buffer.from(b64, "base64").toString() }),
    ));
  }
  return new Map(files.map((u) => [u.file, u]));
}

/** Values holding secrets reach the mocks in Pulumi's secret envelope (possibly nested); this opens them. */
function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return unwrapSecrets(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

describe("the seed's lab, wired", () => {
  let outputs: typeof import("../../index");

  beforeAll(async () => {
    pulumi.runtime.setAllConfig({
      "mail-system:domain": "rockylinux.me",
      "mail-system:mailDomains": JSON.stringify(["mail.rockylinux.me", "rockylinux.me"]),
      "mail-system:users": JSON.stringify([{ email: "frank@mail.rockylinux.me" }, { email: "leeo@mail.rockylinux.me", password: "twotestandtwo" }]),
      "mail-system:aliases": JSON.stringify([{ source: "all@mail.rockylinux.me", destination: "frank@mail.rockylinux.me" }]),
      "mail-system:aliasDomains": JSON.stringify([{ domain: "other.rockylinux.me", target: "mail.rockylinux.me" }]),
      "mail-system:records": JSON.stringify([{ name: "www", type: "A", value: "192.0.2.80" }, { name: "_dmarc.partner", type: "TXT", value: "v=DMARC1; p=reject" }]),
    }, ["mail-system:users"]);
    outputs = await import("../../index");
    // Let the mocked registrations settle.
    await valueOf(outputs.endpoints);
    await valueOf(outputs.zoneSerial);
  });

  test("the zone holds the mail server's address and MX from the MailServer's outputs", async () => {
    const dns = await uploadsOf("dns");
    const zoneFile = [...dns.values()].find((u) => u.content.includes("SOA"));
    expect(zoneFile).toBeDefined();
    const zone = zoneFile!.content;
    expect(zone).toMatch(/^mail\s+(\d+\s+)?(IN\s+)?A\s+192\.168\.100\.6$/m);
    expect(zone).toMatch(/^dns\s+(\d+\s+)?(IN\s+)?A\s+192\.168\.100\.7$/m);
    expect(zone).toMatch(/^@?\s+(\d+\s+)?(IN\s+)?MX\s+2\s+mail\.rockylinux\.me\.$/m);
    expect(zone).toContain("1700000000");
  });

  test("the zone holds the user's own records (mail-system:records) beside the program's", async () => {
    const zone = [...(await uploadsOf("dns")).values()].find((u) => u.content.includes("SOA"))!.content;
    expect(zone).toMatch(/^www\s+(\d+\s+)?(IN\s+)?A\s+192\.0\.2\.80$/m);
    expect(zone).toMatch(/^_dmarc\.partner\s+(\d+\s+)?(IN\s+)?TXT\s+"v=DMARC1; p=reject"$/m);
    // Not among the mail server's own.
    expect(await valueOf(outputs.mailDnsRecords)).not.toContainEqual(expect.objectContaining({ name: "www" }));
  });

  test("the zone holds SPF, DMARC and SRV records for each mail domain, as the MailServer outputs them", async () => {
    const zone = [...(await uploadsOf("dns")).values()].find((u) => u.content.includes("SOA"))!.content;
    const records = await valueOf(outputs.mailDnsRecords);
    // Zone lines with runs of blanks collapsed (the renderer aligns columns).
    const lines = zone.split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    // (TXT values longer than 255 bytes are split; the DKIM test below joins them.)
    for (const r of records.filter((x) => x.type !== "TXT" || Buffer.byteLength(x.value) <= 255)) {
      const data = r.type === "TXT" ? `"${r.value}"` : [r.priority, r.value].filter((x) => x !== undefined).join(" ");
      expect(lines).toContain(`${r.name}${r.ttl === undefined ? "" : ` ${r.ttl / 60}M`} IN ${r.type} ${data}`);
    }
    // DANE: the TLSA record pins the key of the certificate the mail server presents, for 5 minutes.
    const { X509Certificate, createHash } = await import("crypto");
    const spki = new X509Certificate(testCertificate("mail-tls-issue")).publicKey.export({ type: "spki", format: "der" });
    expect(records).toContainEqual({ name: "_25._tcp.mail", type: "TLSA", value: `3 1 1 ${createHash("sha256").update(spki).digest("hex").toUpperCase()}`, ttl: 300 });
    // Per domain: SPF at the domain, DMARC at _dmarc, the six RFC 6186/8314 services, ManageSieve, Outlook's autodiscover.
    for (const owner of ["@", "mail"]) {
      const at = (name: string) => records.filter((r) => r.name === name);
      expect(at(owner).filter((r) => r.type === "TXT").map((r) => r.value)).toEqual(["v=spf1 mx -all"]);
      const dmarc = owner === "@" ? "_dmarc" : `_dmarc.${owner}`;
      expect(at(dmarc).map((r) => r.value)).toEqual(["v=DMARC1; p=quarantine; rua=mailto:postmaster@rockylinux.me"]);
      const srv = records.filter((r) => r.type === "SRV" && (owner === "@" ? r.name.split(".").length === 2 : r.name.endsWith(`.${owner}`)));
      expect(srv.map((r) => `${r.name.split(".")[0]} ${r.priority} ${r.value}`).sort()).toEqual([
        "_autodiscover 0 0 443 mail.rockylinux.me.",
        "_imap 10 1 143 mail.rockylinux.me.",
        "_imaps 0 1 993 mail.rockylinux.me.",
        "_pop3 10 1 110 mail.rockylinux.me.",
        "_pop3s 0 1 995 mail.rockylinux.me.",
        "_sieve 0 1 4190 mail.rockylinux.me.",
        "_submission 10 1 587 mail.rockylinux.me.",
        "_submissions 0 1 465 mail.rockylinux.me.",
      ]);
    }
    expect(zone).toMatch(/^_submission\._tcp\s+IN\s+SRV\s+10 1 587 mail\.rockylinux\.me\.$/m);
    expect(zone).toMatch(/^_dmarc\.mail\s+IN\s+TXT\s+"v=DMARC1; p=quarantine; rua=mailto:postmaster@rockylinux\.me"$/m);
  });

  test("the zone publishes, per mail domain, the DKIM public key of the private key uploaded to the mail container", async () => {
    const zone = [...(await uploadsOf("dns")).values()].find((u) => u.content.includes("SOA"))!.content;
    const mail = await uploadsOf("mail");
    const records = await valueOf(outputs.mailDnsRecords);
    /** The TXT strings of an owner in the zone file, joined back (one line, or several in parentheses). */
    const txtAt = (owner: string): string[] => {
      const re = new RegExp(`^${owner.replace(/\./g, "\\.")}\\s+IN\\s+TXT\\s+(\\([^)]*\\)|"[^\\n]*")`, "gm");
      return [...zone.matchAll(re)].map((m) => {
        const strings = [...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]);
        for (const x of strings) expect(Buffer.byteLength(x)).toBeLessThanOrEqual(255);
        return strings.join("");
      });
    };
    const signed = [["rockylinux.me", "mail._domainkey"], ["mail.rockylinux.me", "mail._domainkey.mail"], ["other.rockylinux.me", "mail._domainkey.other"]];
    for (const [domain, owner] of signed) {
      const key = mail.get(`/etc/opendkim/keys/${domain}/mail.private`);
      expect(key).toMatchObject({ owner: "opendkim", group: "opendkim", permissions: "0600" });
      expect(createPrivateKey(key!.content).asymmetricKeyDetails?.modulusLength).toBe(2048);
      const p = createPublicKey(key!.content).export({ type: "spki", format: "der" }).toString("base64");
      const value = `v=DKIM1; k=rsa; p=${p}`;
      expect(records).toContainEqual({ name: owner, type: "TXT", value });
      expect(txtAt(owner)).toEqual([value]);
      expect(mail.get("/etc/opendkim/KeyTable")!.content).toContain(
        `${owner.split(".").slice(0, 2).join(".")}.${domain} ${domain}:mail:/etc/opendkim/keys/${domain}/mail.private`,
      );
      expect(mail.get("/etc/opendkim/SigningTable")!.content).toMatch(new RegExp(`^\\*@${domain.replace(/\./g, "\\.")} mail\\._domainkey\\.`, "m"));
    }
    // Two mail domains and an alias domain, three different keys; Postfix passes mail through OpenDKIM.
    expect(new Set(DKIM_KEYS.values()).size).toBe(3);
    expect(mail.get("/etc/postfix/main.cf")!.content).toMatch(/^smtpd_milters = unix:\/var\/spool\/postfix\/opendkim\/opendkim\.sock$/m);
    expect(mail.get("/etc/postfix/main.cf")!.content).toMatch(/^milter_default_action = accept$/m);
    // Rspamd filters mail on 25 (deferring it when down), its own domains the mail domains, thresholds the defaults.
    expect(mail.get("/etc/postfix/main.cf")!.content).toMatch(/^inbound_milters = \{ inet:127\.0\.0\.1:11332, default_action=tempfail \}$/m);
    expect(mail.get("/etc/rspamd/local.d/maps.d/own-domains.map")!.content.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual(["mail.rockylinux.me", "other.rockylinux.me", "rockylinux.me"]);
    // The public records are not secret; the keys are.
    expect(await (outputs.mailDnsRecords as unknown as { isSecret: Promise<boolean> }).isSecret).toBe(false);
    const files = created.find((r) => r.type === "command:local:Command" && r.name === "mail-files")!;
    const script = (await files.inputs.stdin) as Record<string, unknown>;
    expect(script[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
  });

  test("in a container Rspamd asks the lab's DNS server itself, not through Docker's embedded DNS (dockerd)", async () => {
    const dns = created.find((r) => r.type === "docker:index/container:Container" && r.name === "mail")!;
    const servers = (await dns.inputs.dns) as string[];
    expect(servers).toEqual(["192.168.100.7"]);
    const options = (await uploadsOf("mail")).get("/etc/rspamd/override.d/options.inc")!.content;
    expect(options).toMatch(/^ {2}nameserver = \["192\.168\.100\.7"\];$/m);
  });

  test("autoconfig (on by default): the web server's files, its unit, its records and the certificate's names", async () => {
    const mail = await uploadsOf("mail");
    const conf = mail.get("/etc/nginx/nginx.conf")!;
    expect(conf).toMatchObject({ owner: "root", permissions: "0644" });
    expect(conf.content).toMatch(/^user www-data;$/m);
    // The container's log, and the certificate Postfix and Dovecot present.
    expect(conf.content).toMatch(/^error_log stderr warn;$/m);
    expect(conf.content).toContain("ssl_certificate /etc/ssl/mail/fullchain.pem;");
    expect(conf.content).toMatch(
      /server_name mail\.rockylinux\.me autoconfig\.mail\.rockylinux\.me autodiscover\.mail\.rockylinux\.me autoconfig\.rockylinux\.me autodiscover\.rockylinux\.me autoconfig\.other\.rockylinux\.me autodiscover\.other\.rockylinux\.me;/,
    );
    // An alias domain is hosted like a mail domain: clients there are configured too.
    for (const d of ["mail.rockylinux.me", "rockylinux.me", "other.rockylinux.me"]) {
      expect(mail.get(`/etc/nginx/mail-system/autoconfig/${d}.xml`)?.content).toContain(`<domain>${d}</domain>`);
    }
    expect(mail.get("/etc/nginx/mail-system/autodiscover.xml")?.content).toContain("<Server>mail.rockylinux.me</Server>");
    // nginx in the image, and the health check waits for its port.
    const image = created.find((r) => r.type === "docker:index/image:Image" && r.name.startsWith("mail"))!;
    expect((await image.inputs.build).args.PACKAGES.split(" ")).toContain("nginx");
    const container = created.find((r) => r.type === "docker:index/container:Container" && r.name === "mail")!;
    expect(await container.inputs.envs).toContain("WEB_PORT=443");
    // The names' A records at the mail server's address.
    const records = await valueOf(outputs.mailDnsRecords);
    for (const name of ["autoconfig", "autodiscover", "autoconfig.mail", "autodiscover.mail"]) {
      expect(records).toContainEqual({ name, type: "A", value: "192.168.100.6" });
    }
    // The certificate names them: the script for extra names, the names in its environment and triggers.
    const { MAIL_NAMES_ISSUE_SCRIPT } = await import("../../components/mailCertificate");
    const issue = created.find((r) => r.name === "mail-tls-issue")!;
    const sans = "DNS:autoconfig.mail.rockylinux.me,DNS:autodiscover.mail.rockylinux.me,DNS:autoconfig.rockylinux.me,DNS:autodiscover.rockylinux.me,DNS:autoconfig.other.rockylinux.me,DNS:autodiscover.other.rockylinux.me";
    expect(issue.inputs.create).toBe(MAIL_NAMES_ISSUE_SCRIPT);
    expect((await issue.inputs.environment).EXTRA_SANS).toBe(sans);
    expect(await issue.inputs.triggers).toEqual(["mail.rockylinux.me", "192.168.100.6", 825, sans]);
  });

  test("manualRecords lists the delegation, its glue, the DS of the signed zone and the mail server's PTR", async () => {
    const records = await valueOf(outputs.manualRecords);
    expect(records).toEqual([
      expect.objectContaining({ zone: "me", name: "rockylinux.me.", type: "NS", value: "dns.rockylinux.me." }),
      expect.objectContaining({ zone: "me", name: "dns.rockylinux.me.", type: "A", value: "192.168.100.7" }),
      expect.objectContaining({ zone: "me", name: "rockylinux.me.", type: "DS", value: expect.stringMatching(/^\d+ 13 2 [0-9A-F]{64}$/) }),
      expect.objectContaining({ zone: "100.168.192.in-addr.arpa", name: "6.100.168.192.in-addr.arpa.", type: "PTR", value: "mail.rockylinux.me." }),
    ]);
    // The DS is of the key named signs with: the key file the dns server gets, and its private half only in a secret.
    const ds = records.find((r) => r.type === "DS")!.value;
    const dns = await uploadsOf("dns");
    const tag = ds.split(" ")[0].padStart(5, "0");
    expect(dns.get(`/var/lib/bind/Krockylinux.me.+013+${tag}.key`)?.content).toMatch(/IN DNSKEY 257 3 13 /);
    expect(dns.get(`/var/lib/bind/Krockylinux.me.+013+${tag}.private`)).toMatchObject({ permissions: "0600" });
    const key = created.find((r) => r.type === "command:local:Command" && r.name === "dns-zone-key")!;
    expect(await key.inputs.triggers).toEqual(["rockylinux.me"]);
    const files = created.find((r) => r.type === "command:local:Command" && r.name === "dns-files")!;
    expect(((await files.inputs.stdin) as Record<string, unknown>)[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
  });

  test("Postfix's and Dovecot's SQL files carry the MysqlServer's credentials, mode 0640", async () => {
    const mail = await uploadsOf("mail");
    const sqlFiles = [...mail.values()].filter((u) => /mysql-.*\.cf$|dovecot-sql\.conf\.ext$/.test(u.file));
    expect(sqlFiles.map((f) => f.file).sort()).toEqual(
      expect.arrayContaining([
        "/etc/dovecot/dovecot-sql.conf.ext",
        "/etc/postfix/mysql-virtual-alias-maps.cf",
        "/etc/postfix/mysql-virtual-email2email.cf",
        "/etc/postfix/mysql-virtual-mailbox-domains.cf",
        "/etc/postfix/mysql-virtual-mailbox-maps.cf",
      ]),
    );
    for (const f of sqlFiles) {
      expect(f.content).toContain("192.168.100.5"); // the db container's address output
      expect(f.content).toContain("mailrl");
      expect(f.content).toContain("pw-db-app"); // the RandomPassword's result
      expect(f.permissions).toBe("0640");
    }
  });

  test("the database serves TLS with a certificate of its own CA; Postfix and Dovecot verify it with that CA", async () => {
    const db = await uploadsOf("db");
    const issued = certFor("db-tls-issue");
    expect(db.get("/etc/mysql/ssl/server-cert.pem")).toMatchObject({ content: issued.certificate, owner: "root", permissions: "0644" });
    expect(db.get("/etc/mysql/ssl/ca.pem")).toMatchObject({ content: issued.ca, owner: "root", permissions: "0644" });
    expect(db.get("/etc/mysql/ssl/server-key.pem")).toMatchObject({ content: issued.key, owner: "mysql", group: "mysql", permissions: "0600" });
    const cnf = db.get("/etc/mysql/mariadb.conf.d/60-mail-system.cnf")!.content;
    expect(cnf).toMatch(/^ssl_cert = \/etc\/mysql\/ssl\/server-cert\.pem$/m);
    // Issued for the address the mail server connects to (and the server listens on).
    const issue = created.find((r) => r.name === "db-tls-issue")!;
    expect((await issue.inputs.environment).ADDRESS).toBe("192.168.100.5");

    const mail = await uploadsOf("mail");
    expect(mail.get("/etc/ssl/mail/database-ca.pem")).toMatchObject({ content: issued.ca, permissions: "0644" });
    // The mail host's own CA is another one: trusting it would not admit the database's certificate.
    expect(mail.get("/etc/ssl/mail/fullchain.pem")?.content).not.toContain(issued.ca);
    for (const f of [...mail.values()].filter((u) => /^\/etc\/postfix\/mysql-.*\.cf$/.test(u.file))) {
      expect(f.content).toMatch(/^tls_CAfile = \/etc\/ssl\/mail\/database-ca\.pem\ntls_verify_cert = yes$/m);
    }
    expect(mail.get("/etc/dovecot/dovecot-sql.conf.ext")?.content).toContain(" ssl_ca=/etc/ssl/mail/database-ca.pem ssl_verify_server_cert=yes\"");
  });

  test("the database user may connect from the mail server only and gets SELECT only, through the server's client", async () => {
    expect(created.filter((r) => r.type.startsWith("mysql:") || r.type === "pulumi:providers:mysql")).toEqual([]);
    // Each runs `mysql` in the db container by ID, its SQL in the script on stdin.
    const run = async (name: string) => {
      const r = created.find((c) => c.name === name && c.type === "command:local:Command")!;
      expect((await r.inputs.environment).CONTAINER).toBe("db-id");
      return { script: unwrapSecrets(await r.inputs.stdin) as string, triggers: unwrapSecrets(await r.inputs.triggers) };
    };
    const user = await run("db-app-user");
    expect(user.script).toContain(
      "'mysql' '--batch' <<'MAIL_SYSTEM_INPUT'\nCREATE USER IF NOT EXISTS 'mailrl'@'192.168.100.6' IDENTIFIED BY 'pw-db-app-password' REQUIRE SSL;\n" +
        "ALTER USER 'mailrl'@'192.168.100.6' IDENTIFIED BY 'pw-db-app-password' REQUIRE SSL;",
    );
    expect(user.script).toContain("DROP USER IF EXISTS 'mailrl'@'192.168.100.6';");
    const grant = await run("db-app-grant");
    expect(grant.script).toContain("GRANT SELECT ON `mailserver`.* TO 'mailrl'@'192.168.100.6';");
    expect(grant.script).toContain("REVOKE SELECT ON `mailserver`.* FROM 'mailrl'@'192.168.100.6';");
    expect(grant.triggers).toEqual(["mailserver", "mailrl", "192.168.100.6"]);
    // The Docker host's address on the lab network is the engine's: the old admin account from there goes.
    expect((await run("db-database")).script).toContain("DROP USER IF EXISTS 'mail_system_admin'@'192.168.100.1';");
  });

  test("a container gets the supervisor and its units; the configuration is written into it like on a host", async () => {
    const container = created.find((r) => r.type === "docker:index/container:Container" && r.name === "mail")!;
    const uploads = (await container.inputs.uploads) as { file: string; content: string; permissions: string }[];
    expect(uploads.map((u) => [u.file, u.permissions])).toEqual([
      ["/usr/local/sbin/mail-system-supervisor", "0755"],
      ["/etc/mail-system/services", "0644"],
    ]);
    expect(uploads[1].content).toContain("order=(redis-server rspamd mail-guard dovecot opendkim postfix nginx)");
    expect(container.inputs.entrypoints).toEqual(["/usr/local/sbin/mail-system-supervisor"]);
    // The mail and its queue live on volumes.
    expect((await container.inputs.volumes).map((v: { containerPath: string }) => v.containerPath)).toEqual(["/var/mail/vhosts", "/var/spool/postfix", "/var/lib/redis", "/var/lib/rspamd"]);
    // Each daemon is started, and reloaded when a file it reads changes (its step's update), through `docker exec` by container ID.
    expect(created.filter((r) => r.name.endsWith("-reload"))).toEqual([]);
    for (const step of ["mail-packages", "mail-early-files", "mail-redis", "mail-rspamd", "mail-files", "mail-dovecot", "mail-opendkim", "mail-postfix", "mail-nginx", "mail-health"]) {
      const c = created.find((r) => r.type === "command:local:Command" && r.name === step)!;
      expect((await c.inputs.environment).CONTAINER).toBe("mail-id");
      expect(c.inputs.create).toContain('docker exec -i "$CONTAINER"');
    }
  });

  test("each container's log is rotated (json-file, 10 MB, 5 files): it does not grow for as long as the container lives", async () => {
    for (const role of ["dns", "db", "mail"]) {
      const c = created.find((r) => r.type === "docker:index/container:Container" && r.name === role)!;
      expect([role, c.inputs.logDriver, await c.inputs.logOpts]).toEqual([role, "json-file", { "max-size": "10m", "max-file": "5" }]);
    }
  });

  test("each container keeps only its role's capabilities, by Docker's names, and gains no privileges", async () => {
    const confinement = Object.fromEntries(
      await Promise.all(
        ["dns", "db", "mail"].map(async (role) => {
          const c = created.find((r) => r.type === "docker:index/container:Container" && r.name === role)!;
          const caps = (await c.inputs.capabilities) as { drops: string[]; adds: string[] };
          return [role, { drops: caps.drops, adds: [...caps.adds].sort(), securityOpts: await c.inputs.securityOpts }];
        }),
      ),
    );
    const confined = (...adds: string[]) => ({ drops: ["ALL"], adds: adds.map((a) => `CAP_${a}`), securityOpts: ["no-new-privileges:true"] });
    expect(confinement).toEqual({
      dns: confined("CHOWN", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"),
      db: confined("CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"),
      mail: confined("CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID", "SYS_CHROOT"),
    });
  });

  test("each user, domain and alias is its own row resource", () => {
    const rows = created.filter((r) => r.type === "command:local:Command").map((r) => r.name);
    expect(rows).toEqual(
      expect.arrayContaining([
        "db-domain-mail.rockylinux.me",
        "db-domain-rockylinux.me",
        "db-user-frank@mail.rockylinux.me",
        "db-user-leeo@mail.rockylinux.me",
        "db-alias-all@mail.rockylinux.me-frank@mail.rockylinux.me",
        "db-alias-domain-other.rockylinux.me",
      ]),
    );
    // An alias domain has no virtual_domains row.
    expect(rows).not.toContain("db-domain-other.rockylinux.me");
  });

  test("an alias domain is published like a mail domain: MX, SPF and a DKIM key of its own", async () => {
    const records = await valueOf(outputs.mailDnsRecords);
    const at = (name: string) => records.filter((r) => r.name === name).map((r) => `${r.type} ${r.value}`);
    expect(at("other")).toEqual(expect.arrayContaining(["MX mail.rockylinux.me.", "TXT v=spf1 mx -all"]));
    expect(at("mail._domainkey.other")).toEqual([expect.stringMatching(/^TXT v=DKIM1; k=rsa; p=\S+$/)]);
    expect(at("mail._domainkey.other")).not.toEqual(at("mail._domainkey.mail"));
  });

  test("the configured password is used and hashed with the stored salt; generated ones are secret outputs", async () => {
    const passwords = (await valueOf(outputs.userPasswords)) as Record<string, string>;
    expect(passwords["leeo@mail.rockylinux.me"]).toBe("twotestandtwo");
    expect(passwords["frank@mail.rockylinux.me"]).toBe("pw-password-frank@mail.rockylinux.me");
    expect(await isSecret(outputs.userPasswords)).toBe(true);
    // The row holds SHA512-CRYPT of that password and the salt, with USER_HASH_ROUNDS.
    const row = created.find((r) => r.type === "command:local:Command" && r.name === "db-user-leeo@mail.rockylinux.me")!;
    const sql = unwrapSecrets(await row.inputs.stdin) as string;
    expect(sql).toContain(`'${sha512Crypt("twotestandtwo", "SaltSaltSaltSalt", 100_000)}'`);
    expect(sql).toContain("'$6$rounds=100000$SaltSaltSaltSalt$");
    // Made once by a command whose input (the password) and output (the hash) are secrets and never logged.
    const hash = created.find((r) => r.type === "command:local:Command" && r.name === "hash-leeo@mail.rockylinux.me")!;
    expect(hash.inputs.logging).toBe("none");
    expect(hash.inputs.stdin[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
    expect(unwrapSecrets(hash.inputs.environment)).toEqual({ SALT: "SaltSaltSaltSalt" });
  });

  test("components use the project's type tokens", () => {
    const types = created.map((r) => r.type);
    for (const t of ["LabNetwork", "MysqlServer", "MailServer", "BindServer", "MailCertificate", "DkimKeys"]) {
      expect(types).toContain(`mail-system:index:${t}`);
    }
  });
});
