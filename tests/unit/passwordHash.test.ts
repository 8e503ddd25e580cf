import { execFileSync } from "child_process";
import { sha512Crypt, USER_HASH_ROUNDS, USER_HASH_SCRIPT } from "../../components/passwordHash";

describe("sha512Crypt", () => {
  // Test vectors from the specification ("Unix crypt using SHA-256 and SHA-512").
  test.each([
    ["Hello world!", "saltstring", 5000,
      "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"],
    ["Hello world!", "saltstringsaltstring", 10000,
      "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."],
    ["we have a short salt string but not a short password", "short", 77777,
      "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"],
    ["a very much longer text to encrypt.  This one even stretches over morethan one line.", "anotherlongsaltstring", 1400,
      "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"],
    ["a short string", "asaltof16chars..", 123456,
      "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"],
    ["the minimum number is still observed", "roundstoolow", 10,
      "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."],
  ])("%j with salt %j and %d rounds", (password, salt, rounds, expected) => {
    expect(sha512Crypt(password, salt, rounds)).toBe(expected);
  });

  test("agrees with openssl passwd -6, including non-ASCII passwords", () => {
    // (openssl reads the password as a line, so it cannot hash an empty one.)
    for (const [password, salt] of [["twotestandtwo", "TF7w672arYUk.fGC"], ["päss wörd ✓", "abc"], ["' OR 1=1 --", "x"]]) {
      const expected = execFileSync("openssl", ["passwd", "-6", "-salt", salt, "-stdin"], { input: password })
        .toString()
        .trim();
      expect(sha512Crypt(password, salt)).toBe(expected);
    }
  });

  test("users' hashes take 100,000 rounds, written into the hash as crypt(3) reads them, and agree with openssl", () => {
    expect(USER_HASH_ROUNDS).toBe(100_000);
    const hash = sha512Crypt("twotestandtwo", "TF7w672arYUk.fGC", USER_HASH_ROUNDS);
    expect(hash).toMatch(/^\$6\$rounds=100000\$TF7w672arYUk\.fGC\$[./0-9A-Za-z]{86}$/);
    const expected = execFileSync("openssl", ["passwd", "-6", "-salt", "rounds=100000$TF7w672arYUk.fGC", "-stdin"], { input: "twotestandtwo" })
      .toString()
      .trim();
    expect(hash).toBe(expected);
    // Stable: the same password and salt give the same hash on every run.
    expect(sha512Crypt("twotestandtwo", "TF7w672arYUk.fGC", USER_HASH_ROUNDS)).toBe(hash);
  });

  test("rejects salt characters outside the crypt alphabet", () => {
    expect(() => sha512Crypt("pw", "bad$salt")).toThrow(/salt may only contain/);
  });

  test("the program's hashing command (openssl passwd, run once per user) prints exactly sha512Crypt's hash", () => {
    for (const [password, salt] of [["twotestandtwo", "TF7w672arYUk.fGC"], ["päss wörd ✓ $HOME `x` \\", "abc"], ["' OR 1=1 --", "Zz09"]]) {
      const out = execFileSync("sh", ["-c", USER_HASH_SCRIPT], { input: password, env: { PATH: process.env.PATH, SALT: salt } }).toString();
      expect([password, out]).toEqual([password, `${sha512Crypt(password, salt, USER_HASH_ROUNDS)}\n`]);
    }
  });
});
