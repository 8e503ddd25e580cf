import { createPrivateKey, generateKeyPairSync } from "crypto";
import { zoneSigningKey } from "../../components/render/dnssec";

// RFC 6605 §6.1: example.net.'s KSK, algorithm 13, with its private key, key
// tag and SHA-256 DS record. The public point is the DNSKEY's 64 bytes.
const RFC6605 = {
  zone: "example.net",
  privateKey: "GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=",
  dnskey: "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
  ds: "55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17",
};

function rfcKeyPem(): string {
  const point = Buffer.from(RFC6605.dnskey, "base64");
  const b64url = (b: Buffer) => b.toString("base64url");
  const key = createPrivateKey({
    key: { kty: "EC", crv: "P-256", d: b64url(Buffer.from(RFC6605.privateKey, "base64")), x: b64url(point.subarray(0, 32)), y: b64url(point.subarray(32)) },
    format: "jwk",
  });
  return key.export({ format: "pem", type: "pkcs8" }).toString();
}

describe("zoneSigningKey", () => {
  test("RFC 6605's example: the same key tag, DNSKEY and DS", () => {
    const k = zoneSigningKey(RFC6605.zone, rfcKeyPem());
    expect(k.tag).toBe(55648);
    expect(k.dnskey).toBe(`257 3 13 ${RFC6605.dnskey}`);
    expect(k.ds).toBe(RFC6605.ds);
    expect(k.fileBase).toBe("Kexample.net.+013+55648");
  });

  test("the zone's name is canonical: case and the final dot change nothing", () => {
    const pem = rfcKeyPem();
    expect(zoneSigningKey("Example.NET.", pem)).toEqual(zoneSigningKey("example.net", pem));
  });

  test("BIND's key files: the public key, the private scalar with its times, and a state that keeps it in use", () => {
    const k = zoneSigningKey(RFC6605.zone, rfcKeyPem());
    expect(k.keyFile).toContain(`example.net. IN DNSKEY 257 3 13 ${RFC6605.dnskey}\n`);
    expect(k.privateFile).toMatch(/^Private-key-format: v1\.3\nAlgorithm: 13 \(ECDSAP256SHA256\)\n/);
    expect(k.privateFile).toContain(`PrivateKey: ${RFC6605.privateKey}\n`);
    for (const t of ["Created", "Publish", "Activate"]) expect(k.privateFile).toMatch(new RegExp(`^${t}: \\d{14}$`, "m"));
    // A CSK: one key signs the key set and the zone, never retired by named.
    expect(k.stateFile).toMatch(/^KSK: yes$/m);
    expect(k.stateFile).toMatch(/^ZSK: yes$/m);
    expect(k.stateFile).toMatch(/^Lifetime: 0$/m);
    expect(k.stateFile).toMatch(/^GoalState: omnipresent$/m);
  });

  test("another key, another tag and DS", () => {
    const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const k = zoneSigningKey(RFC6605.zone, pem);
    expect(k.ds).toMatch(/^\d{1,5} 13 2 [0-9A-F]{64}$/);
    expect(k.ds).not.toBe(RFC6605.ds);
  });

  test("a key that is not EC P-256 is refused with a clear message", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    expect(() => zoneSigningKey("example.net", rsa)).toThrow("DNSSEC key: not an EC P-256 key");
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    expect(() => zoneSigningKey("example.net", p384)).toThrow("DNSSEC key: not an EC P-256 key");
  });
});
