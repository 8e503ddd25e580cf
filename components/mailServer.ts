// MailServer: Postfix (receiving on 25, submission on 587 and 465 with SASL
// through Dovecot) and Dovecot (IMAP/POP3, LMTP delivery into maildirs under
// /var/mail/vhosts), configured from the database's connection output and
// the certificate, with OpenDKIM signing mail from logged-in users (one key
// per mail domain, from DkimKeys), and publishing the DNS records the zone
// needs for it, the DKIM public keys included.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { DkimKeys } from "./dkimKeys";
import { PACKAGES } from "./packages";
import { renderDovecotFiles } from "./render/dovecot";
import { dkimTxtValue, opendkimMilter, renderOpendkimFiles } from "./render/opendkim";
import { renderPostfixFiles } from "./render/postfix";
import { FILES_DIR } from "./render/template";
import { DatabaseConnection, DnsRecord, RenderedFile } from "./render/types";
import { both, ServerSpec, ServerTarget } from "./targets/server";

export interface MailServerArgs {
  /** Where the server runs: a container or a host over SSH. */
  readonly target: ServerTarget;
  /** The server's address (its A record, and what Postfix treats as itself). */
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
  /**
   * Delete all mail (/var/mail/vhosts) when the server is destroyed. Default
   * false: the mail outlives `pulumi destroy` (a volume kept, or the host's
   * directory) and is there again on the next `up`.
   */
  readonly purgeMailOnDestroy?: boolean;
  /** MX preference of the records this server publishes. Default 2 (the seed's). */
  readonly mxPreference?: number;
  /** SPF record (TXT) to publish at each mail domain; empty or absent publishes none. */
  readonly spf?: string;
  /** DMARC record (TXT) to publish at _dmarc.<domain> of each mail domain; empty or absent publishes none. */
  readonly dmarc?: string;
  /** DKIM selector: each mail domain's key is published at <selector>._domainkey.<domain>. Default "mail". */
  readonly dkimSelector?: string;
}

/** files/mail/accounts.sh: the vmail account and /var/mail/vhosts (images run it at build time). */
const ACCOUNTS_SCRIPT = fs.readFileSync(path.join(FILES_DIR, "mail", "accounts.sh"), "utf8").trimEnd();

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
  /** Where the server is: its container's name, or user@host. */
  readonly location: pulumi.Output<string>;
  /** Changes whenever the server is replaced or reconfigured. */
  readonly serverId: pulumi.Output<string>;

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:MailServer", name, {}, opts);
    const hostname = `${args.hostLabel}.${args.zone}`;
    const dkim = new DkimKeys(`${name}-dkim`, { domains: args.mailDomains, selector: args.dkimSelector ?? "mail" }, { parent: this });

    // The same files in a container and on a host, but for where the daemons log.
    const files = (container: boolean) =>
      pulumi
        .all([args.address, args.database, args.certificate, args.privateKey, dkim.privateKeys])
        .apply(([address, database, certificate, privateKey, dkimKeys]): RenderedFile[] => {
          const settings = {
            hostname,
            domain: args.zone,
            listenAddress: address,
            database,
            tls: TLS,
            milters: [opendkimMilter()],
            logTo: container ? ("stdout" as const) : ("syslog" as const),
          };
          return [
            ...renderPostfixFiles(settings),
            ...renderDovecotFiles(settings),
            ...renderOpendkimFiles({ selector: dkim.selector, keys: dkimKeys, syslog: !container }),
            { path: TLS.certificateFile, content: certificate, owner: "root", group: "root", mode: "0644" },
            { path: TLS.keyFile, content: privateKey, owner: "root", group: "root", mode: "0600", secret: true },
          ];
        });

    const readsUnder = (...dirs: string[]) => (p: string) => dirs.some((d) => p.startsWith(d));
    const spec: ServerSpec = {
      role: "mail",
      packages: PACKAGES.mail,
      debconf: ["postfix postfix/main_mailer_type select No configuration"],
      files: ({ container }) => files(container),
      // Dovecot first (its auth and LMTP sockets), OpenDKIM before Postfix (the
      // first message is signed), as the container's entrypoint does.
      services: [
        { id: "dovecot", unit: both("dovecot"), reads: readsUnder("/etc/dovecot/", "/etc/ssl/mail/"), onChange: "reload", check: both("doveconf -n >/dev/null") },
        {
          id: "opendkim",
          unit: both("opendkim"),
          reads: readsUnder("/etc/opendkim", "/etc/default/opendkim"),
          onChange: "restart",
          check: both("opendkim -n -x /etc/opendkim.conf"),
        },
        { id: "postfix", unit: both("postfix"), reads: readsUnder("/etc/postfix/", "/etc/ssl/mail/"), onChange: "reload", check: both("postfix check") },
      ],
      prepare: {
        apply: `sh -s create <<'ACCOUNTS'\n${ACCOUNTS_SCRIPT}\nACCOUNTS`,
        revert: `sh -s delete <<'ACCOUNTS'\n${ACCOUNTS_SCRIPT}\nACCOUNTS`,
      },
      dataDirectories: ["/var/mail/vhosts"],
      deleteDataOnDestroy: args.purgeMailOnDestroy ?? false,
    };
    const server = args.target.place(name, spec, args.address, this);

    this.address = pulumi.output(args.address);
    this.hostname = pulumi.output(hostname);
    this.location = server.location;
    this.serverId = server.readyId;

    // With purging on, each mailbox is a resource whose deletion (the user's
    // removal from the configuration) deletes the maildir. Addresses are
    // validated to letters, digits and . _ - so the path needs no escaping.
    if (args.purgeRemovedMailboxes) {
      for (const email of args.mailboxes ?? []) {
        const [local, domain] = email.split("@");
        server.exec(`${name}-mailbox-${email}`, ["sh"], {
          apply: ":",
          revert: `rm -rf -- '/var/mail/vhosts/${domain}/${local}'`,
        });
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
    // Known once the server is healthy.
    this.endpoints = pulumi.all([this.address, server.readyId]).apply(
      ([a]) => Object.fromEntries(Object.entries(PORTS).map(([k, port]) => [k, `${a}:${port}`])) as MailEndpoints,
    );
    this.registerOutputs({
      address: this.address,
      hostname: this.hostname,
      dnsRecords: this.dnsRecords,
      endpoints: this.endpoints,
      location: this.location,
      serverId: this.serverId,
    });
  }
}
