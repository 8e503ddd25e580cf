// DkimKeys with Pulumi's mocks: a key per domain and selector, every one
// published, and the one that signs chosen by when each was published.
import { generateKeyPairSync } from "crypto";
import { dkimPublicKey } from "../../components/render/opendkim";
import { mockResources, valueOf } from "../fixtures/mocks";

const now = Math.floor(Date.now() / 1000);
// When each selector's key was published, as its `date` command would have printed it.
const publishedAt: Record<string, number> = { mail: now - 30 * 86400, s2: now - 3600 };
const keys = new Map<string, string>();
const keyFor = (name: string) => {
  if (!keys.has(name)) keys.set(name, generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string);
  return keys.get(name)!;
};

const created = mockResources((args) => {
  if (args.type !== "command:local:Command") return {};
  const published = /-(\w+)-published$/.exec(args.name);
  return { stdout: published ? `${publishedAt[published[1]]}\n` : keyFor(args.name) };
});

async function keysOf(name: string, args: ConstructorParameters<typeof import("../../components/dkimKeys").DkimKeys>[1]) {
  const { DkimKeys } = await import("../../components/dkimKeys");
  const k = new DkimKeys(name, args);
  return { privateKeys: await valueOf(k.privateKeys), publicKeys: await valueOf(k.publicKeys) };
}

test("a key per domain and selector, each with its published time; every key published, the configured one signing", async () => {
  const k = await keysOf("a", { domains: ["example.test", "sub.example.test"], selector: "mail", publishedSelectors: ["s2"] });
  expect(created.filter((r) => r.name.startsWith("a-")).map((r) => r.name).sort()).toEqual([
    "a-example.test-mail", "a-example.test-mail-published", "a-example.test-s2", "a-example.test-s2-published",
    "a-sub.example.test-mail", "a-sub.example.test-mail-published", "a-sub.example.test-s2", "a-sub.example.test-s2-published",
  ]);
  expect(k.publicKeys.map((p) => [p.domain, p.selector])).toEqual([
    ["example.test", "mail"], ["example.test", "s2"], ["sub.example.test", "mail"], ["sub.example.test", "s2"],
  ]);
  expect(k.publicKeys[1].publicKey).toBe(dkimPublicKey(keyFor("a-example.test-s2")));
  expect(k.privateKeys.map((p) => [p.domain, p.selector])).toEqual([["example.test", "mail"], ["sub.example.test", "mail"]]);
  expect(k.privateKeys[0].privateKey).toBe(keyFor("a-example.test-mail"));
});

test("switching to a key published an hour ago: the previous key signs until the wait is over", async () => {
  const k = await keysOf("b", { domains: ["example.test"], selector: "s2", publishedSelectors: ["mail"] });
  expect(k.privateKeys.map((p) => p.selector)).toEqual(["mail"]);
  expect(k.publicKeys.map((p) => p.selector)).toEqual(["s2", "mail"]);
  // A wait of less than an hour has passed: the new key signs.
  const soon = await keysOf("c", { domains: ["example.test"], selector: "s2", publishedSelectors: ["mail"], rolloverWaitSeconds: 1800 });
  expect(soon.privateKeys.map((p) => [p.selector, p.privateKey])).toEqual([["s2", keyFor("c-example.test-s2")]]);
});

test("the private keys are secret, the public ones not; a selector that is not a DNS label is refused", async () => {
  const { DkimKeys } = await import("../../components/dkimKeys");
  const k = new DkimKeys("d", { domains: ["example.test"], selector: "mail" });
  expect(await (k.privateKeys as unknown as { isSecret: Promise<boolean> }).isSecret).toBe(true);
  expect(await (k.publicKeys as unknown as { isSecret: Promise<boolean> }).isSecret).toBe(false);
  expect(() => new DkimKeys("e", { domains: ["example.test"], selector: "mail", publishedSelectors: ["Not_A_Label"] })).toThrow('DKIM selector "Not_A_Label" is not a DNS label');
});

test("a given key (a backup's) is used for its domain and selector instead of a new one, in PKCS#8, and signs at once", async () => {
  // An old server's key in PKCS#1 ("BEGIN RSA PRIVATE KEY"), as opendkim-genkey writes them.
  const pair = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const pkcs1 = pair.privateKey.export({ type: "pkcs1", format: "pem" }) as string;
  const k = await keysOf("g", { domains: ["example.test", "other.test"], selector: "s2", publishedSelectors: ["mail"], given: [{ domain: "example.test", selector: "s2", privateKey: pkcs1 }] });
  // No key made for it (nor its published time); the other domain's keys are made as before.
  expect(created.filter((r) => r.name.startsWith("g-example.test-s2"))).toEqual([]);
  expect(created.some((r) => r.name === "g-other.test-s2")).toBe(true);
  const signing = k.privateKeys.find((p) => p.domain === "example.test")!;
  // Published "long ago": it signs although the made key of mail was published before this run.
  expect(signing.selector).toBe("s2");
  expect(signing.privateKey).toBe(pair.privateKey.export({ type: "pkcs8", format: "pem" }));
  expect(k.publicKeys.find((p) => p.domain === "example.test" && p.selector === "s2")!.publicKey).toBe(dkimPublicKey(pkcs1));
});
