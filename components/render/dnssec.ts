// DNSSEC for the zone: one ECDSA P-256 key (algorithm 13) that signs
// everything (a CSK), made once by the program and kept in state like the
// DKIM keys, so the DS record the parent zone holds stays valid across
// container replacements, upgrades and `destroy` + `up`. From it, as pure
// functions: the key files BIND reads (K<zone>.+013+<tag>.key/.private/.state)
// and the DS record (RFC 4034 §5.1.4, SHA-256 per RFC 4509).
import { createHash, createPrivateKey, KeyObject } from "crypto";

/** DNSSEC algorithm 13: ECDSA Curve P-256 with SHA-256 (RFC 6605). */
export const DNSSEC_ALGORITHM = 13;
/** DNSKEY flags of a key that signs the key set (SEP) and the zone: 257. */
const CSK_FLAGS = 257;
/** DS digest type 2: SHA-256. */
const DS_DIGEST_SHA256 = 2;
/**
 * The key's timing metadata: long past, so BIND (dnssec-policy, or
 * auto-dnssec on BIND 9.11) takes it as the zone's published, active key at
 * once instead of introducing it step by step, and as the one it keeps (no
 * lifetime: it never rolls it by itself).
 */
const KEY_TIME = "20260101000000";

/** The key's public half as DNSKEY wants it: the curve point's x and y, 64 bytes. */
function publicPoint(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.x || !jwk.y) throw new Error("DNSSEC key: not an EC P-256 key");
  return Buffer.concat([Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
}

function privateScalar(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (!jwk.d) throw new Error("DNSSEC key: not a private key");
  return Buffer.from(jwk.d, "base64url");
}

/** A name in DNS wire format, lower case (RFC 4034 §6.2 canonical form). */
function wireName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").toLowerCase().split(".");
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])), Buffer.from([0])]);
}

/** The key tag of a DNSKEY RDATA (RFC 4034 Appendix B). */
function keyTag(rdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i] : rdata[i] << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

/** What a zone's signing key gives: BIND's files and the parent's DS record. */
export interface ZoneSigningKey {
  /** The key tag, e.g. 55648. */
  readonly tag: number;
  /** The DNSKEY's RDATA in presentation form: "257 3 13 <base64>". */
  readonly dnskey: string;
  /** The DS RDATA for the parent zone: "<tag> 13 2 <SHA-256 hex>". */
  readonly ds: string;
  /** BIND's base name of the key files: K<zone>.+013+<tag, 5 digits>. */
  readonly fileBase: string;
  /** The .key file (public), the .private file (secret) and the .state file (dnssec-policy's). */
  readonly keyFile: string;
  readonly privateFile: string;
  readonly stateFile: string;
}

/** The signing key of `zone` from its private key (PEM, EC P-256). */
export function zoneSigningKey(zone: string, privateKeyPem: string): ZoneSigningKey {
  const origin = zone.replace(/\.$/, "").toLowerCase();
  const key = createPrivateKey(privateKeyPem);
  const point = publicPoint(key);
  const rdata = Buffer.concat([Buffer.from([CSK_FLAGS >> 8, CSK_FLAGS & 0xff, 3, DNSSEC_ALGORITHM]), point]);
  const tag = keyTag(rdata);
  const digest = createHash("sha256").update(Buffer.concat([wireName(origin), rdata])).digest("hex").toUpperCase();
  const dnskey = `${CSK_FLAGS} 3 ${DNSSEC_ALGORITHM} ${point.toString("base64")}`;
  const times = (names: readonly string[]) => names.map((n) => `${n}: ${KEY_TIME}\n`).join("");
  return {
    tag,
    dnskey,
    ds: `${tag} ${DNSSEC_ALGORITHM} ${DS_DIGEST_SHA256} ${digest}`,
    fileBase: `K${origin}.+${String(DNSSEC_ALGORITHM).padStart(3, "0")}+${String(tag).padStart(5, "0")}`,
    keyFile: `; Made by mail-system: the zone's signing key (KSK and ZSK in one).\n${origin}. IN DNSKEY ${dnskey}\n`,
    privateFile:
      "Private-key-format: v1.3\n" +
      `Algorithm: ${DNSSEC_ALGORITHM} (ECDSAP256SHA256)\n` +
      `PrivateKey: ${privateScalar(key).toString("base64")}\n` +
      times(["Created", "Publish", "Activate"]),
    // Without it dnssec-policy takes the key for a KSK alone and retires it.
    stateFile:
      `; The state of key ${tag} of ${origin}, as mail-system made it: in use for good.\n` +
      `Algorithm: ${DNSSEC_ALGORITHM}\nLength: 256\nLifetime: 0\nKSK: yes\nZSK: yes\n` +
      times(["Generated", "Published", "Active"]) +
      "DNSKEYState: omnipresent\nZRRSIGState: omnipresent\nKRRSIGState: omnipresent\nDSState: hidden\nGoalState: omnipresent\n" +
      times(["DNSKEYChange", "ZRRSIGChange", "KRRSIGChange", "DSChange"]),
  };
}
