import * as fs from "fs";
import * as path from "path";
import { FILES_DIR } from "../../components/render/template";
// The OpenDKIM renderer: files, owners and modes, tables per domain, and the
// DKIM record's value from a public key.
import { createPublicKey, generateKeyPairSync } from "crypto";
import {
  dkimKeyPath,
  dkimPublicKey,
  dkimTxtValue,
  isDkimSelector,
  opendkimMilter,
  renderOpendkimFiles,
} from "../../components/render/opendkim";

const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const KEYS = [
  { domain: "rockylinux.me", privateKey: rsa() },
  { domain: "mail.rockylinux.me", privateKey: rsa() },
];
const byPath = (files: ReturnType<typeof renderOpendkimFiles>) => new Map(files.map((f) => [f.path, f]));

describe("renderOpendkimFiles", () => {
  const files = byPath(renderOpendkimFiles({ selector: "mail", keys: KEYS }));

  test("opendkim.conf signs only, on 127.0.0.1, with the tables it names", () => {
    const conf = files.get("/etc/opendkim.conf")!;
    expect(conf).toMatchObject({ owner: "root", group: "root", mode: "0644" });
    const settings = new Map(
      conf.content
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => l.split(/\s+/) as [string, string]),
    );
    expect(Object.fromEntries(settings)).toMatchObject({
      Mode: "s",
      Socket: "local:/var/spool/postfix/opendkim/opendkim.sock",
      UserID: "opendkim:opendkim",
      KeyTable: "file:/etc/opendkim/KeyTable",
      SigningTable: "refile:/etc/opendkim/SigningTable",
      InternalHosts: "file:/etc/opendkim/TrustedHosts",
      ExternalIgnoreList: "file:/etc/opendkim/TrustedHosts",
      Canonicalization: "relaxed/simple",
    });
    // A unix socket in a directory only Postfix may enter (files/mail/accounts.sh), not a port any local process could use.
    expect(opendkimMilter()).toBe("unix:/var/spool/postfix/opendkim/opendkim.sock");
    const accounts = fs.readFileSync(path.join(FILES_DIR, "mail", "accounts.sh"), "utf8");
    expect(accounts).toContain("install -d -o opendkim -g postfix -m 0750 /var/spool/postfix/opendkim");
  });

  test("every mail domain has a KeyTable entry and a SigningTable pattern, longest domain first", () => {
    const body = (p: string) => files.get(p)!.content.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(body("/etc/opendkim/KeyTable")).toEqual([
      "mail._domainkey.mail.rockylinux.me mail.rockylinux.me:mail:/etc/opendkim/keys/mail.rockylinux.me/mail.private",
      "mail._domainkey.rockylinux.me rockylinux.me:mail:/etc/opendkim/keys/rockylinux.me/mail.private",
    ]);
    expect(body("/etc/opendkim/SigningTable")).toEqual([
      "*@mail.rockylinux.me mail._domainkey.mail.rockylinux.me",
      "*@rockylinux.me mail._domainkey.rockylinux.me",
    ]);
    // Internal: this host only. Outside clients are signed for only after logging in.
    expect(body("/etc/opendkim/TrustedHosts")).toEqual(["127.0.0.1", "::1", "localhost"]);
  });

  test("each private key is its own file: opendkim-owned, 0600, secret", () => {
    for (const k of KEYS) {
      const f = files.get(dkimKeyPath(k.domain, "mail"))!;
      expect(f).toMatchObject({ owner: "opendkim", group: "opendkim", mode: "0600", secret: true });
      expect(f.content.trim()).toBe(k.privateKey.trim());
      expect(f.content.endsWith("\n")).toBe(true);
    }
    const secret = [...files.values()].filter((f) => f.secret).map((f) => f.path);
    expect(secret.sort()).toEqual(KEYS.map((k) => dkimKeyPath(k.domain, "mail")).sort());
  });

  test("another selector changes the key names and paths", () => {
    const other = byPath(renderOpendkimFiles({ selector: "s2026", keys: KEYS.slice(0, 1) }));
    expect(other.get("/etc/opendkim/KeyTable")!.content).toContain(
      "s2026._domainkey.rockylinux.me rockylinux.me:s2026:/etc/opendkim/keys/rockylinux.me/s2026.private",
    );
    expect(other.has("/etc/opendkim/keys/rockylinux.me/s2026.private")).toBe(true);
  });

  test("a domain in a rollover signs with its own key's selector; the others keep the settings' one", () => {
    const files = byPath(renderOpendkimFiles({ selector: "s2", keys: [{ ...KEYS[0], selector: "mail" }, KEYS[1]] }));
    const signing = files.get("/etc/opendkim/SigningTable")!.content;
    expect(signing).toContain(`*@${KEYS[0].domain} mail._domainkey.${KEYS[0].domain}`);
    expect(signing).toContain(`*@${KEYS[1].domain} s2._domainkey.${KEYS[1].domain}`);
    expect(files.has(`/etc/opendkim/keys/${KEYS[0].domain}/mail.private`)).toBe(true);
    expect(files.has(`/etc/opendkim/keys/${KEYS[1].domain}/s2.private`)).toBe(true);
    expect(() => renderOpendkimFiles({ selector: "s2", keys: [{ ...KEYS[0], selector: "A_B" }] })).toThrow(/selector "A_B" of .* is not a DNS label/);
  });

  test.each([
    [{ selector: "a.b" }, /selector "a.b" is not a DNS label/],
    [{ selector: "_x" }, /selector "_x" is not a DNS label/],
    [{ keys: [] }, /no mail domain/],
    [{ keys: [KEYS[0], KEYS[0]] }, /listed twice/],
    [{ keys: [{ domain: "Bad Domain", privateKey: KEYS[0].privateKey }] }, /not a lower-case DNS name/],
    [{ keys: [{ domain: "x.example", privateKey: "not a key" }] }, /not a PEM private key/],
    [
      { keys: [{ domain: "x.example", privateKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string }] },
      /is ec, not RSA/,
    ],
  ])("%j is refused", (change, error) => {
    expect(() => renderOpendkimFiles({ selector: "mail", keys: KEYS, ...change })).toThrow(error);
  });

  test("isDkimSelector accepts one lower-case label", () => {
    expect(["mail", "s1", "sel-2026", "a".repeat(63)].every(isDkimSelector)).toBe(true);
    expect(["", "Mail", "a.b", "-a", "a-", "a_b", "a".repeat(64)].some(isDkimSelector)).toBe(false);
  });
});

describe("dkimTxtValue", () => {
  test("is the RFC 6376 record of the SubjectPublicKeyInfo of the private key", () => {
    const p = dkimPublicKey(KEYS[0].privateKey);
    expect(p).toBe(createPublicKey(KEYS[0].privateKey).export({ type: "spki", format: "der" }).toString("base64"));
    const value = dkimTxtValue(p);
    expect(value).toBe(`v=DKIM1; k=rsa; p=${p}`);
    // 2048-bit RSA: a 294-byte SPKI, 392 base64 characters: the zone must split it.
    expect(p).toHaveLength(392);
    expect(Buffer.byteLength(value)).toBeGreaterThan(255);
    // The p= decodes back to the same public key.
    const back = createPublicKey({ key: Buffer.from(value.split("p=")[1], "base64"), format: "der", type: "spki" });
    expect(back.export({ type: "spki", format: "pem" })).toBe(createPublicKey(KEYS[0].privateKey).export({ type: "spki", format: "pem" }));
  });

  test("refuses anything but base64", () => {
    expect(() => dkimTxtValue("abc; p=x")).toThrow(/base64/);
    expect(() => dkimTxtValue("")).toThrow(/base64/);
  });
});
