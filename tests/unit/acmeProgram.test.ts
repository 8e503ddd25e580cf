// mail-system:acme on: the program as a whole with mocked providers. The TSIG
// key is made once and kept secret, BIND delegates and serves the challenge
// zones, the mail server runs mail-acme first with its state on a kept
// volume, and the first certificate is asked for after the DNS server is in
// place and before the deploy check, which trusts the CA's root.
import { generateKeyPairSync } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { testCertificate } from "../fixtures/certificates";
import { mockResources, providerAnswers, valueOf } from "../fixtures/mocks";

const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const DKIM_KEY = (generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string).trimEnd();
const ROOT = testCertificate("pebble root");

const answers = providerAnswers(
  () => ({ ca: pem("CERTIFICATE", "CA"), certificate: testCertificate("mail-tls-issue"), key: pem("PRIVATE KEY", "KEY") }),
  () => DKIM_KEY,
);
// The TSIG secret as long as the program asks for (BIND's renderer checks its strength).
const created = mockResources((args) => (args.name === "acme-tsig" ? { result: "k".repeat(Number(args.inputs.length)) } : answers(args)));

/** A rendered file's content from a files step's script (its `put PATH ... BASE64` line). */
async function fileIn(step: string, path: string): Promise<string> {
  const script = JSON.stringify(await created.find((r) => r.name === step)!.inputs.stdin);
  const m = new RegExp(`put '${path.replace(/[./]/g, (c) => `\\${c}`)}' \\S+ \\S+ \\d+ '([A-Za-z0-9+/=]+)'`).exec(script);
  if (!m) throw new Error(`${path} is not in ${step}`);
  return Buffer.from(m[1], "base64").toString("utf8");
}

let outputs: typeof import("../../index");
beforeAll(async () => {
  pulumi.runtime.setAllConfig({
    "mail-system:domain": "rockylinux.me",
    "mail-system:mailDomains": JSON.stringify(["mail.rockylinux.me", "rockylinux.me"]),
    "mail-system:users": JSON.stringify([{ email: "frank@mail.rockylinux.me" }]),
    "mail-system:acme": JSON.stringify({ directory: "https://acme.example.org/dir", email: "postmaster@rockylinux.me", rootCertificate: ROOT }),
  });
  outputs = await import("../../index");
  await valueOf(outputs.endpoints);
});

const byName = (n: string) => created.find((r) => r.name === n);

test("the TSIG key is generated once, and BIND gets it in a secret file with a zone per certificate name", async () => {
  expect(byName("acme-tsig")?.type).toBe("random:index/randomPassword:RandomPassword");
  const conf = await fileIn("dns-files", "/etc/bind/named.conf");
  for (const n of ["mail.rockylinux.me", "autoconfig.rockylinux.me", "autodiscover.rockylinux.me", "autoconfig.mail.rockylinux.me"]) {
    expect(conf).toContain(`zone "_acme-challenge.${n}" IN {`);
  }
  expect(await fileIn("dns-files", "/etc/bind/mail-system-acme.key")).toContain(`secret "${Buffer.from("k".repeat(44)).toString("base64")}";`);
  expect(await fileIn("dns-files", "/var/lib/bind/db.rockylinux.me")).toMatch(/_acme-challenge\.mail\s+IN NS\s+dns\.rockylinux\.me\./);
  const records = await valueOf(outputs.mailDnsRecords);
  // The delegations are BIND's own records, not the mail server's.
  expect(records.filter((r) => r.name.startsWith("_acme-challenge"))).toEqual([]);
});

test("mail-acme runs first (but for the early daemons, Redis and Rspamd: no certificate), with lego in the image and its state on a kept volume; the health check reads its status", async () => {
  const image = created.find((r) => r.type === "docker:index/image:Image" && r.name.startsWith("mail"))!;
  expect((await image.inputs.build).args.PACKAGES.split(" ")).toContain("lego");
  const container = created.find((r) => r.type === "docker:index/container:Container" && r.name === "mail")!;
  const manifest = ((await container.inputs.uploads) as { file: string; content: string }[]).find((u) => u.file === "/etc/mail-system/services")!;
  expect(manifest.content).toMatch(/order=\(mail-acme redis-server rspamd mail-guard /);
  const volumes = (await container.inputs.volumes) as { containerPath: string }[];
  expect(volumes.map((v) => v.containerPath)).toContain("/var/lib/mail-acme");
  expect(JSON.stringify(await container.inputs.envs)).toContain("ACME_STATUS=/var/lib/mail-acme/status");
});

test("the first certificate is asked for by mail-acme on the server; the deploy check trusts the CA's root", async () => {
  const ensure = byName("mail-acme-certificate")!;
  expect(ensure).toBeDefined();
  // (Its order after the DNS server is the end-to-end test's to see: mocks keep no dependencies.)
  expect(JSON.stringify(ensure.inputs)).toContain("/usr/local/lib/mail-system/mail-acme");
  const check = byName("deploy-check-check")!;
  expect(JSON.stringify(await check.inputs.environment)).toContain(JSON.stringify(ROOT).slice(1, 40));
  expect(await valueOf(outputs.caCertificate)).toBe(ROOT);
});
