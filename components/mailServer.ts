// MailServer: Postfix (receiving on 25, submission on 587 and 465 with SASL
// through Dovecot) and Dovecot (IMAP/POP3, LMTP delivery into maildirs under
// /var/mail/vhosts), configured from the database's connection output and
// the certificate, with OpenDKIM signing mail from logged-in users (one key
// per mail domain, from DkimKeys), a web server telling mail clients their
// settings (autoconfig, autodiscover), and publishing the DNS records the
// zone needs for it, the DKIM public keys included.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { DkimKeys } from "./dkimKeys";
import { mailPackages } from "./packages";
import { SIEVE_DIR } from "./render/dovecot";
import { renderMailFilterFiles, renderMailServerFiles } from "./render/mailFiles";
import { DEFAULT_LIMITS, MAIL_GUARD, MailLimits } from "./render/mailGuard";
import { MailEndpoints, mailDnsRecords, mailEndpoints, WEB_PORT } from "./render/mailRecords";
import { MtaStsPolicy } from "./render/mtaSts";
import { DEFAULT_FILTERING, FilteringSettings, RSPAMD, RSPAMD_DIR } from "./render/rspamd";
import { RSPAMD_CACHE, rspamdWarmupScript } from "./render/rspamdWarmup";
import { FILES_DIR } from "./render/template";
import { DatabaseConnection, DnsRecord } from "./render/types";
import { both, Capability, OsFamily, PlacedServer, ServerSpec, ServerTarget, ServiceSpec } from "./targets/server";
import { ACME, AcmeSettings } from "./render/acme";
import { MAIL_BACKUP_PATHS } from "./render/backup";
import { OPENDKIM_PATHS } from "./render/opendkim";
import { ensureBackupRepository, ServerBackupArgs, withBackup } from "./serverBackup";

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
  /**
   * DKIM selectors whose keys are published but do not sign (DkimKeys).
   * @default []
   */
  readonly dkimPublishedSelectors?: readonly string[];
  /**
   * Seconds a new DKIM key is published before it signs (DkimKeys).
   * @default 86400
   */
  readonly dkimRolloverWaitSeconds?: number;
  /**
   * DKIM keys given rather than made (DkimKeys' given).
   * @default []
   */
  readonly dkimKeys?: readonly { readonly domain: string; readonly selector: string; readonly privateKey: pulumi.Input<string> }[];
  /**
   * Abuse limits: per client address on 25, per login on 587/465, failed
   * logins per client address.
   * @default DEFAULT_LIMITS (components/render/mailGuard.ts)
   */
  readonly limits?: MailLimits;
  /**
   * Spam filtering (Rspamd): thresholds, greylisting, allow list.
   * @default DEFAULT_FILTERING (components/render/rspamd.ts)
   */
  readonly filtering?: FilteringSettings;
  /**
   * Storage quota, in bytes, of a mailbox without one of its own (its row's
   * quota_bytes; MysqlServer's users). 0: none.
   * @default 0
   */
  readonly quota?: number;
  /**
   * Whether a web server (nginx) tells mail clients their settings over
   * HTTPS: Thunderbird's autoconfig and Outlook's autodiscover at
   * autoconfig.<d> and autodiscover.<d> of every mail domain, with their
   * DNS records. The certificate must name those hosts (MailCertificate's
   * extraNames).
   * @default true
   */
  readonly autoconfig?: boolean;
  /**
   * Whether the zone pins the SMTP server's key for DANE: a TLSA record
   * (3 1 1) at _25._tcp.<mail host>, following the certificate. Only worth
   * it in a DNSSEC-signed zone (BindServer's dnssec).
   * @default false
   */
  readonly dane?: boolean;
  /**
   * MTA-STS: the policy (mode, max age) the web server serves at
   * https://mta-sts.<d>/.well-known/mta-sts.txt for every mail domain, with
   * its mta-sts.<d> A and _mta-sts.<d> TXT records. The certificate must
   * name mta-sts.<d> and be one senders trust. Absent: none.
   */
  readonly mtaSts?: MtaStsPolicy;
  /** Where senders report TLS failures (RFC 8460; mailto:/https: URIs), published as _smtp._tls.<d> TXT. Absent or empty: none. */
  readonly tlsReportsTo?: readonly string[];
  /**
   * Certificates from an ACME CA: mail-acme on the server asks for one of
   * `privateKey` naming `names`, serves it and renews it on a schedule
   * (reloading Postfix, Dovecot and the web server); `certificate` is served
   * until the first arrives (obtainAcmeCertificate). Absent: `certificate`
   * is served.
   */
  readonly acme?: {
    readonly settings: AcmeSettings;
    /** The names the certificate must cover, the server's host name first. */
    readonly names: readonly string[];
    /** dns-01: the DNS server that takes the updates, and the TSIG secret (base64) BindServer's acmeUpdates has. */
    readonly nameserver?: pulumi.Input<string>;
    readonly tsigSecret?: pulumi.Input<string>;
  };
  /**
   * Backups with restic (mail-backup): the maildirs, the queue, the DKIM
   * keys, the certificates and the filter's state, on a schedule, into the
   * settings' repository under the snapshot host name. Absent: none.
   */
  readonly backup?: ServerBackupArgs;
}

