// MailCertificate: your own certificate is used as given (no CA is made);
// otherwise one command issues a CA and certificate once, kept in state.
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
