// The ports MailServer publishes (endpoints output, SRV records) are the ones
// the rendered Postfix and Dovecot configurations listen on, and the records
// come from one pure function.
import { execFileSync } from "child_process";
import { createHash, generateKeyPairSync, X509Certificate } from "crypto";
import { autoconfigNames, MAIL_PORTS, mailDnsRecords, MailRecordsSpec, mailEndpoints, mtaStsNames, TLSA_TTL, tlsaValue, WEB_PORT } from "../../components/render/mailRecords";
import { mtaStsTxt, renderMtaStsPolicy } from "../../components/render/mtaSts";
import { renderDovecotFiles } from "../../components/render/dovecot";
import { renderPostfixFiles } from "../../components/render/postfix";
import { testCertificate } from "../fixtures/certificates";
import { fileAt, seedMailSettings } from "../fixtures/mail";

// master.cf names its services as in /etc/services (netbase).
const SERVICE_PORTS: Record<string, number> = { smtp: 25, submission: 587, smtps: 465 };

test("every published port has a listener in master.cf or dovecot.conf, and every listener is published", () => {
  const masterCf = fileAt(renderPostfixFiles(seedMailSettings()), "/etc/postfix/master.cf").content;
  const postfixPorts = [...masterCf.matchAll(/^(\S+)\s+inet\s/gm)].map(([, service]) => SERVICE_PORTS[service] ?? Number(service.split(":").pop()));
  const dovecotConf = fileAt(renderDovecotFiles(seedMailSettings()), "/etc/dovecot/dovecot.conf").content;
  const dovecotPorts = [...dovecotConf.matchAll(/inet_listener \w+ \{\s*port = (\d+)/g)].map(([, port]) => Number(port));
  expect([...postfixPorts, ...dovecotPorts].sort((a, b) => a - b)).toEqual(Object.values(MAIL_PORTS).sort((a, b) => a - b));
});

test("endpoints: host:port of each service", () => {
  expect(mailEndpoints("10.0.0.6")).toEqual({
    smtp: "10.0.0.6:25",
    submission: "10.0.0.6:587",
    smtps: "10.0.0.6:465",
    imap: "10.0.0.6:143",
    imaps: "10.0.0.6:993",
    pop3: "10.0.0.6:110",
    pop3s: "10.0.0.6:995",
    managesieve: "10.0.0.6:4190",
  });
});

test("records: A, then per domain MX, SRV for every port but 25, SPF, DMARC and the DKIM key, named relative to the zone", () => {
  const publicKey = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
  const records = mailDnsRecords({
    zone: "example.test",
    hostLabel: "mail",
    address: "10.0.0.6",
    mailDomains: ["example.test", "sub.example.test"],
    mxPreference: 2,
    spf: "v=spf1 mx -all",
    dmarc: "",
    dkimSelector: "s1",
    dkimKeys: [{ domain: "sub.example.test", publicKey }],
    autoconfig: false,
  });
  expect(records[0]).toEqual({ name: "mail", type: "A", value: "10.0.0.6" });
  expect(records.filter((r) => r.type === "MX")).toEqual([
    { name: "@", type: "MX", value: "mail.example.test.", priority: 2 },
    { name: "sub", type: "MX", value: "mail.example.test.", priority: 2 },
  ]);
  const srvPorts = records.filter((r) => r.type === "SRV" && r.name.endsWith("._tcp")).map((r) => Number(r.value.split(" ")[1]));
  expect(new Set(srvPorts)).toEqual(new Set(Object.values(MAIL_PORTS).filter((p) => p !== 25)));
  expect(records.filter((r) => r.name === "_submissions._tcp.sub")).toEqual([{ name: "_submissions._tcp.sub", type: "SRV", value: "1 465 mail.example.test.", priority: 0 }]);
  expect(records.filter((r) => r.type === "TXT" && r.value.startsWith("v=spf1"))).toHaveLength(2);
  expect(records.filter((r) => r.name.startsWith("_dmarc"))).toEqual([]);
  expect(records.filter((r) => r.name.includes("_domainkey")).map((r) => r.name)).toEqual(["s1._domainkey.sub"]);
});

const SPEC: MailRecordsSpec = {
  zone: "example.test",
  hostLabel: "mail",
  address: "10.0.0.6",
  mailDomains: ["example.test", "sub.example.test"],
  mxPreference: 2,
  dkimSelector: "mail",
  dkimKeys: [],
  autoconfig: true,
};

test("autoconfig: per domain, autoconfig and autodiscover A records at the server's address and Outlook's SRV to the mail host on 443", () => {
  const records = mailDnsRecords(SPEC);
  const web = records.filter((r) => /^(autoconfig|autodiscover|_autodiscover\._tcp)(\.|$)/.test(r.name));
  expect(web).toEqual([
    { name: "autoconfig", type: "A", value: "10.0.0.6" },
    { name: "autodiscover", type: "A", value: "10.0.0.6" },
    { name: "_autodiscover._tcp", type: "SRV", value: `0 ${WEB_PORT} mail.example.test.`, priority: 0 },
    { name: "autoconfig.sub", type: "A", value: "10.0.0.6" },
    { name: "autodiscover.sub", type: "A", value: "10.0.0.6" },
    { name: "_autodiscover._tcp.sub", type: "SRV", value: "0 443 mail.example.test.", priority: 0 },
  ]);
  // The A records are exactly the names the web server answers for and the certificate names.
  const fqdn = (name: string) => `${name}.example.test`;
  expect(web.filter((r) => r.type === "A").map((r) => fqdn(r.name))).toEqual(autoconfigNames(SPEC.mailDomains));
});

test("autoconfig off: none of those records, the others unchanged", () => {
  const on = mailDnsRecords(SPEC);
  const off = mailDnsRecords({ ...SPEC, autoconfig: false });
  expect(off.filter((r) => /autoconfig|autodiscover/.test(r.name))).toEqual([]);
  expect(on.filter((r) => !/autoconfig|autodiscover/.test(r.name))).toEqual(off);
});

describe("DANE", () => {
  const cert = testCertificate("mail.example.test");
  const spkiSha256 = createHash("sha256").update(new X509Certificate(cert).publicKey.export({ type: "spki", format: "der" })).digest("hex").toUpperCase();

  test("tlsaValue: DANE-EE, SPKI, SHA-256 of the certificate's public key, as openssl computes it", () => {
    expect(tlsaValue(cert)).toBe(`3 1 1 ${spkiSha256}`);
    // openssl's own digest of the same key: an implementation other than Node's X509Certificate.
    const der = execFileSync("sh", ["-c", "openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r"], { input: cert }).toString();
    expect(der.split(" ")[0].toUpperCase()).toBe(spkiSha256);
    // A chain counts by its first certificate (the server's).
    expect(tlsaValue(cert + testCertificate("ca.example.test"))).toBe(`3 1 1 ${spkiSha256}`);
  });

  test("a certificate that is not one is refused with a clear message", () => {
    expect(() => tlsaValue("-----BEGIN CERTIFICATE-----\nTEVBRg==\n-----END CERTIFICATE-----\n")).toThrow(/^DANE: the certificate is not a PEM certificate/);
  });

  test("with a certificate: the TLSA record at _25._tcp.<mail host>, 5 minutes; without: none, the others unchanged", () => {
    const withDane = mailDnsRecords({ ...SPEC, daneCertificate: cert });
    expect(withDane.filter((r) => r.type === "TLSA")).toEqual([{ name: "_25._tcp.mail", type: "TLSA", value: `3 1 1 ${spkiSha256}`, ttl: TLSA_TTL }]);
    expect(TLSA_TTL).toBe(300);
    expect(withDane.filter((r) => r.type !== "TLSA")).toEqual(mailDnsRecords(SPEC));
  });
});

test("MTA-STS and TLS-RPT: per domain mta-sts.<d> A, _mta-sts.<d> with the policy's id, _smtp._tls.<d> with the URIs; neither by default", () => {
  const mtaSts = { mode: "testing", maxAgeSeconds: 86400 } as const;
  const records = mailDnsRecords({ ...SPEC, mtaSts, tlsReportsTo: ["mailto:tls@example.test"] });
  const id = mtaStsTxt(renderMtaStsPolicy(mtaSts, "mail.example.test"));
  expect(records.filter((r) => /mta-sts|_smtp\._tls/.test(r.name))).toEqual([
    { name: "mta-sts", type: "A", value: "10.0.0.6" },
    { name: "_mta-sts", type: "TXT", value: id },
    { name: "_smtp._tls", type: "TXT", value: "v=TLSRPTv1; rua=mailto:tls@example.test" },
    { name: "mta-sts.sub", type: "A", value: "10.0.0.6" },
    { name: "_mta-sts.sub", type: "TXT", value: id },
    { name: "_smtp._tls.sub", type: "TXT", value: "v=TLSRPTv1; rua=mailto:tls@example.test" },
  ]);
  expect(mtaStsNames(SPEC.mailDomains)).toEqual(["mta-sts.example.test", "mta-sts.sub.example.test"]);
  expect(mailDnsRecords({ ...SPEC, tlsReportsTo: [] }).filter((r) => /mta-sts|_smtp\._tls/.test(r.name))).toEqual([]);
});