/** files/mail/accounts.sh: the vmail account and /var/mail/vhosts (images run it at build time). */
const ACCOUNTS_SCRIPT = fs.readFileSync(path.join(FILES_DIR, "mail", "accounts.sh"), "utf8").trimEnd();

/** Where the server keeps its certificate and key. */
const TLS = { certificateFile: "/etc/ssl/mail/fullchain.pem", keyFile: "/etc/ssl/mail/privkey.pem" };

export { MailEndpoints } from "./render/mailRecords";


/** A service reads the files under these directories. */
const readsUnder = (...dirs: string[]) => (p: string) => dirs.some((d) => p.startsWith(d));

const GUARD_COMMAND = `${MAIL_GUARD.python} ${MAIL_GUARD.program}`;

/**
 * The mail server's daemons, in start order: Redis and Rspamd first, early
 * (their files depend on settings only, so they start before the database
 * is there: Rspamd's first start on a host compiles its rules, some 10 s,
 * done while the database and the others start; a container has them from
 * its image, MAIL_IMAGE_WARMUP), mail-guard (Dovecot and
 * Postfix ask it about logins, senders and recipients), Dovecot (its auth and
 * LMTP sockets in Postfix's spool), OpenDKIM, then Postfix (the first message
 * is signed and filtered). In a container a stale PID file of a crashed run
 * would stop a daemon from starting, so the run commands remove it.
 */
