// MailCertificate: your own certificate is used as given (no CA is made);
// otherwise one command issues a CA and certificate once, kept in state.
// AddressCertificate (the database's) the same way, for an address alone.
import { execFileSync } from "child_process";
import { createHash, createPrivateKey, X509Certificate } from "crypto";
import { isSecret, mockResources, valueOf } from "../fixtures/mocks";

const created = mockResources((args) =>
  args.type === "command:local:Command"
    ? { stdout: JSON.stringify({ ca: "CA-PEM\n", certificate: "LEAF-PEM\n", key: "KEY-PEM\n" }) }
    : {},
);

test("your own certificate and key are used as given, the key stays secret, and no CA is made", async () => {
  const { MailCertificate } = await import("../../components/mailCertificate");
  const own = new MailCertificate("own", {
    hostname: "mail.example.test",
    address: "10.0.0.6",
    own: { certificate: "MY-CHAIN", privateKey: "MY-KEY" },
  });
  expect(await valueOf(own.certificate)).toBe("MY-CHAIN");
  expect(await valueOf(own.privateKey)).toBe("MY-KEY");
  expect(await isSecret(own.privateKey)).toBe(true);
  expect(await valueOf(own.caCertificate)).toBe("");
  expect(created.filter((r) => r.type === "command:local:Command")).toEqual([]);
});

test("an issued certificate: chain = leaf + CA, key secret, CA public, re-issued only when name or address change", async () => {
  const { MailCertificate } = await import("../../components/mailCertificate");
  const issued = new MailCertificate("issued", { hostname: "mail.example.test", address: "10.0.0.6" });
  expect(await valueOf(issued.certificate)).toBe("LEAF-PEM\nCA-PEM\n");
  expect(await valueOf(issued.caCertificate)).toBe("CA-PEM\n");
  expect(await isSecret(issued.caCertificate)).toBe(false);
  expect(await isSecret(issued.privateKey)).toBe(true);
  const command = created.find((r) => r.name === "issued-issue");
  expect(command?.inputs.triggers).toEqual(["mail.example.test", "10.0.0.6", 825]);
  expect(command?.inputs.environment).toMatchObject({ HOST: "mail.example.test", ADDRESS: "10.0.0.6" });
});

test("the mail host's issue script is the one existing stacks ran: a changed text would issue a new CA on their next up", async () => {
  const { MAIL_ISSUE_SCRIPT } = await import("../../components/mailCertificate");
  expect(createHash("sha256").update(MAIL_ISSUE_SCRIPT).digest("hex")).toBe("fecb0aefdf7dac5d8d07e89da8462b765a480c2982f752a04485c117798133f8");
  const command = created.find((r) => r.name === "issued-issue");
  expect(command?.inputs.create).toBe(MAIL_ISSUE_SCRIPT);
});

test("an address certificate (the database's): its own CA, leaf alone as certificate, key secret, re-issued only when the address changes", async () => {
  const { AddressCertificate, ADDRESS_ISSUE_SCRIPT } = await import("../../components/mailCertificate");
  const db = new AddressCertificate("db-tls", { address: "10.0.0.5" });
  expect(await valueOf(db.certificate)).toBe("LEAF-PEM\n");
  expect(await valueOf(db.caCertificate)).toBe("CA-PEM\n");
  expect(await isSecret(db.caCertificate)).toBe(false);
  expect(await isSecret(db.privateKey)).toBe(true);
  const command = created.find((r) => r.name === "db-tls-issue");
  expect(command?.inputs.create).toBe(ADDRESS_ISSUE_SCRIPT);
  expect(command?.inputs.triggers).toEqual(["10.0.0.5", 825]);
  expect(command?.inputs.environment).toMatchObject({ HOST: "10.0.0.5", ADDRESS: "10.0.0.5" });
});

