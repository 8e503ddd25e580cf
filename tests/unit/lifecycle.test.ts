// Mailbox purging and the deploy's round-trip check, with Pulumi's mocks.
import { generateKeyPairSync } from "crypto";
import { mockResources, valueOf } from "../fixtures/mocks";
import { DockerTarget } from "../../components/targets/docker";

// A real key for the DKIM key commands, whose public half the program derives.
const DKIM_PEM = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;

const created = mockResources((args) => {
  if (args.type === "docker:index/container:Container") {
    return { networkDatas: [{ ipAddress: args.inputs.networksAdvanced[0].ipv4Address }] };
  }
  if (args.type === "command:local:Command") return { stdout: args.name.includes("-dkim-") ? DKIM_PEM : "checked" };
  return {};
});

const mailArgs = {
  target: new DockerTarget({ network: "net", gateway: "10.0.0.1", namePrefix: "t", baseImage: "debian:bookworm-slim" }),
  address: "10.0.0.6",
  zone: "example.test",
  hostLabel: "mail",
  mailDomains: ["example.test"],
  database: { host: "10.0.0.5", port: 3306, name: "mailserver", user: "mailrl", password: "pw", caCertificate: "-----BEGIN CERTIFICATE-----\nREItQ0E=\n-----END CERTIFICATE-----\n" },
  certificate: "CERT",
  privateKey: "KEY",
  mailboxes: ["ann@example.test", "bob.smith@example.test"],
};

test("without purging, removing a user leaves the maildir alone: no mailbox resources exist", async () => {
  const { MailServer } = await import("../../components/mailServer");
  const mail = new MailServer("keep", mailArgs);
  await valueOf(mail.serverId);
  await new Promise((r) => setTimeout(r, 200)); // what would register, has
  expect(created.filter((r) => r.name.startsWith("keep-mailbox-"))).toEqual([]);
});

test("with purging, each mailbox is a resource whose deletion removes exactly that maildir", async () => {
  const { MailServer } = await import("../../components/mailServer");
  const mail = new MailServer("purge", { ...mailArgs, purgeRemovedMailboxes: true });
  await valueOf(mail.serverId);
  // They register once the container's name resolves: give the mocks a moment (bounded).
  const boxesOf = () => created.filter((r) => r.name.startsWith("purge-mailbox-"));
  for (let i = 0; i < 50 && boxesOf().length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  const boxes = boxesOf();
  expect(boxes.map((b) => b.name)).toEqual(["purge-mailbox-ann@example.test", "purge-mailbox-bob.smith@example.test"]);
  const env = (await boxes[1].inputs.environment) as Record<string, string>;
  expect(env.CONTAINER).toBe("purge-id");
  expect(boxes[1].inputs.delete).toContain('docker exec -i "$CONTAINER"');
  const stdin = JSON.stringify(await boxes[1].inputs.stdin);
  expect(stdin).toContain("rm -rf -- '/var/mail/vhosts/example.test/bob.smith'");
});

test("the round-trip check runs the script with the user's credentials and re-runs on its triggers", async () => {
  const { MailRoundTrip } = await import("../../components/mailRoundTrip");
  const check = new MailRoundTrip("rt", {
    host: "10.0.0.6",
    servername: "mail.example.test",
    caCertificate: "CA",
    user: "ann@example.test",
    password: "secret-pw",
    triggers: ["mail-container-id", "db-container-id"],
  });
  expect(await valueOf(check.result)).toBe("checked");
  const command = created.find((r) => r.name === "rt-check")!;
  expect(command.inputs.create).toMatch(/^node ".*files\/check\/roundtrip\.js"$/);
  expect(command.inputs.environment).toMatchObject({
    MAIL_HOST: "10.0.0.6",
    MAIL_SERVERNAME: "mail.example.test",
    MAIL_USER: "ann@example.test",
    MAIL_PASSWORD: "secret-pw",
    MAIL_TIMEOUT: "60",
  });
  expect(command.inputs.triggers).toEqual(["mail-container-id", "db-container-id"]);
});