export const MAIL_SERVICES: readonly ServiceSpec[] = [
  {
    id: "redis",
    unit: { debian: "redis-server", rhel: "redis" },
    // Its configuration is the distribution's (loopback, /var/lib/redis): no
    // rendered file. In a container IPv4 loopback only (no ::1 there: a warning).
    reads: () => false,
    onChange: "restart",
    early: true,
    container: {
      run:
        "install -d -o redis -g redis -m 2755 /run/redis; " +
        'exec setpriv --reuid=redis --regid=redis --init-groups redis-server /etc/redis/redis.conf --bind 127.0.0.1 --daemonize no --supervised no --logfile ""',
    },
  },
  {
    id: "rspamd",
    unit: both("rspamd"),
    reads: readsUnder(`${RSPAMD_DIR}/`),
    // SIGHUP: its workers restart with the new configuration.
    onChange: "reload",
    early: true,
    // A SIGHUP while Rspamd still loads (~10 s) ends it: before a reload or
    // restart, wait (bounded) until a running Rspamd's controller answers.
    check: both(
      "rspamadm configtest && for i in $(seq 1 120); do grep -qsx rspamd /proc/[0-9]*/comm || break; " +
        `rspamc --connect ${RSPAMD.controller} -t 1 stat >/dev/null 2>&1 && break; sleep 0.5; done`,
    ),
    container: {
      run: "install -d -o _rspamd -g _rspamd -m 0755 /run/rspamd; exec setpriv --reuid=_rspamd --regid=_rspamd --init-groups rspamd -f",
    },
  },
  {
    id: "mail-guard",
    unit: both("mail-guard"),
    reads: readsUnder(MAIL_GUARD.program, MAIL_GUARD.config, MAIL_GUARD.systemdUnit, MAIL_GUARD.initScript),
    // Its counts and bans are in memory: a restart forgets them.
    onChange: "restart",
    check: both(`${GUARD_COMMAND} --check ${MAIL_GUARD.config}`),
    container: { run: `exec ${GUARD_COMMAND} ${MAIL_GUARD.config}` },
  },
  {
    id: "dovecot",
    unit: both("dovecot"),
    reads: readsUnder("/etc/dovecot/", "/etc/ssl/mail/"),
    onChange: "reload",
    // The shared Sieve scripts are compiled here, as root: Dovecot runs them as vmail, which may not write there.
    check: both(`doveconf -n >/dev/null && sievec ${SIEVE_DIR}`),
    container: { run: "rm -f /run/dovecot/master.pid; exec dovecot -F" },
  },
  {
    id: "opendkim",
    unit: both("opendkim"),
    reads: readsUnder("/etc/opendkim", "/etc/default/opendkim"),
    onChange: "restart",
    check: both("opendkim -n -x /etc/opendkim.conf"),
    container: {
      run:
        "install -d -o opendkim -g opendkim -m 0750 /run/opendkim; rm -f /run/opendkim/opendkim.pid /var/spool/postfix/opendkim/opendkim.sock; " +
        "exec opendkim -f -x /etc/opendkim.conf",
    },
  },
  {
    id: "postfix",
    unit: both("postfix"),
    reads: readsUnder("/etc/postfix/", "/etc/ssl/mail/"),
    onChange: "reload",
    check: both("postfix check"),
    // master runs as a child of postfix-script: stop and reload go to master.
    // Start-up's postsuper logs anything it finds (a bogus file name, a queue
    // file renamed to match its inode after a copy) to maillog_file, opening
    // /dev/stdout as the postfix user: the container's log pipe, root's and
    // 0600, refused it, the integrity check failed and the container
    // restarted forever. The pipe is given to the mail owner (it may then add
    // lines to the log, nothing more). A crash can leave a queue file under its
    // temporary name ("inode.pid", never acknowledged: cleanup renames it to
    // its queue ID at creation) in incoming/: removed, as `postsuper -p`
    // would. Queue IDs never contain a dot.
    container: {
      run: "rm -f /var/spool/postfix/pid/master.pid; find /var/spool/postfix/incoming -type f -name '*.*' -delete;" +
        ' chown "$(postconf -h mail_owner)" /dev/stdout; exec postfix start-fg',
      reload: "postfix reload",
      stop: "postfix stop",
    },
  },
];

/**
 * The web server (clients' autoconfiguration, components/render/web.ts),
 * last: it only tells clients where the others are. Its master stays root
 * (the key is root's; a reload re-reads it) and runs its workers as
 * www-data (nginx on RHEL). It serves the certificate the mail daemons do,
 * so a new one reloads it too.
 */
export const WEB_SERVICE: ServiceSpec = {
  id: "nginx",
  unit: both("nginx"),
  reads: readsUnder("/etc/nginx/", "/etc/ssl/mail/"),
  onChange: "reload",
  check: both("nginx -t"),
  // Its SIGHUP is a reload; its pid file is nginx.conf's (stale ones do not stop it).
  container: { run: "exec nginx -g 'daemon off;'" },
};

