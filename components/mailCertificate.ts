// MailCertificate: the TLS certificate the mail host presents. Either the
// user's own (e.g. from Let's Encrypt) or issued by a per-stack CA made once
// with openssl and then kept in state, so every later `up` renders the same
// files. The CA's private key is discarded right after issuing: nobody can
// issue more certificates from it.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

export interface MailCertificateArgs {
  /** The mail host's name, e.g. "mail.rockylinux.me" (subject and DNS SAN). */
  readonly hostname: pulumi.Input<string>;
  /** The mail host's address (IP SAN). */
  readonly address: pulumi.Input<string>;
  /** Your own certificate chain and key (PEM); when given, no CA is made. */
  readonly own?: { readonly certificate: pulumi.Input<string>; readonly privateKey: pulumi.Input<string> };
  /** Validity of the issued certificate in days. Default 825. */
  readonly validityDays?: number;
}

// Prints {"ca": ..., "certificate": ..., "key": ...} as JSON on stdout.
const ISSUE_SCRIPT = String.raw`set -eu
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
  -subj "/O=mail-system/CN=mail-system CA for $HOST" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
  -keyout key.pem -out req.csr 2>/dev/null
printf 'subjectAltName=DNS:%s,IP:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
  "$HOST" "$ADDRESS" > ext.cnf
openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$DAYS" -extfile ext.cnf \
  -out cert.pem 2>/dev/null
node -e 'const fs=require("fs");process.stdout.write(JSON.stringify({ca:fs.readFileSync("ca.pem","utf8"),certificate:fs.readFileSync("cert.pem","utf8"),key:fs.readFileSync("key.pem","utf8")}))'
`;

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
      const issued = new command.local.Command(
        `${name}-issue`,
        {
          create: ISSUE_SCRIPT,
          environment: {
            HOST: args.hostname,
            ADDRESS: args.address,
            DAYS: String(args.validityDays ?? 825),
          },
          // A new name, address or validity issues a new CA and certificate.
          triggers: [args.hostname, args.address, args.validityDays ?? 825],
          logging: "none",
        },
        { parent: this, additionalSecretOutputs: ["stdout"] },
      );
      const pem = issued.stdout.apply((s) => JSON.parse(s) as { ca: string; certificate: string; key: string });
      this.caCertificate = pulumi.unsecret(pem.apply((p) => p.ca));
      this.certificate = pulumi.unsecret(pem.apply((p) => p.certificate + p.ca));
      this.privateKey = pulumi.secret(pem.apply((p) => p.key));
    }
    this.registerOutputs({ certificate: this.certificate, caCertificate: this.caCertificate, privateKey: this.privateKey });
  }
}
