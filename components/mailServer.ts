// MailServer: Postfix (receiving on 25, submission on 587 and 465 with SASL
// through Dovecot) and Dovecot (IMAP/POP3, LMTP delivery into maildirs under
// /var/mail/vhosts), configured from the database's connection output and
// the certificate, with OpenDKIM signing mail from logged-in users (one key
// per mail domain, from DkimKeys), and publishing the DNS records the zone
// needs for it, the DKIM public keys included.
import * as pulumi from "@pulumi/pulumi";
import { DkimKeys } from "./dkimKeys";
import { renderDovecotFiles } from "./render/dovecot";
import { dkimTxtValue, opendkimMilter, renderOpendkimFiles } from "./render/opendkim";
import { renderPostfixFiles } from "./render/postfix";
import { DatabaseConnection, DnsRecord, RenderedFile } from "./render/types";
import { DockerPlacement, DockerServer, dockerExec } from "./targets/docker";

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
  /** The users' addresses (their maildirs live under /var/mail/vhosts/<domain>/<local part>). */
  readonly mailboxes?: readonly string[];
  /**
   * Delete a user's maildir when the user is removed. Default false: the mail
   * is kept, and comes back if the user is added again.
   */
  readonly purgeRemovedMailboxes?: boolean;
  /** MX preference of the records this server publishes. Default 2 (the seed's). */
  readonly mxPreference?: number;
  /** SPF record (TXT) to publish at each mail domain; empty or absent publishes none. */
  readonly spf?: string;
  /** DMARC record (TXT) to publish at _dmarc.<domain> of each mail domain; empty or absent publishes none. */
  readonly dmarc?: string;
  /** DKIM selector: each mail domain's key is published at <selector>._domainkey.<domain>. Default "mail". */
  readonly dkimSelector?: string;
}

/** Where the server keeps its certificate and key. */
const TLS = { certificateFile: "/etc/ssl/mail/fullchain.pem", keyFile: "/etc/ssl/mail/privkey.pem" };

/** The ports the server listens on: the endpoints output and the SRV records both come from here. */
const PORTS = { smtp: 25, submission: 587, smtps: 465, imap: 143, imaps: 993, pop3: 110, pop3s: 995 } as const;

/** host:port of each client-facing service. */
export type MailEndpoints = { readonly [service in keyof typeof PORTS]: string };

/**
 * RFC 6186 (and RFC 8314 for _submissions) service records, so clients
 * configure themselves from an address. Implicit TLS gets the lower priority
 * number, i.e. is preferred, as RFC 8314 recommends.
 */
const SRV: readonly { service: string; port: keyof typeof PORTS; priority: number }[] = [
  { service: "_submissions._tcp", port: "smtps", priority: 0 },
  { service: "_submission._tcp", port: "submission", priority: 10 },
  { service: "_imaps._tcp", port: "imaps", priority: 0 },
  { service: "_imap._tcp", port: "imap", priority: 10 },
  { service: "_pop3s._tcp", port: "pop3s", priority: 0 },
  { service: "_pop3._tcp", port: "pop3", priority: 10 },
];

export class MailServer extends pulumi.ComponentResource {
  /** The server's address. */
  readonly address: pulumi.Output<string>;
  /** Its fully qualified name, e.g. "mail.rockylinux.me". */
  readonly hostname: pulumi.Output<string>;
  /**
   * The records the zone must hold for this server: its A record and, per mail
   * domain, an MX, the SRV records of its services, its DKIM public key
   * (<selector>._domainkey TXT), and SPF and DMARC when set.
   */
  readonly dnsRecords: pulumi.Output<DnsRecord[]>;
  /** host:port of each service. */
  readonly endpoints: pulumi.Output<MailEndpoints>;
  /** The container's name. */
  readonly containerName: pulumi.Output<string>;
  /** The container's id: changes whenever the server is replaced. */
  readonly serverId: pulumi.Output<string>;

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:MailServer", name, {}, opts);
    const hostname = `${args.hostLabel}.${args.zone}`;
    const dkim = new DkimKeys(`${name}-dkim`, { domains: args.mailDomains, selector: args.dkimSelector ?? "mail" }, { parent: this });

    const files = pulumi
      .all([args.address, args.database, args.certificate, args.privateKey, dkim.privateKeys])
      .apply(([address, database, certificate, privateKey, dkimKeys]): RenderedFile[] => {
        const settings = { hostname, domain: args.zone, listenAddress: address, database, tls: TLS, milters: [opendkimMilter()] };
        return [
          ...renderPostfixFiles(settings),
          ...renderDovecotFiles(settings),
          ...renderOpendkimFiles({ selector: dkim.selector, keys: dkimKeys }),
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
    this.serverId = server.container.id;

    // With purging on, each mailbox is a resource whose deletion (the user's
    // removal from the configuration) deletes the maildir. Addresses are
    // validated to letters, digits and . _ - so the path needs no escaping.
    if (args.purgeRemovedMailboxes) {
      for (const email of args.mailboxes ?? []) {
        const [local, domain] = email.split("@");
        dockerExec(`${name}-mailbox-${email}`, server.containerName, ["sh"], {
          apply: ":",
          revert: `rm -rf -- '/var/mail/vhosts/${domain}/${local}'`,
        }, { parent: this });
      }
    }
    const preference = args.mxPreference ?? 2;
    // Owner names relative to the zone, as DnsRecord wants them.
    const relative = (d: string) => (d === args.zone ? "@" : d.slice(0, -(args.zone.length + 1)));
    const under = (prefix: string, d: string) => (d === args.zone ? prefix : `${prefix}.${relative(d)}`);
    this.dnsRecords = pulumi.all([this.address, dkim.publicKeys]).apply(([address, publicKeys]): DnsRecord[] => [
      { name: args.hostLabel, type: "A", value: address },
      ...args.mailDomains.flatMap((d): DnsRecord[] => [
        { name: relative(d), type: "MX", value: `${hostname}.`, priority: preference },
        ...SRV.map((s): DnsRecord => ({
          name: under(s.service, d),
          type: "SRV",
          value: `1 ${PORTS[s.port]} ${hostname}.`,
          priority: s.priority,
        })),
        ...(args.spf ? [{ name: relative(d), type: "TXT", value: args.spf } as const] : []),
        ...(args.dmarc ? [{ name: under("_dmarc", d), type: "TXT", value: args.dmarc } as const] : []),
        ...publicKeys
          .filter((k) => k.domain === d)
          .map((k): DnsRecord => ({ name: under(`${dkim.selector}._domainkey`, d), type: "TXT", value: dkimTxtValue(k.publicKey) })),
      ]),
    ]);
    // Ready once the container is healthy.
    this.endpoints = pulumi.all([this.address, server.container.id]).apply(
      ([a]) => Object.fromEntries(Object.entries(PORTS).map(([k, port]) => [k, `${a}:${port}`])) as MailEndpoints,
    );
    this.registerOutputs({
      address: this.address,
      hostname: this.hostname,
      dnsRecords: this.dnsRecords,
      endpoints: this.endpoints,
      containerName: this.containerName,
      serverId: this.serverId,
    });
  }
}
