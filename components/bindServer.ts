// BindServer: BIND 9, authoritative for the zone. Its own NS and A records
// come from its own outputs, the mail records from MailServer.dnsRecords, so
// no address is typed twice. The SOA serial increases whenever the zone's
// content changes and stays put otherwise. With DNSSEC on, named signs the
// zone with a key the program makes once and keeps in state (like the DKIM
// keys), so the DS record published at the parent stays valid for good.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { PACKAGES } from "./packages";
import { acmeDelegations, bindPaths, renderBindFiles, zoneContentHash, zoneOf } from "./render/bind";
import { zoneSigningKey } from "./render/dnssec";
import { DnsRecord } from "./render/types";
import { Capability, perFamily, ServerSpec, ServerTarget, ServiceSpec } from "./targets/server";

export interface BindServerArgs {
  /** Where the server runs: a container or a host over SSH. */
  readonly target: ServerTarget;
  /** The server's address: named listens there (and on 127.0.0.1). */
  readonly address: pulumi.Input<string>;
  /** The zone it serves, e.g. "rockylinux.me". */
  readonly zone: string;
  /** Its own host label in the zone, e.g. "dns". */
  readonly hostLabel: string;
  /** Other records of the zone (e.g. MailServer.dnsRecords). */
  readonly records: pulumi.Input<DnsRecord[]>;
  /**
   * Sign the zone (DNSSEC): the parent zone must then hold the `ds` output.
   * @default false
   */
  readonly dnssec?: boolean;
  /**
   * ACME DNS-01 through this server: a zone at _acme-challenge.<name> for
   * each name, delegated from the zone, in which the key may change TXT
   * records only (RFC 2136 updates signed with TSIG). Absent: none.
   */
  readonly acmeUpdates?: {
    /** Host names a certificate is asked for (inside the zone). */
    readonly names: readonly string[];
    /** The TSIG key's name. */
    readonly keyName: string;
    /** Its HMAC-SHA256 secret, base64. */
    readonly secret: pulumi.Input<string>;
  };
}

// Prints a PKCS#8 PEM EC P-256 private key (DNSSEC algorithm 13) on stdout.
const ZONE_KEY_SCRIPT = "set -eu\nopenssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null\n";

/**
 * The rendered named.conf in place, named-checkconf -z (its messages on
 * stderr), and every zone file readable
 * by named's user: named reads them after dropping root, and one it cannot
 * read would leave its zone unserved rather than stop named.
 */
export function namedCheck(p: { checkconf: string; namedConf: string; user: string; group: string; acmeZoneFilePrefix: string; acmeZoneSeed: string }): string {
  const prefix = p.acmeZoneFilePrefix.replace(/[./]/g, (c) => `\\${c}`);
  return [
    // The package's own named.conf is a working (recursive) server: never start that one.
    `grep -qs '^// Rendered by mail-system' ${p.namedConf} || { echo "named: ${p.namedConf} is missing or empty, or not the one mail-system rendered" >&2; exit 1; }`,
    // An ACME challenge zone named has not seen yet starts from the seed; one it
    // has is named's own (its journal follows the file) and is left alone.
    `${p.checkconf} -p ${p.namedConf} | sed -n 's/^[[:space:]]*file "\\(${prefix}[^"]*\\)";$/\\1/p' | while read -r f; do`,
    // (chmod before chown: a file root no longer owns needs CAP_FOWNER.)
    `  [ -e "$f" ] || { cp ${p.acmeZoneSeed} "$f" && chmod 0644 "$f" && chown ${p.user}:${p.group} "$f"; } || exit 1`,
    "done",
    `${p.checkconf} -z ${p.namedConf} >&2`,
    `${p.checkconf} -p ${p.namedConf} | sed -n 's/^[[:space:]]*file "\\(\\/.*\\)";$/\\1/p' | while read -r f; do`,
    `  runuser -u ${p.user} -- test -r "$f" || { echo "named: $f is not readable by the ${p.user} user" >&2; exit 1; }`,
    "done",
  ].join("\n");
}

/** BIND's one daemon, per family. */
export const NAMED_SERVICES: readonly ServiceSpec[] = [
  {
    id: "named",
    unit: perFamily((f) => bindPaths(f).service),
    // Everything it is given but its health check.
    reads: (path) => !path.startsWith("/usr/local/"),
    // A new zone serial is picked up without dropping a query.
    onChange: "reload",
    check: perFamily((f) => namedCheck(bindPaths(f))),
    // -g: foreground, logging to stderr (the container's log); -4: the lab has no IPv6.
    container: { run: `exec named -g -4 -u ${bindPaths("debian").user} -c ${bindPaths("debian").namedConf}` },
  },
];

