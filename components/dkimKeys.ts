// DkimKeys: one RSA 2048 signing key per mail domain and selector, made once
// with openssl and then kept in state (the private key as a secret), so
// every later `up` renders the same key and publishes the same record. A key
// is replaced only when its domain or selector changes; adding a domain
// makes keys for it alone. The public key is derived in TypeScript.
//
// Rollover with two selectors: the configured selector's key signs; the
// keys of `publishedSelectors` are only published (the next key before it
// signs, the previous one while mail it signed may still be verified). Each
// key records when it was first published, and a new key signs only after
// `rolloverWaitSeconds` in the zone (render/dkimRollover.ts).
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { createPrivateKey } from "crypto";
import { dkimSigningSelector } from "./render/dkimRollover";
import { dkimPublicKey, isDkimSelector } from "./render/opendkim";

/** One day: the zone's default TTL, so every cache has seen the new key's record before it is needed. */
export const DEFAULT_DKIM_ROLLOVER_WAIT_SECONDS = 86400;

export interface DkimKeysArgs {
  /** The mail domains to sign for. */
  readonly domains: readonly string[];
  /** The selector that signs: each key is published at <selector>._domainkey.<domain>. */
  readonly selector: string;
  /**
   * More selectors whose keys are published but do not sign (a rollover's
   * next or previous key).
   * @default []
   */
  readonly publishedSelectors?: readonly string[];
  /**
   * How long a new key is published before it signs, in seconds.
   * @default 86400
   */
  readonly rolloverWaitSeconds?: number;
  /**
   * Keys given rather than made (a backup's, an old server's): used for
   * their domain and selector instead of a new key, and signing at once,
   * since their records are the ones receivers already know.
   * @default []
   */
  readonly given?: readonly { readonly domain: string; readonly selector: string; readonly privateKey: pulumi.Input<string> }[];
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
// Prints the time it ran (Unix seconds): when the key made with it was first published.
const PUBLISHED_SCRIPT = "date -u +%s\n";

export class DkimKeys extends pulumi.ComponentResource {
  /** The keys that sign (secret), one per domain in the order given, each with the selector it signs with now. */
  readonly privateKeys: pulumi.Output<{ domain: string; selector: string; privateKey: string }[]>;
  /** Every published public key (not secret): per domain, the signing selector's, then the published selectors'. */
  readonly publicKeys: pulumi.Output<{ domain: string; selector: string; publicKey: string }[]>;
  /** The configured signing selector. */
  readonly selector: string;

  constructor(name: string, args: DkimKeysArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:DkimKeys", name, {}, opts);
    const selectors = [...new Set([args.selector, ...(args.publishedSelectors ?? [])])];
    for (const s of selectors) if (!isDkimSelector(s)) throw new Error(`DKIM selector ${JSON.stringify(s)} is not a DNS label`);
    const wait = args.rolloverWaitSeconds ?? DEFAULT_DKIM_ROLLOVER_WAIT_SECONDS;
    this.selector = args.selector;
    const generated = args.domains.flatMap((domain) =>
      selectors.map((selector) => {
        const given = args.given?.find((g) => g.domain === domain && g.selector === selector);
        if (given) {
          // PKCS#8 like the made ones, so the files and records have one form.
          const pem = pulumi.secret(pulumi.output(given.privateKey).apply((k) => createPrivateKey(k).export({ type: "pkcs8", format: "pem" }).toString()));
          return { domain, selector, pem, publishedAt: pulumi.output("0") };
        }
        // A new selector (or domain) means a new key; nothing else replaces it.
        const triggers = [domain, selector];
        const key = new command.local.Command(
          `${name}-${domain}-${selector}`,
          { create: GENERATE_SCRIPT, triggers, logging: "none" },
          {
            parent: this,
            additionalSecretOutputs: ["stdout"],
            // Before rollovers the key of the one selector was named for its domain alone.
            ...(selector === args.selector ? { aliases: [{ name: `${name}-${domain}` }] } : {}),
          },
        );
        const published = new command.local.Command(`${name}-${domain}-${selector}-published`, { create: PUBLISHED_SCRIPT, triggers }, { parent: this });
        return { domain, selector, pem: key.stdout, publishedAt: published.stdout };
      }),
    );
    const all = pulumi.secret(
      pulumi
        .all(generated.map((g) => pulumi.all([g.pem, g.publishedAt])))
        .apply((values) => generated.map((g, i) => ({ domain: g.domain, selector: g.selector, privateKey: values[i][0], publishedAt: Number(values[i][1].trim()) || 0 }))),
    );
    // Decided at each `up`: the configured key once it has waited, else the one it replaces.
    this.privateKeys = all.apply((keys) =>
      args.domains.map((domain) => {
        const own = keys.filter((k) => k.domain === domain);
        const choice = dkimSigningSelector(own, args.selector, wait, Math.floor(Date.now() / 1000));
        if (choice.waitingUntil !== undefined) {
          void pulumi.log.warn(
            `DKIM: ${domain} signs with selector ${choice.selector} until ${new Date(choice.waitingUntil * 1000).toISOString()}, ` +
              `when the key of ${args.selector} has been published for ${wait} s; run pulumi up after that to sign with it`,
            this,
          );
        }
        const k = own.find((x) => x.selector === choice.selector)!;
        return { domain, selector: k.selector, privateKey: k.privateKey };
      }),
    );
    this.publicKeys = pulumi.unsecret(
      all.apply((keys) => keys.map((k) => ({ domain: k.domain, selector: k.selector, publicKey: dkimPublicKey(k.privateKey) }))),
    );
    this.registerOutputs({ privateKeys: this.privateKeys, publicKeys: this.publicKeys });
  }
}
