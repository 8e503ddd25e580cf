// MailServer: Postfix (receiving on 25, submission on 587 and 465 with SASL
// through Dovecot) and Dovecot (IMAP/POP3, LMTP delivery into maildirs under
// /var/mail/vhosts), configured from the database's connection output and
// the certificate, and publishing the DNS records the zone needs for it.
import * as pulumi from "@pulumi/pulumi";
import { renderDovecotFiles } from "./render/dovecot";
import { renderPostfixFiles } from "./render/postfix";
import { DatabaseConnection, DnsRecord, RenderedFile } from "./render/types";
import { DockerPlacement, DockerServer } from "./targets/docker";

export interface MailServerArgs {
  /** Where the server runs. */
  readonly placement: DockerPlacement;
  /** The server's address on the lab network. */
  readonly address: pulumi.Input<string>;
  /** The zone the server lives in, e.g. "rockylinux.me". */
  readonly zone: string;
  /** Host label in the zone, e.g. "mail" (the server is mail.<zone>). */
  readonly hostLabel: string;
  /** Domains whose mail the server accepts; each gets an MX record pointing here. */
  readonly mailDomains: readonly string[];
  /** The mail database (MysqlServer.connection). */
  readonly database: pulumi.Input<DatabaseConnection>;
  /** Certificate chain and private key (PEM) the server presents. */
  readonly certificate: pulumi.Input<string>;
  readonly privateKey: pulumi.Input<string>;
  /** MX preference of the records this server publishes. Default 2 (the seed's). */
  readonly mxPreference?: number;
}

/** Where the server keeps its certificate and key. */
const TLS = { certificateFile: "/etc/ssl/mail/fullchain.pem", keyFile: "/etc/ssl/mail/privkey.pem" };

/** A client-facing endpoint of the mail server. */
export interface MailEndpoints {
  readonly smtp: string;
  readonly submission: string;
  readonly smtps: string;
  readonly imap: string;
  readonly imaps: string;
  readonly pop3: string;
  readonly pop3s: string;
}

export class MailServer extends pulumi.ComponentResource {
  /** The server's address. */
  readonly address: pulumi.Output<string>;
  /** Its fully qualified name, e.g. "mail.rockylinux.me". */
  readonly hostname: pulumi.Output<string>;
  /** The records the zone must hold for this server: its A record and an MX per mail domain. */
  readonly dnsRecords: pulumi.Output<DnsRecord[]>;
  /** host:port of each service. */
  readonly endpoints: pulumi.Output<MailEndpoints>;
  /** The container's name. */
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:MailServer", name, {}, opts);
    const hostname = `${args.hostLabel}.${args.zone}`;

    const files = pulumi
      .all([args.address, args.database, args.certificate, args.privateKey])
      .apply(([address, database, certificate, privateKey]): RenderedFile[] => {
        const settings = { hostname, domain: args.zone, listenAddress: address, database, tls: TLS };
        return [
          ...renderPostfixFiles(settings),
          ...renderDovecotFiles(settings),
          { path: TLS.certificateFile, content: certificate, owner: "root", group: "root", mode: "0644" },
          { path: TLS.keyFile, content: privateKey, owner: "root", group: "root", mode: "0600", secret: true },
        ];
      });

    const server = new DockerServer(
      name,
      {
        role: "mail",
        files,
        healthcheck: ["/usr/local/sbin/mail-healthcheck"],
        dataDirectories: ["/var/mail/vhosts"],
      },
      { ...args.placement, address: args.address },
      this,
    );

    this.address = pulumi.output(args.address);
    this.hostname = pulumi.output(hostname);
    this.containerName = server.containerName;
    const preference = args.mxPreference ?? 2;
    this.dnsRecords = this.address.apply((address): DnsRecord[] => [
      { name: args.hostLabel, type: "A", value: address },
      ...args.mailDomains.map((d): DnsRecord => ({
        name: d === args.zone ? "@" : d.slice(0, -(args.zone.length + 1)),
        type: "MX",
        value: `${hostname}.`,
        priority: preference,
      })),
    ]);
    // Ready once the container is healthy.
    this.endpoints = pulumi.all([this.address, server.container.id]).apply(([a]) => ({
      smtp: `${a}:25`,
      submission: `${a}:587`,
      smtps: `${a}:465`,
      imap: `${a}:143`,
      imaps: `${a}:993`,
      pop3: `${a}:110`,
      pop3s: `${a}:995`,
    }));
    this.registerOutputs({
      address: this.address,
      hostname: this.hostname,
      dnsRecords: this.dnsRecords,
      endpoints: this.endpoints,
      containerName: this.containerName,
    });
  }
}
