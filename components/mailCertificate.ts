// MailCertificate: the TLS certificate the mail host presents, either the
// user's own (e.g. from Let's Encrypt) or issued by a per-stack CA made once
// with openssl and then kept in state, so every later `up` renders the same
// files; AddressCertificate: the database's, issued the same way. The CA's
// private key is discarded right after issuing: nobody can issue more
// certificates from it.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { X509Certificate } from "crypto";
import { isDnsName } from "./render/checks";

export interface MailCertificateArgs {
  /** The mail host's name, e.g. "mail.rockylinux.me" (subject and DNS SAN). */
  readonly hostname: pulumi.Input<string>;
  /** The mail host's address (IP SAN). */
  readonly address: pulumi.Input<string>;
  /**
   * More DNS names the issued certificate must name (the autoconfig and
   * autodiscover hosts). Your own certificate must name them itself.
   */
  readonly extraNames?: readonly string[];
  /** Your own certificate chain and key (PEM); when given, no CA is made. */
  readonly own?: { readonly certificate: pulumi.Input<string>; readonly privateKey: pulumi.Input<string> };
  /** Validity of the issued certificate in days. Default 825. */
  readonly validityDays?: number;
}

/**
 * A shell script printing {"ca": ..., "certificate": ..., "key": ...} as JSON
 * on stdout: a new CA (its key discarded with the temporary directory) and a
 * server certificate for CN=$HOST whose subjectAltName is `san`, a printf
 * format over `sanArgs`.
 */
function issueScript(san: string, sanArgs: string): string {
  return String.raw`set -eu
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
  -subj "/O=mail-system/CN=mail-system CA for $HOST" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
  -keyout key.pem -out req.csr 2>/dev/null
printf 'subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
  ${sanArgs} > ext.cnf
openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$DAYS" -extfile ext.cnf \
  -out cert.pem 2>/dev/null
node -e 'const fs=require("fs");process.stdout.write(JSON.stringify({ca:fs.readFileSync("ca.pem","utf8"),certificate:fs.readFileSync("cert.pem","utf8"),key:fs.readFileSync("key.pem","utf8")}))'
`;
}

/**
 * The mail host's: its name (subject, DNS SAN) and address (IP SAN). This
 * exact text is in every existing stack's state: a changed script would
 * issue a new CA on the next `up` (tests/unit/mailCertificate.test.ts).
 */
export const MAIL_ISSUE_SCRIPT = issueScript("DNS:%s,IP:%s", '"$HOST" "$ADDRESS"');
/**
 * The mail host's with more DNS names ($EXTRA_SANS, "DNS:a,DNS:b"): a script
 * of its own so that a stack without extra names (autoconfig off) keeps
 * MAIL_ISSUE_SCRIPT, and its CA. A stack that gains names cannot keep its
 * CA whatever the script: the CA's key is gone, so only a new CA can sign a
 * certificate that names them. One new CA on the upgrade that turns
 * autoconfig on, and on each change of the names (a mail domain added or
 * removed), is that price (README, "Upgrading").
 */
export const MAIL_NAMES_ISSUE_SCRIPT = issueScript("DNS:%s,IP:%s,%s", '"$HOST" "$ADDRESS" "$EXTRA_SANS"');
/** A server reached by its address alone (the database): subject and IP SAN are the address. */
export const ADDRESS_ISSUE_SCRIPT = issueScript("IP:%s", '"$ADDRESS"');

interface Issued {
  readonly ca: pulumi.Output<string>;
  readonly certificate: pulumi.Output<string>;
  readonly key: pulumi.Output<string>;
}

/** Runs an issue script once (again only when a trigger changes); the PEMs stay in state, the key secret. */
function issue(
  name: string,
  script: string,
  env: { HOST: pulumi.Input<string>; ADDRESS: pulumi.Input<string>; DAYS: string; EXTRA_SANS?: string },
  triggers: pulumi.Input<unknown>[],
  parent: pulumi.Resource,
): Issued {
  const issued = new command.local.Command(
    name,
    { create: script, environment: env, triggers, logging: "none" },
    { parent, additionalSecretOutputs: ["stdout"] },
  );
  const pem = issued.stdout.apply((s) => JSON.parse(s) as { ca: string; certificate: string; key: string });
  return {
    ca: pulumi.unsecret(pem.apply((p) => p.ca)),
    certificate: pulumi.unsecret(pem.apply((p) => p.certificate)),
    key: pulumi.secret(pem.apply((p) => p.key)),
  };
}