/**
 * What root needs on the DNS server (see ServerSpec.capabilities), each found
 * missing by experiment: SETUID/SETGID (named -u bind; runuser in the check),
 * CHOWN (the files step: zone files root:bind), KILL (stopping named, which
 * runs as bind), NET_BIND_SERVICE (port 53; Docker lets anyone bind low ports
 * in a container, other engines and hosts do not).
 */
export const NAMED_CAPABILITIES: readonly Capability[] = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"];

export class BindServer extends pulumi.ComponentResource {
  /** The server's address (what resolvers are pointed at). */
  readonly address: pulumi.Output<string>;
  /** Its name, e.g. "dns.rockylinux.me". */
  readonly hostname: pulumi.Output<string>;
  /**
   * The SOA serial of the zone as the program writes it; it increases
   * whenever the content changes. A signed zone is served with a serial at
   * least this high (named raises it when it signs).
   */
  readonly serial: pulumi.Output<number>;
  /** The DS record's data for the parent zone ("<tag> 13 2 <SHA-256>"), or "" when the zone is not signed. */
  readonly ds: pulumi.Output<string>;
  /** Where the server is: its container's name, or user@host. */
  readonly location: pulumi.Output<string>;

  constructor(name: string, args: BindServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:BindServer", name, {}, opts);
    const hostname = `${args.hostLabel}.${args.zone}`;

    // The challenge zones' delegations are records of the zone like any other.
    const delegations = args.acmeUpdates ? acmeDelegations(args.zone, `${hostname}.`, args.acmeUpdates.names) : [];
    const zone = pulumi
      .all([args.address, args.records])
      .apply(([address, records]) => zoneOf({ zone: args.zone, hostLabel: args.hostLabel, address, records: [...records, ...delegations] }));
    const acmeUpdates = args.acmeUpdates;
    const acmeSecret = acmeUpdates ? pulumi.secret(acmeUpdates.secret) : undefined;

    // Seconds since the epoch at the time the content last changed: a new
    // content hash replaces this resource, which reads the clock again.
    const serialClock = new command.local.Command(
      `${name}-serial`,
      { create: "date +%s", triggers: [zone.apply(zoneContentHash)] },
      { parent: this },
    );
    this.serial = serialClock.stdout.apply((s) => Number(s.trim()));

    // The zone's signing key: made once; only a new zone name replaces it.
    const signingKey = args.dnssec
      ? pulumi.secret(
          new command.local.Command(
            `${name}-zone-key`,
            { create: ZONE_KEY_SCRIPT, triggers: [args.zone], logging: "none" },
            { parent: this, additionalSecretOutputs: ["stdout"] },
          ).stdout,
        )
      : undefined;
    this.ds = signingKey ? pulumi.unsecret(signingKey.apply((pem) => zoneSigningKey(args.zone, pem).ds)) : pulumi.output("");

    // Each family has its own layout (paths, accounts, modes).
    const spec: ServerSpec = {
      role: "dns",
      packages: PACKAGES.dns,
      files: ({ family }) =>
        pulumi.all([args.address, zone, this.serial, signingKey, acmeSecret]).apply(([address, z, serial, key, secret]) =>
          renderBindFiles({
            listenAddress: address,
            zones: [{ ...z, serial, ...(key ? { signingKey: key } : {}) }],
            layout: family,
            ...(acmeUpdates && secret ? { acmeUpdates: { keyName: acmeUpdates.keyName, secret, names: [...acmeUpdates.names] } } : {}),
          }),
        ),
      services: NAMED_SERVICES,
      capabilities: NAMED_CAPABILITIES,
      healthEnv: perFamily((f) => ({ DNS_ZONES: args.zone, NAMED_CONF: bindPaths(f).namedConf })),
    };
    const server = args.target.place(name, spec, args.address, this);

    this.address = pulumi.output(args.address);
    this.hostname = pulumi.output(hostname);
    this.location = server.location;
    this.registerOutputs({
      address: this.address,
      hostname: this.hostname,
      serial: this.serial,
      ds: this.ds,
      location: this.location,
    });
  }
}