/** The mail server's daemons in start order: the web server's last, when it has one. */
export function mailServices(autoconfig: boolean): readonly ServiceSpec[] {
  return autoconfig ? [...MAIL_SERVICES, WEB_SERVICE] : MAIL_SERVICES;
}

/**
 * What root needs on the mail server (see ServerSpec.capabilities), each found
 * missing by experiment: CHOWN, FOWNER (accounts, files and directories of
 * vmail, opendkim, postfix), DAC_OVERRIDE (Dovecot's sockets in Postfix's
 * private/ directory, root's way into the queue), SETUID/SETGID (every daemon
 * drops to its users), SYS_CHROOT (Dovecot's login processes chroot), KILL
 * (stopping OpenDKIM, which runs as opendkim; nginx's master signalling its
 * workers), NET_BIND_SERVICE (ports 25 to 995 and 443; Docker lets anyone
 * bind low ports in a container, other engines and hosts do not). nginx
 * needs nothing more: its master (root) binds 443, reads the key, makes its
 * temporary directories for www-data (CHOWN) and drops to it
 * (SETUID/SETGID); it runs no setuid program, so no-new-privileges takes
 * nothing from it (tests/checkers/web.test.ts). Not the setgid of postdrop: no-new-privileges voids it, so
 * only root can use `sendmail` here, and nothing in the container calls it
 * (tests/checkers/mail.test.ts).
 */
export const MAIL_CAPABILITIES: readonly Capability[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID", "CAP_SYS_CHROOT",
];

/** The mail image's warm-up: Rspamd's rules compiled once at build time (components/render/rspamdWarmup.ts). */
export const MAIL_IMAGE_WARMUP = rspamdWarmupScript();

/** Postfix's install-time question: no configuration of its own (the program writes it). */
export const MAIL_DEBCONF: readonly string[] = ["postfix postfix/main_mailer_type select No configuration"];

/**
 * mail-acme (components/render/acme.ts), first (but for the early daemons,
 * which serve no certificate): before the others start it makes sure the
 * chain they serve exists. Restarted when its files, or the key or
 * bootstrap chain under /etc/ssl/mail/, change.
 */
export const ACME_SERVICE: ServiceSpec = {
  id: "mail-acme",
  unit: both("mail-acme"),
  reads: readsUnder(ACME.program, ACME.config, ACME.serverCa, ACME.systemdUnit, ACME.initScript, "/etc/ssl/mail/"),
  onChange: "restart",
  container: { run: `${ACME.program} prepare && exec ${ACME.program} loop` },
};

/** The daemons that serve the certificate, as mail-acme reloads them. */
const TLS_UNITS = (web: boolean) => ["postfix", "dovecot", ...(web ? [WEB_SERVICE.unit.debian] : [])];

/** The mail server's own account and directories (files/mail/accounts.sh, as the hosts run it). */
export const MAIL_PREPARE = {
  apply: `sh -s create <<'ACCOUNTS'\n${ACCOUNTS_SCRIPT}\nACCOUNTS`,
  revert: `sh -s delete <<'ACCOUNTS'\n${ACCOUNTS_SCRIPT}\nACCOUNTS`,
};

