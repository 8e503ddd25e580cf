// SHA512-CRYPT ("$6$"), the scheme Dovecot's passdb reads (default_pass_scheme
// = SHA512-CRYPT). A user's hash is made once, by `openssl passwd` on the
// deploying machine (as the certificates and DKIM keys are), and kept in state
// as a secret: at 100,000 rounds it costs about 0.2 s, which every preview
// would otherwise pay again for every user. sha512Crypt implements the same
// function from Ulrich Drepper's public specification ("Unix crypt using
// SHA-256 and SHA-512") for the tests and the bench, which check one against
// the other: with a salt kept in state, the hash never changes by itself.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { createHash } from "crypto";

const ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DEFAULT_ROUNDS = 5000;
/**
 * Rounds of the users' hashes: 20 times crypt(3)'s default, so a stolen hash
 * costs an attacker 20 times more per guess. Dovecot pays it once per login
 * (measured in README's "Security beyond the seed").
 */
export const USER_HASH_ROUNDS = 100_000;
const MIN_ROUNDS = 1000;
const MAX_ROUNDS = 999_999_999;
/** Characters a crypt(3) salt may hold; at most 16 of them are used. */
export const SALT_ALPHABET = ITOA64;

const sha512 = (...parts: Buffer[]): Buffer => {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** `n` bytes taken from `block` repeated as often as needed. */
function repeatTo(block: Buffer, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = block[i % block.length];
  return out;
}

// The specification's order of the digest bytes, three at a time.
const GROUPS: readonly [number, number, number][] = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

function encode(digest: Buffer): string {
  let out = "";
  const put = (b2: number, b1: number, b0: number, n: number) => {
    let w = (b2 << 16) | (b1 << 8) | b0;
    for (let i = 0; i < n; i++) {
      out += ITOA64[w & 0x3f];
      w >>= 6;
    }
  };
  for (const [a, b, c] of GROUPS) put(digest[a], digest[b], digest[c], 4);
  put(0, 0, digest[63], 2);
  return out;
}

/**
 * Returns the `$6$` crypt string of `password` with `salt` (at most 16
 * characters of `./0-9A-Za-z` are used) and `rounds` (default 5000, clamped
 * to 1000..999999999 as the specification says).
 */
export function sha512Crypt(password: string, salt: string, rounds = DEFAULT_ROUNDS): string {
  const bad = [...salt].find((ch) => !SALT_ALPHABET.includes(ch));
  if (bad !== undefined) throw new Error(`salt may only contain ./0-9A-Za-z, not ${JSON.stringify(bad)}`);
  const r = Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Math.floor(rounds)));
  const p = Buffer.from(password, "utf8");
  const s = Buffer.from(salt.slice(0, 16), "utf8");

  const b = sha512(p, s, p);
  const a = createHash("sha512").update(p).update(s);
  a.update(repeatTo(b, p.length));
  for (let i = p.length; i > 0; i >>= 1) a.update(i & 1 ? b : p);
  let digest = a.digest();

  const pBytes = repeatTo(sha512(...Array<Buffer>(p.length).fill(p)), p.length);
  const sBytes = repeatTo(sha512(...Array<Buffer>(16 + digest[0]).fill(s)), s.length);

  for (let i = 0; i < r; i++) {
    const c = createHash("sha512");
    c.update(i & 1 ? pBytes : digest);
    if (i % 3 !== 0) c.update(sBytes);
    if (i % 7 !== 0) c.update(pBytes);
    c.update(i & 1 ? digest : pBytes);
    digest = c.digest();
  }

  const prefix = r === DEFAULT_ROUNDS ? "$6$" : `$6$rounds=${r}$`;
  return `${prefix}${s.toString("utf8")}$${encode(digest)}`;
}

/** Prints the hash of the password on stdin with $SALT and USER_HASH_ROUNDS (openssl reads the rounds from the salt). */
export const USER_HASH_SCRIPT = `set -eu\nopenssl passwd -6 -salt "rounds=${USER_HASH_ROUNDS}\\$$SALT" -stdin\n`;

const USER_HASH = new RegExp(`^\\$6\\$rounds=${USER_HASH_ROUNDS}\\$[./0-9A-Za-z]{1,16}\\$[./0-9A-Za-z]{86}$`);

/**
 * A user's password hash (secret), made by a command when the user is added
 * and again only when the password or the salt changes: previews and later
 * `up`s read it from state.
 */
export function userPasswordHash(name: string, password: pulumi.Input<string>, salt: pulumi.Input<string>): pulumi.Output<string> {
  const hash = new command.local.Command(
    name,
    {
      create: USER_HASH_SCRIPT,
      stdin: pulumi.secret(password),
      environment: { SALT: salt },
      // Its output is the hash: never in the log.
      logging: "none",
    },
    { additionalSecretOutputs: ["stdout"] },
  );
  return pulumi.secret(
    hash.stdout.apply((out) => {
      const h = out.trim();
      if (!USER_HASH.test(h)) throw new Error(`${name}: openssl passwd did not print a SHA512-CRYPT hash with ${USER_HASH_ROUNDS} rounds`);
      return h;
    }),
  );
}