export class MailCertificate extends pulumi.ComponentResource {
  /** The certificate chain (PEM): the server certificate, then the CA for issued ones. */
  readonly certificate: pulumi.Output<string>;
  /** The private key (PEM, secret). */
  readonly privateKey: pulumi.Output<string>;
  /** The CA certificate clients trust (PEM); empty for your own certificate. */
  readonly caCertificate: pulumi.Output<string>;

  constructor(name: string, args: MailCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:MailCertificate", name, {}, opts);
    if (args.own) {
      this.certificate = pulumi.output(args.own.certificate);
      this.privateKey = pulumi.secret(args.own.privateKey);
      this.caCertificate = pulumi.output("");
    } else {
      const days = args.validityDays ?? 825;
      const names = [...new Set((args.extraNames ?? []).map((n) => n.toLowerCase()))];
      for (const n of names) if (!isDnsName(n, { minLabels: 2 })) throw new Error(`${name}: extraNames: "${n}" is not a DNS name`);
      // Without extra names, exactly the inputs stacks had before there were any.
      const extra = names.length > 0 ? { EXTRA_SANS: names.map((n) => `DNS:${n}`).join(",") } : undefined;
      // A new name, address, validity or extra name issues a new CA and certificate.
      const issued = issue(
        `${name}-issue`,
        extra ? MAIL_NAMES_ISSUE_SCRIPT : MAIL_ISSUE_SCRIPT,
        { HOST: args.hostname, ADDRESS: args.address, DAYS: String(days), ...extra },
        [args.hostname, args.address, days, ...(extra ? [extra.EXTRA_SANS] : [])],
        this,
      );
      this.caCertificate = issued.ca;
      this.certificate = pulumi.concat(issued.certificate, issued.ca);
      this.privateKey = issued.key;
    }
    this.registerOutputs({ certificate: this.certificate, caCertificate: this.caCertificate, privateKey: this.privateKey });
  }
}

/**
 * The names (among `names`) a PEM certificate chain's first certificate does
 * not cover (wildcards count, as clients count them); every name when it
 * cannot be read.
 */
export function uncoveredNames(chainPem: string, names: readonly string[]): string[] {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(chainPem);
  } catch {
    return [...names];
  }
  return names.filter((n) => leaf.checkHost(n) === undefined);
}

/**
 * A certificate for a server its clients reach by address alone (the
 * database: subject and IP SAN are the address), issued by a CA of its own
 * made and discarded the same way. A CA of its own because the mail host's
 * CA key is gone after issuing (and there is none for your own certificate);
 * it also keeps the trust narrow: the mail server trusts, for the database,
 * a CA that signed nothing but the database's certificate.
 */
export class AddressCertificate extends pulumi.ComponentResource {
  /** The server certificate (PEM). */
  readonly certificate: pulumi.Output<string>;
  /** Its private key (PEM, secret). */
  readonly privateKey: pulumi.Output<string>;
  /** The CA certificate the server's clients verify it with (PEM). */
  readonly caCertificate: pulumi.Output<string>;

  constructor(name: string, args: { readonly address: pulumi.Input<string>; readonly validityDays?: number }, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:AddressCertificate", name, {}, opts);
    const days = args.validityDays ?? 825;
    // A new address or validity issues a new CA and certificate.
    const issued = issue(`${name}-issue`, ADDRESS_ISSUE_SCRIPT, { HOST: args.address, ADDRESS: args.address, DAYS: String(days) }, [args.address, days], this);
    this.certificate = issued.certificate;
    this.privateKey = issued.key;
    this.caCertificate = issued.ca;
    this.registerOutputs({ certificate: this.certificate, caCertificate: this.caCertificate, privateKey: this.privateKey });
  }
}