export class MailServer extends pulumi.ComponentResource {
  /** The server's address. */
  readonly address: pulumi.Output<string>;
  /** Its fully qualified name, e.g. "mail.rockylinux.me". */
  readonly hostname: pulumi.Output<string>;
  /**
   * The records the zone must hold for this server: its A record and, per mail
   * domain, an MX, the SRV records of its services, its DKIM public key
   * (<selector>._domainkey TXT), SPF and DMARC when set, and with
   * autoconfig the autoconfig/autodiscover names and _autodiscover._tcp SRV.
   */
  readonly dnsRecords: pulumi.Output<DnsRecord[]>;
  /** host:port of each service. */
  readonly endpoints: pulumi.Output<MailEndpoints>;
  /** Where the server is: its container's name, or user@host. */
  readonly location: pulumi.Output<string>;
  /** Changes whenever the server is replaced or reconfigured. */
  readonly serverId: pulumi.Output<string>;
  private readonly server: PlacedServer;
  private readonly resourceName: string;
  /** What a new first certificate is asked for on (names, CA, challenge, account, key); undefined without ACME. */
  private readonly acmeTriggers?: pulumi.Input<unknown>[];

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:MailServer", name, {}, opts);
    const hostname = `${args.hostLabel}.${args.zone}`;
    const autoconfig = args.autoconfig ?? true;
    // nginx runs when it has something to serve: autoconfig, or the MTA-STS policy.
    const web = autoconfig || args.mtaSts !== undefined;
    const dkim = new DkimKeys(
      `${name}-dkim`,
      {
        domains: args.mailDomains,
        selector: args.dkimSelector ?? "mail",
        ...(args.dkimPublishedSelectors ? { publishedSelectors: args.dkimPublishedSelectors } : {}),
        ...(args.dkimRolloverWaitSeconds !== undefined ? { rolloverWaitSeconds: args.dkimRolloverWaitSeconds } : {}),
        ...(args.dkimKeys ? { given: args.dkimKeys } : {}),
      },
      { parent: this },
    );

    // mail-acme's settings, its secret (the DNS update key) kept secret.
    const acmeArgs = args.acme;
    const acmeClient = acmeArgs
      ? pulumi.all([acmeArgs.nameserver, pulumi.secret(acmeArgs.tsigSecret)]).apply(([nameserver, tsigSecret]) => ({
          acme: acmeArgs.settings,
          names: acmeArgs.names,
          ...(nameserver ? { nameserver } : {}),
          ...(tsigSecret ? { tsigSecret } : {}),
        }))
      : undefined;

    // The same files in a container and on a host, but for where the daemons log.
    const files = (family: OsFamily, container: boolean) =>
      pulumi
        .all([args.address, args.database, args.certificate, args.privateKey, dkim.privateKeys, acmeClient])
        .apply(([address, database, certificate, privateKey, dkimKeys, acme]) =>
          renderMailServerFiles({
            hostname,
            domain: args.zone,
            listenAddress: address,
            database,
            tls: TLS,
            limits: args.limits ?? DEFAULT_LIMITS,
            quotaBytes: args.quota ?? 0,
            mailDomains: args.mailDomains,
            dkim: { selector: dkim.selector, keys: dkimKeys },
            certificate,
            privateKey,
            container,
            ...(web ? { web: { family, autoconfig, ...(args.mtaSts ? { mtaSts: args.mtaSts } : {}) } } : {}),
            ...(acme ? { acme: { ...acme, reloadUnits: TLS_UNITS(web) } } : {}),
          }),
        );

