import { generateKeyPairSync } from "crypto";
import { acmeDelegations, renderBindFiles, ZoneSpec } from "../../components/render/bind";
import { ACME, acmeProblems, acmeSettings, AcmeSettings, renderAcmeFiles } from "../../components/render/acme";
import { renderMailServerFiles } from "../../components/render/mailFiles";
import { mailPackages } from "../../components/packages";
import { testCertificate } from "../fixtures/certificates";
import { RenderedFile } from "../../components/render/types";

const settings: AcmeSettings = acmeSettings({ directory: "https://acme.example.org/dir", email: "postmaster@rockylinux.me" });
const secret = Buffer.from("a TSIG secret of thirty-two byte").toString("base64");
const client = { acme: settings, names: ["mail.rockylinux.me", "autoconfig.rockylinux.me"], keyFile: "/etc/ssl/mail/privkey.pem", bootstrapChain: "/etc/ssl/mail/fullchain.pem", nameserver: "10.1.2.7", tsigSecret: secret, reloadUnits: ["postfix", "dovecot"], host: false };

describe("acme settings", () => {
  test("defaults: dns-01, a look every 12 hours", () => {
    expect(settings).toEqual({ directory: "https://acme.example.org/dir", email: "postmaster@rockylinux.me", challenge: "dns-01", checkSeconds: 43200 });
  });
  test("every bad field is named, nothing is guessed", () => {
    expect(acmeProblems({ directory: "https://x.org/d'; rm -rf /", email: "a@b", challenge: "dns", checkSeconds: 3, extra: 1 }).map((p) => p.field).sort()).toEqual(
      ["challenge", "checkSeconds", "directory", "email", "extra"],
    );
    expect(() => acmeSettings({})).toThrow(/acme: directory must be .*; email must be/);
  });
});

describe("renderAcmeFiles", () => {
  const byPath = (files: RenderedFile[]): Record<string, RenderedFile> => Object.fromEntries(files.map((f) => [f.path, f]));

  test("the settings file is root's alone and secret (the DNS update key); values are single-quoted", () => {
    const files = byPath(renderAcmeFiles(client));
    const env = files[ACME.config];
    expect(env).toMatchObject({ mode: "0600", owner: "root", secret: true });
    expect(env.content).toContain(`RFC2136_TSIG_SECRET='${secret}'`);
    expect(env.content).toContain("ACME_NAMES='mail.rockylinux.me autoconfig.rockylinux.me'");
    expect(env.content).toContain("RFC2136_NAMESERVER='10.1.2.7:53'");
    expect(env.content).toContain("RFC2136_TSIG_KEY='mail-system-acme.'");
    expect(env.content).not.toContain("LEGO_CA_CERTIFICATES");
    expect(files[ACME.program]).toMatchObject({ mode: "0755" });
    // In a container the supervisor runs it: no unit, no init script.
    expect(files[ACME.systemdUnit]).toBeUndefined();
  });

  test("a private CA's certificate is a file lego trusts; on a host the unit and init script come too", () => {
    const ca = testCertificate("acme.example.org");
    const files = byPath(renderAcmeFiles({ ...client, acme: { ...settings, serverCaCertificate: ca }, host: true }));
    expect(files[ACME.serverCa].content).toBe(ca);
    expect(files[ACME.config].content).toContain(`LEGO_CA_CERTIFICATES='${ACME.serverCa}'`);
    expect(files[ACME.systemdUnit].content).toContain(`ExecStartPre=${ACME.program} prepare`);
    expect(files[ACME.initScript].mode).toBe("0755");
  });

  test("http-01 needs no DNS key; dns-01 without one, an empty name list or a bad unit is refused", () => {
    const http = renderAcmeFiles({ ...client, acme: { ...settings, challenge: "http-01" }, nameserver: undefined, tsigSecret: undefined });
    expect(http.find((f) => f.path === ACME.config)!.content).not.toContain("RFC2136");
    expect(() => renderAcmeFiles({ ...client, tsigSecret: undefined })).toThrow(/dns-01 needs/);
    expect(() => renderAcmeFiles({ ...client, names: [] })).toThrow(/no names/);
    expect(() => renderAcmeFiles({ ...client, names: ["mail.rockylinux.me'; x"] })).toThrow(/not a host name/);
    expect(() => renderAcmeFiles({ ...client, reloadUnits: ["postfix; reboot"] })).toThrow(/not a unit name/);
  });
});