test("the address issue script, run for real: a certificate for the address alone (IP SAN), verified by its CA", () => {
  const { ADDRESS_ISSUE_SCRIPT } = jest.requireActual("../../components/mailCertificate") as typeof import("../../components/mailCertificate");
  const out = execFileSync("sh", ["-c", ADDRESS_ISSUE_SCRIPT], { env: { ...process.env, HOST: "10.0.0.5", ADDRESS: "10.0.0.5", DAYS: "1" } });
  const { ca, certificate, key } = JSON.parse(out.toString()) as { ca: string; certificate: string; key: string };
  const leaf = new X509Certificate(certificate);
  expect(leaf.subjectAltName).toBe("IP Address:10.0.0.5");
  expect(leaf.checkIP("10.0.0.5")).toBe("10.0.0.5");
  expect(leaf.checkIP("10.0.0.6")).toBeUndefined();
  expect(leaf.checkIssued(new X509Certificate(ca))).toBe(true);
  expect(leaf.verify(new X509Certificate(ca).publicKey)).toBe(true);
  expect(leaf.checkPrivateKey(createPrivateKey(key))).toBe(true);
  expect(leaf.ca).toBe(false);
});

test("extra names (autoconfig): another script, the names in its environment and triggers; none: the inputs stacks had", async () => {
  const { MailCertificate, MAIL_ISSUE_SCRIPT, MAIL_NAMES_ISSUE_SCRIPT } = await import("../../components/mailCertificate");
  const withNames = new MailCertificate("named", { hostname: "mail.example.test", address: "10.0.0.6", extraNames: ["autoconfig.example.test", "Autodiscover.example.test"] });
  await valueOf(withNames.certificate);
  const named = created.find((r) => r.name === "named-issue");
  const sans = "DNS:autoconfig.example.test,DNS:autodiscover.example.test";
  expect(named?.inputs.create).toBe(MAIL_NAMES_ISSUE_SCRIPT);
  expect(named?.inputs.environment).toEqual({ HOST: "mail.example.test", ADDRESS: "10.0.0.6", DAYS: "825", EXTRA_SANS: sans });
  expect(named?.inputs.triggers).toEqual(["mail.example.test", "10.0.0.6", 825, sans]);
  await valueOf(new MailCertificate("unnamed", { hostname: "mail.example.test", address: "10.0.0.6", extraNames: [] }).certificate);
  const unnamed = created.find((r) => r.name === "unnamed-issue");
  expect(unnamed?.inputs.create).toBe(MAIL_ISSUE_SCRIPT);
  expect(unnamed?.inputs.environment).toEqual({ HOST: "mail.example.test", ADDRESS: "10.0.0.6", DAYS: "825" });
  expect(unnamed?.inputs.triggers).toEqual(["mail.example.test", "10.0.0.6", 825]);
  expect(() => new MailCertificate("bad", { hostname: "mail.example.test", address: "10.0.0.6", extraNames: ["a b.test"] })).toThrow(
    'bad: extraNames: "a b.test" is not a DNS name',
  );
});

test("the extra names script, run for real: the host, the address and every extra name, verified by its CA; uncoveredNames sees them", () => {
  const { MAIL_NAMES_ISSUE_SCRIPT, uncoveredNames } = jest.requireActual("../../components/mailCertificate") as typeof import("../../components/mailCertificate");
  const env = { ...process.env, HOST: "mail.example.test", ADDRESS: "10.0.0.6", DAYS: "1", EXTRA_SANS: "DNS:autoconfig.example.test,DNS:autodiscover.example.test" };
  const { ca, certificate } = JSON.parse(execFileSync("sh", ["-c", MAIL_NAMES_ISSUE_SCRIPT], { env }).toString()) as { ca: string; certificate: string };
  const leaf = new X509Certificate(certificate);
  expect(leaf.subjectAltName).toBe("DNS:mail.example.test, IP Address:10.0.0.6, DNS:autoconfig.example.test, DNS:autodiscover.example.test");
  expect(leaf.verify(new X509Certificate(ca).publicKey)).toBe(true);
  // The chain as MailCertificate gives it (leaf, then CA): its first certificate counts.
  const names = ["mail.example.test", "autoconfig.example.test", "autodiscover.example.test", "autoconfig.other.test"];
  expect(uncoveredNames(certificate + ca, names)).toEqual(["autoconfig.other.test"]);
  expect(uncoveredNames("not a certificate", ["mail.example.test"])).toEqual(["mail.example.test"]);
});