    const spec: ServerSpec = withBackup({
      role: "mail",
      packages: mailPackages(web, acmeArgs !== undefined),
      debconf: MAIL_DEBCONF,
      imageWarmup: MAIL_IMAGE_WARMUP,
      files: ({ family, container }) => files(family, container),
      // Rspamd's: settings only, so Redis and Rspamd start before the database is there.
      earlyFiles: ({ container, nameservers }) =>
        renderMailFilterFiles({
          mailDomains: args.mailDomains,
          filtering: args.filtering ?? DEFAULT_FILTERING,
          container,
          ...(nameservers ? { nameservers } : {}),
        }),
      services: acmeArgs ? [ACME_SERVICE, ...mailServices(web)] : mailServices(web),
      // The health check also waits for the web server's port when there is
      // one, and reads mail-acme's status when it runs.
      ...(web || acmeArgs ? { healthEnv: both({ ...(web ? { WEB_PORT: String(WEB_PORT) } : {}), ...(acmeArgs ? { ACME_STATUS: ACME.status } : {}) }) } : {}),
      capabilities: MAIL_CAPABILITIES,
      prepare: MAIL_PREPARE,
      dataDirectories: ["/var/mail/vhosts"],
      // Mail accepted but not yet delivered (a remote server down, LMTP busy);
      // what Rspamd learnt (Bayes, in Redis) and its own state.
      // The ACME account and the CA's certificate, so a new container serves
      // it at once and does not ask the CA again.
      stateDirectories: ["/var/spool/postfix", "/var/lib/redis", "/var/lib/rspamd", ...(acmeArgs ? [ACME.state] : [])],
      deleteDataOnDestroy: args.purgeMailOnDestroy ?? false,
    }, args.backup, {
      // What a new server needs to be this one again; Dovecot's indexes are
      // in the maildirs and rebuilt on a restore.
      paths: [
        MAIL_BACKUP_PATHS.maildirs,
        ...MAIL_BACKUP_PATHS.queue,
        OPENDKIM_PATHS.keyDir,
        path.dirname(TLS.keyFile),
        RSPAMD_CACHE.dir,
        "/var/lib/redis",
        ...(acmeArgs ? [ACME.state] : []),
      ],
      // Rspamd's compiled rules (tens of MB): the image brings them, and
      // Rspamd compiles what it lacks.
      exclude: RSPAMD_CACHE.kept.map((k) => `${RSPAMD_CACHE.dir}/${k}`),
      mailRoot: MAIL_BACKUP_PATHS.maildirs,
      dkimKeyDir: OPENDKIM_PATHS.keyDir,
    });
    const server = args.target.place(name, spec, args.address, this);
    ensureBackupRepository(server, name, args.backup, this);
    this.server = server;
    this.resourceName = name;
    this.acmeTriggers = acmeArgs ? [acmeArgs.names.join(" "), acmeArgs.settings.directory, acmeArgs.settings.challenge, acmeArgs.settings.email, args.certificate] : undefined;

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
    this.dnsRecords = pulumi.all([this.address, dkim.publicKeys, args.certificate]).apply(([address, dkimKeys, certificate]) =>
      mailDnsRecords({
        zone: args.zone,
        hostLabel: args.hostLabel,
        address,
        mailDomains: args.mailDomains,
        mxPreference: args.mxPreference ?? 2,
        spf: args.spf,
        dmarc: args.dmarc,
        dkimSelector: dkim.selector,
        dkimKeys,
        autoconfig,
        ...(args.dane ? { daneCertificate: certificate } : {}),
        ...(args.mtaSts ? { mtaSts: args.mtaSts } : {}),
        ...(args.tlsReportsTo ? { tlsReportsTo: args.tlsReportsTo } : {}),
      }),
    );
    // Known once the server is healthy.
    this.endpoints = pulumi.all([this.address, server.readyId]).apply(([a]) => mailEndpoints(a));
    this.registerOutputs({
      address: this.address,
      hostname: this.hostname,
      dnsRecords: this.dnsRecords,
      endpoints: this.endpoints,
      location: this.location,
      serverId: this.serverId,
    });
  }

  /**
   * Has mail-acme get the server's first certificate from the ACME CA now,
   * failing the deploy with the CA's answer when it cannot (later renewals
   * are mail-acme's alone: nothing in state follows them, so an `up` after
   * one changes nothing). Again only when the names, CA, challenge, account
   * or key change. `opts.dependsOn` must hold what answers the challenge
   * (the DNS server with its challenge zones).
   */
  obtainAcmeCertificate(opts?: pulumi.CustomResourceOptions): pulumi.CustomResource {
    if (!this.acmeTriggers) throw new Error(`${this.resourceName}: obtainAcmeCertificate needs the acme argument`);
    return this.server.exec(`${this.resourceName}-acme-certificate`, [ACME.program, "ensure"], { apply: "", replaceOn: this.acmeTriggers }, { parent: this, ...opts });
  }
}