describe("the mail server with ACME", () => {
  test("the daemons serve mail-acme's chain; the rendered one is its bootstrap", () => {
    const certificate = testCertificate("mail.rockylinux.me");
    const base = {
      hostname: "mail.rockylinux.me",
      domain: "rockylinux.me",
      listenAddress: "10.1.2.6",
      database: { host: "10.1.2.5", port: 3306, name: "mail", user: "mail", password: "pw", caCertificate: certificate },
      tls: { certificateFile: "/etc/ssl/mail/fullchain.pem", keyFile: "/etc/ssl/mail/privkey.pem" },
      mailDomains: ["rockylinux.me"],
      filtering: acmeFreeFiltering(),
      dkim: { selector: "mail", keys: [{ domain: "rockylinux.me", privateKey: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString() }] },
      certificate,
      privateKey: "KEY",
      container: true,
    };
    const files = renderMailServerFiles({ ...base, acme: { acme: settings, names: ["mail.rockylinux.me"], nameserver: "10.1.2.7", tsigSecret: secret, reloadUnits: ["postfix", "dovecot"] } } as never);
    const content = (p: string) => files.find((f) => f.path === p)?.content ?? "";
    expect(content("/etc/postfix/main.cf")).toContain(ACME.served);
    expect(content("/etc/postfix/main.cf")).not.toContain("/etc/ssl/mail/fullchain.pem");
    expect(files.filter((f) => f.path.startsWith("/etc/dovecot/")).map((f) => f.content).join("\n")).toContain(`<${ACME.served}`);
    expect(content("/etc/ssl/mail/fullchain.pem")).toBe(certificate);
    expect(content(ACME.config)).toContain("ACME_BOOTSTRAP='/etc/ssl/mail/fullchain.pem'");
    // Without ACME: the rendered chain is the served one, and no mail-acme.
    const plain = renderMailServerFiles(base as never);
    expect(plain.find((f) => f.path === "/etc/postfix/main.cf")!.content).toContain("/etc/ssl/mail/fullchain.pem");
    expect(plain.some((f) => f.path === ACME.config)).toBe(false);
  });

  test("lego is installed only where the certificate comes from an ACME CA", () => {
    expect(mailPackages(true, true).debian.flat()).toContain("lego");
    expect(mailPackages(true).debian.flat()).not.toContain("lego");
    expect(mailPackages(false, true).rhel.flat()).toContain("lego");
  });
});

describe("BIND's ACME challenge zones", () => {
  const zone: ZoneSpec = {
    origin: "rockylinux.me",
    serial: 1,
    primaryNameserver: "dns.rockylinux.me.",
    hostmaster: "hostmaster.rockylinux.me.",
    records: [
      { name: "dns", type: "A", value: "10.1.2.7" },
      { name: "mail", type: "A", value: "10.1.2.6" },
      ...acmeDelegations("rockylinux.me", "dns.rockylinux.me.", ["mail.rockylinux.me"]),
    ],
  };
  const acmeUpdates = { keyName: "mail-system-acme", secret, names: ["mail.rockylinux.me"] };

  test("a delegation per name, inside the zone only", () => {
    expect(acmeDelegations("rockylinux.me", "dns.rockylinux.me.", ["Mail.rockylinux.me", "autoconfig.rockylinux.me"])).toEqual([
      { name: "_acme-challenge.mail", type: "NS", value: "dns.rockylinux.me." },
      { name: "_acme-challenge.autoconfig", type: "NS", value: "dns.rockylinux.me." },
    ]);
    expect(() => acmeDelegations("rockylinux.me", "dns.rockylinux.me.", ["mail.example.org"])).toThrow(/not inside the zone rockylinux.me/);
  });

  test("named.conf includes the key from a secret file and has a dynamic zone per name, TXT only", () => {
    const files = renderBindFiles({ listenAddress: "10.1.2.7", zones: [zone], acmeUpdates });
    const conf = files.find((f) => f.path === "/etc/bind/named.conf")!.content;
    expect(conf).toContain('include "/etc/bind/mail-system-acme.key";');
    expect(conf).not.toContain(secret);
    expect(conf).toMatch(/zone "_acme-challenge\.mail\.rockylinux\.me" IN \{[^}]*file "\/var\/lib\/bind\/acme\._acme-challenge\.mail\.rockylinux\.me\.db";[^}]*update-policy \{ grant mail-system-acme\. zonesub TXT; \};/s);
    expect(files.find((f) => f.path === "/etc/bind/mail-system-acme.key")).toMatchObject({ mode: "0640", group: "bind", secret: true, content: expect.stringContaining(`secret "${secret}";`) });
    // The dynamic zones' files are named's: only their seed is rendered.
    expect(files.some((f) => f.path.startsWith("/var/lib/bind/acme."))).toBe(false);
    expect(files.find((f) => f.path === "/etc/bind/mail-system-acme.seed")!.content).toContain("@ IN NS dns.rockylinux.me.");
    // Without acmeUpdates, none of it.
    expect(renderBindFiles({ listenAddress: "10.1.2.7", zones: [zone] }).some((f) => f.path.includes("acme"))).toBe(false);
  });

  test("a bad key, secret or name is refused", () => {
    expect(() => renderBindFiles({ listenAddress: "10.1.2.7", zones: [zone], acmeUpdates: { ...acmeUpdates, secret: "short" } })).toThrow(/secret must be base64/);
    expect(() => renderBindFiles({ listenAddress: "10.1.2.7", zones: [zone], acmeUpdates: { ...acmeUpdates, names: ["mail.example.org"] } })).toThrow(/not inside a zone this server serves/);
    expect(() => renderBindFiles({ listenAddress: "10.1.2.7", zones: [zone], acmeUpdates: { ...acmeUpdates, keyName: 'k"; };' } })).toThrow(/keyName/);
  });
});

function acmeFreeFiltering() {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require("../../components/render/rspamd").DEFAULT_FILTERING;
}
