// mail-system:autoconfig false: the program as it was before the web server.
// No nginx package, file, unit or health wait; no autoconfig records; the
// certificate issued by the very script and inputs existing stacks ran (so
// their CA stays).
import { generateKeyPairSync } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { testCertificate } from "../fixtures/certificates";
import { mockResources, providerAnswers, valueOf } from "../fixtures/mocks";

const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const DKIM_KEY = (generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string).trimEnd();

const created = mockResources(
  providerAnswers(
    () => ({ ca: pem("CERTIFICATE", "CA"), certificate: testCertificate("mail-tls-issue"), key: pem("PRIVATE KEY", "KEY") }),
    () => DKIM_KEY,
  ),
);

let outputs: typeof import("../../index");
beforeAll(async () => {
  pulumi.runtime.setAllConfig({
    "mail-system:domain": "rockylinux.me",
    "mail-system:mailDomains": JSON.stringify(["mail.rockylinux.me", "rockylinux.me"]),
    "mail-system:users": JSON.stringify([{ email: "frank@mail.rockylinux.me" }]),
    "mail-system:autoconfig": "false",
  });
  outputs = await import("../../index");
  await valueOf(outputs.endpoints);
});

test("no web server: no nginx in the image, no unit, no health wait, no files", async () => {
  const image = created.find((r) => r.type === "docker:index/image:Image" && r.name.startsWith("mail"))!;
  expect((await image.inputs.build).args.PACKAGES.split(" ")).not.toContain("nginx");
  const container = created.find((r) => r.type === "docker:index/container:Container" && r.name === "mail")!;
  const manifest = ((await container.inputs.uploads) as { file: string; content: string }[]).find((u) => u.file === "/etc/mail-system/services")!;
  expect(manifest.content).toContain("order=(redis-server rspamd mail-guard dovecot opendkim postfix)\n");
  expect(await container.inputs.envs).toEqual([]);
  const names = created.map((r) => r.name);
  expect(names.filter((n) => n.includes("nginx"))).toEqual([]);
  const files = created.find((r) => r.name === "mail-files")!;
  expect(JSON.stringify(await files.inputs.stdin)).not.toContain("/etc/nginx");
});

test("no autoconfig records, and the certificate issued exactly as before autoconfig existed", async () => {
  const records = await valueOf(outputs.mailDnsRecords);
  expect(records.filter((r) => /autoconfig|autodiscover/.test(r.name))).toEqual([]);
  const { MAIL_ISSUE_SCRIPT } = await import("../../components/mailCertificate");
  const issue = created.find((r) => r.name === "mail-tls-issue")!;
  expect(issue.inputs.create).toBe(MAIL_ISSUE_SCRIPT);
  expect(await issue.inputs.environment).toEqual({ HOST: "mail.rockylinux.me", ADDRESS: "192.168.100.6", DAYS: "825" });
  expect(await issue.inputs.triggers).toEqual(["mail.rockylinux.me", "192.168.100.6", 825]);
});
