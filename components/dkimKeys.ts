// DkimKeys: one RSA 2048 signing key per mail domain, made once with openssl
// and then kept in state (the private key as a secret), so every later `up`
// renders the same key and publishes the same record. A domain's key is
// replaced only when its domain or the selector changes; adding a domain
// makes a key for it alone. The public key is derived in TypeScript.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { dkimPublicKey, isDkimSelector } from "./render/opendkim";

export interface DkimKeysArgs {
  /** The mail domains to sign for. */
  readonly domains: readonly string[];
  /** Selector: each key is published at <selector>._domainkey.<domain>. */
  readonly selector: string;
}

/** One domain's key pair. */
export interface DkimKey {
  readonly domain: string;
  readonly selector: string;
  /** PEM (PKCS#8); secret. */
  readonly privateKey: string;
  /** SubjectPublicKeyInfo, DER, base64: the p= of the DKIM record. */
  readonly publicKey: string;
}

// Prints a PKCS#8 PEM RSA private key on stdout.
const GENERATE_SCRIPT = "set -eu\nopenssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null\n";

export class DkimKeys extends pulumi.ComponentResource {
  /** The private keys (secret), one per domain in the order given. */
  readonly privateKeys: pulumi.Output<{ domain: string; privateKey: string }[]>;
  /** The public keys (not secret), one per domain in the order given. */
  readonly publicKeys: pulumi.Output<{ domain: string; publicKey: string }[]>;
  readonly selector: string;

  constructor(name: string, args: DkimKeysArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:DkimKeys", name, {}, opts);
    if (!isDkimSelector(args.selector)) throw new Error(`DKIM selector ${JSON.stringify(args.selector)} is not a DNS label`);
    this.selector = args.selector;
    const generated = args.domains.map((domain) => {
      const key = new command.local.Command(
        `${name}-${domain}`,
        {
          create: GENERATE_SCRIPT,
          // A new selector (or domain) means a new key; nothing else replaces it.
          triggers: [domain, args.selector],
          logging: "none",
        },
        { parent: this, additionalSecretOutputs: ["stdout"] },
      );
      return { domain, pem: key.stdout };
    });
    this.privateKeys = pulumi.secret(
      pulumi.all(generated.map((g) => g.pem)).apply((pems) => generated.map((g, i) => ({ domain: g.domain, privateKey: pems[i] }))),
    );
    this.publicKeys = pulumi.unsecret(
      this.privateKeys.apply((keys) => keys.map((k) => ({ domain: k.domain, publicKey: dkimPublicKey(k.privateKey) }))),
    );
    this.registerOutputs({ privateKeys: this.privateKeys, publicKeys: this.publicKeys });
  }
}
