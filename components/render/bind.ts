// Pure renderers for BIND 9: named.conf and the zone files of an
// authoritative-only server, for Debian's and RHEL's file layouts. Inputs are
// validated strictly so a bad record fails here, naming the record, rather
// than as a zone that named refuses to load on the server.
import { createHash } from "crypto";
import { isIPv6 } from "net";
import { zoneSigningKey } from "./dnssec";
import { renderTemplate } from "./template";
import { DnsRecord, RenderedFile } from "./types";
import { DnsNameRule, isDnsLabel, isIPv4 } from "./checks";

/** Where BIND's files live: Debian's /etc/bind, or RHEL's /etc/named.conf and /var/named. */
export type BindLayout = "debian" | "rhel";

export interface ZoneSpec {
  /** The zone's name without the final dot, e.g. "rockylinux.me". */
  origin: string;
  /** 1..4294967295; raised by the program whenever zoneContentHash changes. */
  serial: number;
  /** Absolute host name (final dot) for the SOA MNAME and the apex NS. */
  primaryNameserver: string;
  /** SOA RNAME, absolute, e.g. "hostmaster.rockylinux.me.". */
  hostmaster: string;
  records: DnsRecord[];
  /** $TTL; default 86400 (the seed's 1D). */
  ttl?: number;
  /** SOA timers; defaults as the seed: 1D, 1H, 1W, 3H. */
  refresh?: number;
  retry?: number;
  expire?: number;
  minimum?: number;
}

export interface BindSettings {
  /** The server's own IPv4 address; named also listens on 127.0.0.1 (healthcheck). */
  listenAddress: string;
  /**
   * The zones; one with a signingKey (PEM, EC P-256: render/dnssec.ts) is
   * signed by named (inline signing) with that key alone.
   */
  zones: (ZoneSpec & { signingKey?: string })[];
  /** Address match list elements; default ["any"] as the seed. */
  allowQuery?: string[];
  /** Default "debian". */
  layout?: BindLayout;
  /**
   * Response-rate limiting (RRL): how many identical responses (same name,
   * type and answer, errors and NXDOMAINs counted alike) named sends per
   * second to one client network (an IPv4 /24, an IPv6 /56); beyond it named
   * drops answers, sending every second one truncated so a real resolver
   * retries over TCP, which is never limited. Default 10, 0 turns RRL off.
   */
  responsesPerSecond?: number;
  /** Clients RRL never limits (address match list); default ["localhost", "localnets"]. */
  rateLimitExempt?: string[];
  /**
   * ACME DNS-01: a zone of its own at _acme-challenge.<name> for each name,
   * in which the TSIG key may add and remove TXT records (RFC 2136) and
   * nothing else. The zones above must delegate them (acmeDelegations).
   */
  acmeUpdates?: AcmeUpdateSettings;
}

/** Who may answer ACME's DNS-01 challenges, and for which names. */
export interface AcmeUpdateSettings {
  /** The TSIG key's name, e.g. "mail-system-acme" (no final dot). */
  keyName: string;
  /** Its HMAC-SHA256 secret, base64. */
  secret: string;
  /** Host names (no final dot) a certificate is asked for, each inside one of the zones. */
  names: string[];
}

/** The TSIG algorithm of the ACME update key (RFC 8945's recommended one). */
export const ACME_TSIG_ALGORITHM = "hmac-sha256";

/**
 * 10 identical answers a second per client network. An authoritative server
 * of a small domain is asked by resolvers, which cache each answer for its
 * TTL (minutes to a day here), so one network asking the same question ten
 * times a second is not a resolver but a reflection attack with a forged
 * source. The server's own
 * networks are exempt (see rateLimitExempt): there the mail host and the
 * lab's containers use this server directly as their resolver, without a
 * cache (Postfix looks up each SMTP client's name, so a load test may ask
 * the same question hundreds of times a second), and forged sources from
 * outside are stopped at the border.
 */
export const DEFAULT_RESPONSES_PER_SECOND = 10;

interface LayoutInfo {
  namedConf: string;
  zoneDir: string;
  user: string;
  group: string;
  checkconf: string;
  service: string;
  /** named's working directory (writable by its user; managed keys, dumps). */
  directory: string;
  /** Mode of the rendered files: what each distribution's package uses. */
  mode: string;
  zoneFile(origin: string): string;
  /** Whether named knows dnssec-policy (9.16 on); RHEL 8's 9.11 has auto-dnssec only. */
  dnssecPolicy: boolean;
  /** Where named may write: dynamic zones and their journals. */
  dynamicDir: string;
  /** Root's configuration directory, readable by named's group (keys, the challenge zones' seed). */
  confDir: string;
}

// debian: /etc/bind/named.conf and /var/lib/bind/db.<zone>, root:bind 0644.
// rhel:   /etc/named.conf and /var/named/<zone>.zone, root:named 0640.
// named.conf is self-contained in both (options and zones, no includes), so
// the package's own named.conf.options / named.rfc1912.zones go unused.
const LAYOUTS: Readonly<Record<BindLayout, LayoutInfo>> = {
  // Zone files go to /var/lib/bind: it exists wherever bind9 is installed
  // (root:bind 2775) and Debian's AppArmor profile lets named read it.
  debian: {
    namedConf: "/etc/bind/named.conf",
    zoneDir: "/var/lib/bind",
    user: "bind",
    group: "bind",
    checkconf: "/usr/bin/named-checkconf",
    service: "named", // bind9.service is an alias of it since bookworm
    directory: "/var/cache/bind",
    mode: "0644",
    zoneFile: (origin) => `db.${origin}`,
    dnssecPolicy: true,
    dynamicDir: "/var/lib/bind",
    confDir: "/etc/bind",
  },
  // RHEL 8 (the seed's Rocky 8) ships /usr/sbin/named-checkconf; later
  // Fedora-family packages keep a copy there next to /usr/bin's.
  rhel: {
    namedConf: "/etc/named.conf",
    zoneDir: "/var/named",
    user: "named",
    group: "named",
    checkconf: "/usr/sbin/named-checkconf",
    service: "named",
    directory: "/var/named",
    mode: "0640",
    zoneFile: (origin) => `${origin}.zone`,
    dnssecPolicy: false,
    dynamicDir: "/var/named/dynamic",
    confDir: "/etc/named",
  },
};

function layoutInfo(layout: BindLayout): LayoutInfo {
  const info = Object.prototype.hasOwnProperty.call(LAYOUTS, layout) ? LAYOUTS[layout] : undefined;
  if (!info) throw new Error(`unknown BIND layout ${JSON.stringify(layout)} (expected "debian" or "rhel")`);
  return info;
}

/**
 * The zones' signing policy: the one key the program made, signing the key
 * set and the zone (a CSK), never rolled by named (a new key is the
 * program's to make: the parent's DS must change with it). Signature
 * validity and refresh are BIND's defaults (14 and 5 days).
 */
const DNSSEC_POLICY = `dnssec-policy "mail-system" {
\tkeys { csk key-directory lifetime unlimited algorithm ecdsap256sha256; };
};
`;

/**
 * A signed zone's key files in the zone directory, owned by named's user (it
 * rewrites the .state file as the key's state moves), and its zone options:
 * inline signing (named keeps the signed copy next to the zone file, which
 * the program goes on writing unsigned).
 */
function zoneSigningFiles(origin: string, signingKey: string, layout: LayoutInfo): { files: RenderedFile[]; stanza: string } {
  const key = zoneSigningKey(origin, signingKey);
  const own = (suffix: string, content: string, mode: string, secret = false): RenderedFile => ({
    path: `${layout.zoneDir}/${key.fileBase}.${suffix}`,
    content,
    owner: layout.user,
    group: layout.group,
    mode,
    ...(secret ? { secret } : {}),
  });
  const files = [own("key", key.keyFile, "0644"), own("private", key.privateFile, "0600", true)];
  const how = layout.dnssecPolicy
    ? '\tdnssec-policy "mail-system";\n'
    : "\t// BIND 9.11 has no dnssec-policy: named signs with the keys in key-directory.\n\tauto-dnssec maintain;\n";
  if (layout.dnssecPolicy) files.push(own("state", key.stateFile, "0644"));
  return {
    files,
    stanza: `\t// Signed (DNSSEC) by named with the program's key ${key.tag}: see the DS record in manualRecords.\n${how}\tinline-signing yes;\n\tkey-directory "${layout.zoneDir}";\n`,
  };
}

/** Paths, accounts, checker and service name of BIND in a layout. */
export function bindPaths(layout: BindLayout): {
  namedConf: string;
  zoneDir: string;
  user: string;
  group: string;
  checkconf: string;
  service: string;
  acmeZoneFilePrefix: string;
  acmeZoneSeed: string;
} {
  const { namedConf, zoneDir, user, group, checkconf, service } = layoutInfo(layout);
  return { namedConf, zoneDir, user, group, checkconf, service, ...acmePaths(layoutInfo(layout)) };
}

/**
 * Where the ACME challenge zones' files are: named writes them (and their
 * journals), so the program only seeds a missing one, from the seed file it
 * renders (namedCheck); rewriting one named has updated would break its journal.
 */
function acmePaths(layout: LayoutInfo): { acmeZoneFilePrefix: string; acmeZoneSeed: string } {
  return { acmeZoneFilePrefix: `${layout.dynamicDir}/acme.`, acmeZoneSeed: `${layout.confDir}/mail-system-acme.seed` };
}

/** The name of the zone (and delegation) that holds a name's DNS-01 answers. */
export const acmeChallengeName = (host: string): string => `_acme-challenge.${host.toLowerCase()}`;

/**
 * The NS records delegating each name's challenge zone from `zone` to its
 * own server `nameserver` (absolute): without them resolvers asking the
 * zone's servers would not look below (the same server answers both).
 */
export function acmeDelegations(zone: string, nameserver: string, names: readonly string[]): DnsRecord[] {
  const o = zone.toLowerCase();
  return names.map((n) => {
    const h = n.toLowerCase();
    if (h !== o && !h.endsWith(`.${o}`)) throw new Error(`acme: ${JSON.stringify(n)} is not inside the zone ${o}`);
    return { name: acmeChallengeName(h).slice(0, -(o.length + 1)), type: "NS" as const, value: nameserver };
  });
}

/** named.conf's key statement, the challenge zones' stanzas and their files (the key's: secret). */
function acmeUpdateFiles(a: AcmeUpdateSettings, zones: readonly CheckedZone[], layout: LayoutInfo): { files: RenderedFile[]; key: string; stanzas: string[] } {
  const keyName = checkLabels(a.keyName, HOST_LABEL, "acmeUpdates.keyName");
  if (typeof a.secret !== "string" || !/^[A-Za-z0-9+/]{22,}={0,2}$/.test(a.secret) || Buffer.from(a.secret, "base64").length < 16) {
    throw new Error("acmeUpdates.secret must be base64 of at least 16 bytes");
  }
  if (!Array.isArray(a.names) || a.names.length === 0) throw new Error("acmeUpdates.names: at least one name is needed");
  const names = [...new Set(a.names.map((n) => checkLabels(n, HOST_LABEL, "acmeUpdates.names")))].sort(compareText);
  // Each inside a zone served here (the deepest), whose SOA and NS the challenge zone takes.
  const parentOf = (n: string) =>
    zones.filter((z) => n === z.origin || n.endsWith(`.${z.origin}`)).sort((x, y) => y.origin.length - x.origin.length)[0];
  const paths = acmePaths(layout);
  const first = parentOf(names[0]);
  if (!first) throw new Error(`acmeUpdates.names: ${names[0]} is not inside a zone this server serves`);
  const stanzas = names.map((n) => {
    if (!parentOf(n)) throw new Error(`acmeUpdates.names: ${n} is not inside a zone this server serves`);
    const zone = acmeChallengeName(n);
    return [
      "",
      `zone "${zone}" IN {`,
      "	type master;",
      `	// ACME DNS-01 answers for ${n}: key ${keyName} may add and remove TXT records here, nothing else.`,
      `	file "${paths.acmeZoneFilePrefix}${zone}.db";`,
      `	update-policy { grant ${keyName}. zonesub TXT; };`,
      "};",
    ].join("\n");
  });
  // Every challenge zone starts as this: SOA and NS of the first name's zone, no TXT.
  const seed = [
    "; Rendered by mail-system: the start of each ACME challenge zone (named then keeps it).",
    "$TTL 60",
    `@ IN SOA ${first.mname} ${first.rname} 1 3600 600 86400 60`,
    `@ IN NS ${first.mname}`,
    "",
  ].join("\n");
  const key = `key "${keyName}." {\n\talgorithm ${ACME_TSIG_ALGORITHM};\n\tsecret "${a.secret}";\n};\n`;
  const keyFile = `${layout.confDir}/mail-system-acme.key`;
  return {
    files: [
      { path: keyFile, content: `// Rendered by mail-system: the key that answers ACME challenges.\n${key}`, owner: "root", group: layout.group, mode: "0640", secret: true },
      { path: paths.acmeZoneSeed, content: seed, owner: "root", group: layout.group, mode: "0644" },
    ],
    key: `// The key the mail server's ACME client signs its updates with (a file of its own: it is secret).\ninclude "${keyFile}";\n`,
    stanzas,
  };
}

// ---------------------------------------------------------------- names

const MAX_TTL = 2147483647; // RFC 2181 §8: TTLs are 31-bit
const HOST_LABEL: DnsNameRule = { underscores: false };
// Owner names may also hold underscore labels (_dmarc, sel._domainkey, _tcp).
const OWNER_LABEL: DnsNameRule = { underscores: true };

/** Checks a dotted name without final dot label by label; returns it lowercased. */
function checkLabels(name: string, label: DnsNameRule, what: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 0 || lower.length > 253) throw new Error(`${what}: ${JSON.stringify(name)} is empty or longer than 253 characters`);
  for (const l of lower.split(".")) {
    if (!isDnsLabel(l, label)) throw new Error(`${what}: ${JSON.stringify(name)} has an invalid label ${JSON.stringify(l)}`);
  }
  return lower;
}

/** An absolute host name ("mail.rockylinux.me."), returned lowercased. */
function absoluteHost(name: string, what: string, label = HOST_LABEL): string {
  if (typeof name !== "string" || !name.endsWith(".") || name === ".") {
    throw new Error(`${what}: ${JSON.stringify(name)} must be an absolute host name with the final dot, e.g. "mail.example.com."`);
  }
  return `${checkLabels(name.slice(0, -1), label, what)}.`;
}

function origin(zone: { origin: string }): string {
  if (typeof zone.origin !== "string" || zone.origin.endsWith(".")) {
    throw new Error(`zone origin ${JSON.stringify(zone.origin)} must be given without the final dot, e.g. "rockylinux.me"`);
  }
  return checkLabels(zone.origin, HOST_LABEL, "zone origin");
}

function integer(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${what} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}


// ---------------------------------------------------------------- records

const TYPE_ORDER: readonly DnsRecord["type"][] = ["NS", "MX", "A", "AAAA", "CNAME", "SRV", "TLSA", "TXT"];

/** A record checked and put in canonical form. */
interface Rr {
  /** "@" or the relative owner name, lowercased. */
  owner: string;
  /** Absolute owner name, lowercased, with the final dot. */
  fqdn: string;
  type: DnsRecord["type"];
  ttl?: number;
  priority?: number;
  /** For MX, NS, CNAME, SRV: the absolute target. */
  target?: string;
  /** The RDATA as written in the zone file (TXT: the exact value, quoted later). */
  data: string;
  /** How error messages name the record. */
  label: string;
}

function describe(r: DnsRecord, index: number): string {
  const prio = r.priority === undefined ? "" : ` ${r.priority}`;
  return `record #${index} (${r.name} ${r.type}${prio} ${JSON.stringify(r.value)})`;
}

function checkRecord(r: DnsRecord, index: number, zoneOrigin: string): Rr {
  const label = describe(r, index);
  if (!TYPE_ORDER.includes(r.type)) throw new Error(`${label}: unsupported type ${JSON.stringify(r.type)}`);
  if (typeof r.value !== "string") throw new Error(`${label}: value must be a string`);

  let owner: string;
  if (r.name === "@") owner = "@";
  else {
    if (typeof r.name !== "string" || r.name.endsWith(".")) {
      throw new Error(`${label}: name must be relative to the zone ("@" for the apex), not absolute`);
    }
    const lower = r.name.toLowerCase();
    // "mail.rockylinux.me" would silently become mail.rockylinux.me.rockylinux.me.
    if (lower === zoneOrigin || lower.endsWith(`.${zoneOrigin}`)) {
      throw new Error(`${label}: name includes the zone origin; give it relative to the zone ("@" for the apex)`);
    }
    // A leading "*" label makes a wildcard.
    if (lower === "*") owner = "*";
    else if (lower.startsWith("*.")) owner = `*.${checkLabels(lower.slice(2), OWNER_LABEL, label)}`;
    else owner = checkLabels(lower, OWNER_LABEL, label);
  }
  const fqdn = owner === "@" ? `${zoneOrigin}.` : `${owner}.${zoneOrigin}.`;
  if (fqdn.length > 254) throw new Error(`${label}: ${fqdn} is longer than 253 characters`);

  const ttl = r.ttl === undefined ? undefined : integer(r.ttl, 0, MAX_TTL, `${label}: ttl`);
  const takesPriority = r.type === "MX" || r.type === "SRV";
  if (takesPriority && r.priority === undefined) throw new Error(`${label}: ${r.type} needs a priority`);
  if (!takesPriority && r.priority !== undefined) throw new Error(`${label}: only MX and SRV take a priority`);
  const priority = r.priority === undefined ? undefined : integer(r.priority, 0, 65535, `${label}: priority`);
  const base = { owner, fqdn, type: r.type, ttl, priority, label };

  switch (r.type) {
    case "A":
      if (!isIPv4(r.value)) throw new Error(`${label}: A value must be an IPv4 address like 192.168.100.6`);
      return { ...base, data: r.value };
    case "AAAA":
      if (!isIPv6(r.value)) throw new Error(`${label}: AAAA value must be an IPv6 address`);
      return { ...base, data: r.value.toLowerCase() };
    case "NS":
    case "MX": {
      const target = absoluteHost(r.value, `${label}: target`);
      return { ...base, target, data: r.type === "MX" ? `${priority} ${target}` : target };
    }
    case "CNAME": {
      if (owner === "@") throw new Error(`${label}: CNAME is not allowed at the zone apex (it would hide SOA and NS)`);
      // Aliases may point at underscore names (e.g. a provider's DKIM key).
      const target = absoluteHost(r.value, `${label}: target`, OWNER_LABEL);
      return { ...base, target, data: target };
    }
    case "SRV": {
      const labels = owner.split(".");
      if (labels.length < 2 || !labels[0].startsWith("_") || !labels[1].startsWith("_")) {
        throw new Error(`${label}: SRV name must be _service._proto[.name], e.g. "_submission._tcp"`);
      }
      const fields = r.value.trim().split(/\s+/);
      if (fields.length !== 3) throw new Error(`${label}: SRV value must be "weight port target." (priority goes in priority)`);
      if (!/^\d+$/.test(fields[0]) || !/^\d+$/.test(fields[1])) throw new Error(`${label}: SRV weight and port must be decimal integers`);
      const weight = integer(Number(fields[0]), 0, 65535, `${label}: SRV weight`);
      const port = integer(Number(fields[1]), 0, 65535, `${label}: SRV port`);
      const target = absoluteHost(fields[2], `${label}: target`);
      return { ...base, target, data: `${priority} ${weight} ${port} ${target}` };
    }
    case "TLSA": {
      // RFC 6698: usage (0-3), selector (0-1), matching type (0 full, 1 SHA-256, 2 SHA-512) and the data in hex.
      const m = /^\s*([0-3])\s+([01])\s+([0-2])\s+([0-9A-Fa-f]+)\s*$/.exec(r.value);
      if (!m) throw new Error(`${label}: TLSA value must be "usage selector matching-type hex", e.g. "3 1 1 <SHA-256 in hex>"`);
      const hexLength = { "1": 64, "2": 128 }[m[3]];
      if ((hexLength !== undefined && m[4].length !== hexLength) || m[4].length % 2 !== 0) {
        throw new Error(`${label}: TLSA data has ${m[4].length} hex digits; matching type ${m[3]} needs ${hexLength ?? "an even number"}`);
      }
      return { ...base, data: `${m[1]} ${m[2]} ${m[3]} ${m[4].toUpperCase()}` };
    }
    case "TXT": {
      const chunks = txtChunks(r.value);
      const wire = chunks.reduce((n, c) => n + 1 + c.length, 0);
      if (wire > 65535) throw new Error(`${label}: TXT value is too long (${wire} bytes of RDATA, at most 65535)`);
      return { ...base, data: r.value };
    }
  }
}

/** The UTF-8 bytes of a TXT value in character-strings of at most 255 bytes. */
function txtChunks(value: string): Buffer[] {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length === 0) return [bytes];
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) chunks.push(bytes.subarray(i, i + 255));
  return chunks;
}

/** One quoted zone-file string: `"` and `\` escaped, bytes outside printable ASCII as \DDD. */
function quote(chunk: Buffer): string {
  let s = '"';
  for (const b of chunk) {
    if (b === 0x22 || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b <= 0x7e) s += String.fromCharCode(b);
    else s += `\\${String(b).padStart(3, "0")}`;
  }
  return `${s}"`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Apex first, then names in DNS order (by labels from the right), so subdomains group together. */
function compareOwner(a: string, b: string): number {
  const la = a === "@" ? [] : a.split(".").reverse();
  const lb = b === "@" ? [] : b.split(".").reverse();
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    const c = compareText(la[i], lb[i]);
    if (c !== 0) return c;
  }
  return la.length - lb.length;
}

function compareRr(a: Rr, b: Rr): number {
  return (
    compareOwner(a.owner, b.owner) ||
    TYPE_ORDER.indexOf(a.type) - TYPE_ORDER.indexOf(b.type) ||
    (a.priority ?? 0) - (b.priority ?? 0) ||
    compareText(a.data, b.data)
  );
}

interface CheckedZone {
  origin: string;
  mname: string;
  rname: string;
  ttl: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
  records: Rr[];
}

/**
 * The zone BIND serves: its origin, the server's own host (SOA MNAME, apex
 * NS and its A record) and the other records (the mail server's, the
 * user's). BindServer serves it; the configuration checks it first.
 */
export function zoneOf(z: { zone: string; hostLabel: string; address: string; records: readonly DnsRecord[] }): Omit<ZoneSpec, "serial"> {
  return {
    origin: z.zone,
    primaryNameserver: `${z.hostLabel}.${z.zone}.`,
    hostmaster: `hostmaster.${z.zone}.`,
    records: [{ name: z.hostLabel, type: "A", value: z.address }, ...z.records],
  };
}

/** What is wrong with one record on its own in the zone `origin`, or undefined. */
export function recordProblem(r: DnsRecord, origin: string): string | undefined {
  try {
    checkRecord(r, 0, origin.toLowerCase());
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^record #0 \([^)]*\): /, "");
  }
}

/** The first thing wrong with a zone as a whole (duplicates, CNAME conflicts, dangling targets), or undefined. */
export function zoneProblem(zone: Omit<ZoneSpec, "serial">): string | undefined {
  try {
    checkZone(zone);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Validates a zone (all but the serial) and returns its records sorted, the primary's NS added. */
function checkZone(zone: Omit<ZoneSpec, "serial">): CheckedZone {
  const o = origin(zone);
  const where = `zone ${o}`;
  const mname = absoluteHost(zone.primaryNameserver, `${where}: primaryNameserver`);
  const rname = absoluteHost(zone.hostmaster, `${where}: hostmaster`);
  const timer = (v: number | undefined, dflt: number, what: string) =>
    integer(v ?? dflt, what === "ttl" || what === "minimum" ? 0 : 1, MAX_TTL, `${where}: ${what}`);
  const ttl = timer(zone.ttl, 86400, "ttl");
  const refresh = timer(zone.refresh, 86400, "refresh");
  const retry = timer(zone.retry, 3600, "retry");
  const expire = timer(zone.expire, 604800, "expire");
  const minimum = timer(zone.minimum, 10800, "minimum");
  if (!Array.isArray(zone.records)) throw new Error(`${where}: records must be an array`);

  const records = zone.records.map((r, i) => checkRecord(r, i, o));
  if (!records.some((r) => r.owner === "@" && r.type === "NS" && r.target === mname)) {
    records.push({ owner: "@", fqdn: `${o}.`, type: "NS", target: mname, data: mname, label: `the primary's NS ${mname}` });
  }

  const byName = new Map<string, Rr[]>();
  const seen = new Map<string, Rr>();
  for (const r of records) {
    const key = `${r.fqdn} ${r.type} ${r.data}`;
    const dup = seen.get(key);
    if (dup) throw new Error(`${where}: ${r.label} duplicates ${dup.label}`);
    seen.set(key, r);
    byName.set(r.fqdn, [...(byName.get(r.fqdn) ?? []), r]);
  }
  for (const rrs of byName.values()) {
    const cname = rrs.find((r) => r.type === "CNAME");
    const other = rrs.find((r) => r !== cname);
    if (cname && other) throw new Error(`${where}: ${cname.label}: a CNAME cannot coexist with other records at its name (${other.label})`);
    // One RRset has one TTL; BIND would silently use the first.
    for (const r of rrs) {
      const first = rrs.find((x) => x.type === r.type);
      if (first && first !== r && first.ttl !== r.ttl) {
        throw new Error(`${where}: ${r.label}: TTL differs from ${first.label} in the same RRset`);
      }
    }
  }
  // A delegation (NS below the apex) hides everything at and below it but the
  // NS set and its glue: named would load such records and never serve them.
  const cuts = records.filter((r) => r.type === "NS" && r.owner !== "@");
  for (const cut of cuts) {
    if (cut.owner.startsWith("*")) throw new Error(`${where}: ${cut.label}: NS records cannot be at a wildcard name`);
  }
  for (const r of records) {
    const cut = cuts.find((c) => r.fqdn === c.fqdn || r.fqdn.endsWith(`.${c.fqdn}`));
    if (!cut || (r.type === "NS" && r.fqdn === cut.fqdn)) continue;
    const glue = (r.type === "A" || r.type === "AAAA") && cuts.some((c) => c.target === r.fqdn);
    if (!glue) throw new Error(`${where}: ${r.label}: is at or below the delegation ${cut.fqdn} and would never be served (only glue may be)`);
  }
  // NS, MX and SRV targets inside the zone must have addresses here, and must
  // not be aliases (RFC 2181 §10.3); named-checkzone would reject or warn.
  for (const r of records) {
    if (!r.target || r.type === "CNAME") continue;
    if (r.target !== `${o}.` && !r.target.endsWith(`.${o}.`)) continue;
    const at = byName.get(r.target) ?? [];
    if (at.some((x) => x.type === "CNAME")) throw new Error(`${where}: ${r.label}: target ${r.target} is a CNAME; point it at a name with A/AAAA records`);
    if (!at.some((x) => x.type === "A" || x.type === "AAAA")) {
      throw new Error(`${where}: ${r.label}: target ${r.target} is inside the zone but has no A or AAAA record`);
    }
  }
  records.sort(compareRr);
  return { origin: o, mname, rname, ttl, refresh, retry, expire, minimum, records };
}

/** A duration in BIND's units when it is a whole number of them (86400 -> "1D"), else seconds. */
function duration(seconds: number): string {
  for (const [unit, n] of [["W", 604800], ["D", 86400], ["H", 3600], ["M", 60]] as const) {
    if (seconds > 0 && seconds % n === 0) return `${seconds / n}${unit}`;
  }
  return String(seconds);
}

function renderRecords(records: readonly Rr[]): string {
  const withTtl = records.some((r) => r.ttl !== undefined);
  const ownerWidth = Math.max(...records.map((r) => r.owner.length));
  const ttlWidth = withTtl ? Math.max(...records.map((r) => (r.ttl === undefined ? 0 : duration(r.ttl).length))) : 0;
  const typeWidth = Math.max(...records.map((r) => r.type.length));
  return records
    .map((r) => {
      const ttl = withTtl ? `${(r.ttl === undefined ? "" : duration(r.ttl)).padEnd(ttlWidth)} ` : "";
      const head = `${r.owner.padEnd(ownerWidth)} ${ttl}IN ${r.type.padEnd(typeWidth)} `;
      if (r.type !== "TXT") return head + r.data;
      const chunks = txtChunks(r.data).map(quote);
      if (chunks.length === 1) return head + chunks[0];
      // Several strings: one per line inside parentheses, aligned under the first.
      const indent = " ".repeat(head.length + 2);
      return `${head}( ${chunks.join(`\n${indent}`)} )`;
    })
    .join("\n");
}

function renderChecked(z: CheckedZone, serial: number): string {
  return renderTemplate("dns/templates/zone.db", {
    origin: z.origin,
    ttl: duration(z.ttl),
    mname: z.mname,
    rname: z.rname,
    serial,
    refresh: duration(z.refresh),
    retry: duration(z.retry),
    expire: duration(z.expire),
    minimum: duration(z.minimum),
    records: renderRecords(z.records),
  });
}

/** The zone file's text. Throws an Error naming the first bad input. */
export function renderZone(zone: ZoneSpec): string {
  const serial = integer(zone.serial, 1, 4294967295, `zone ${zone.origin}: serial`);
  return renderChecked(checkZone(zone), serial);
}

/**
 * A stable hash (sha256, hex) of everything in the zone file but the serial:
 * the program raises the serial when it changes. It hashes the rendered text,
 * so record order in the input does not matter and any change the server
 * would see, including one from a newer renderer, does.
 */
export function zoneContentHash(zone: Omit<ZoneSpec, "serial">): string {
  const text = renderChecked(checkZone(zone), 1);
  return createHash("sha256").update(text).digest("hex");
}

// ---------------------------------------------------------------- named.conf

/** An address match list element: keyword, IPv4/IPv6 address or prefix, optionally negated. */
function matchElement(e: string, what = "allowQuery"): string {
  const bare = typeof e === "string" && e.startsWith("!") ? e.slice(1) : e;
  if (typeof bare === "string" && ["any", "none", "localhost", "localnets"].includes(bare)) return e;
  const m = typeof bare === "string" ? /^([^/]+)(?:\/(\d{1,3}))?$/.exec(bare) : null;
  if (m) {
    const max = isIPv4(m[1]) ? 32 : isIPv6(m[1]) ? 128 : -1;
    if (max > 0 && (m[2] === undefined || Number(m[2]) <= max)) return e;
  }
  throw new Error(`${what}: ${JSON.stringify(e)} is not "any", "none", "localhost", "localnets" or an address/prefix`);
}

/** The options' rate-limit block (with its final newline). */
function renderRateLimit(rps: number, exempt: readonly string[]): string {
  const clients = exempt.map((e) => `${matchElement(e, "rateLimitExempt")};`).join(" ");
  return [
    "\t// Response-rate limiting against reflection with forged sources: identical",
    "\t// answers to one client network (IPv4 /24, IPv6 /56) beyond this rate are",
    "\t// dropped, every second one sent truncated so a real resolver retries over",
    "\t// TCP (never limited); errors and NXDOMAINs count alike.",
    "\trate-limit {",
    `\t\tresponses-per-second ${rps};`,
    "\t\twindow 15;",
    "\t\tslip 2;",
    ...(clients ? [`\t\texempt-clients { ${clients} };`] : []),
    "\t};",
    "",
  ].join("\n");
}

/**
 * named.conf and one zone file per zone for a layout, with the owners and
 * modes its package uses (root-owned, readable by named's group; no secrets).
 */
export function renderBindFiles(s: BindSettings): RenderedFile[] {
  const layout = layoutInfo(s.layout ?? "debian");
  if (!isIPv4(s.listenAddress) || s.listenAddress === "0.0.0.0" || s.listenAddress === "255.255.255.255") {
    throw new Error(`listenAddress must be the server's own IPv4 address, got ${JSON.stringify(s.listenAddress)}`);
  }
  const allowQuery = s.allowQuery ?? ["any"];
  if (!Array.isArray(allowQuery) || allowQuery.length === 0) {
    throw new Error('allowQuery must not be empty (use ["none"] to refuse every query)');
  }
  if (!Array.isArray(s.zones) || s.zones.length === 0) throw new Error("zones: at least one zone is needed");
  const rps = integer(s.responsesPerSecond ?? DEFAULT_RESPONSES_PER_SECOND, 0, 1000, "responsesPerSecond");
  const exempt = s.rateLimitExempt ?? ["localhost", "localnets"];
  if (!Array.isArray(exempt)) throw new Error("rateLimitExempt must be an array (use [] to exempt no client)");

  const file = (path: string, content: string): RenderedFile => ({ path, content, owner: "root", group: layout.group, mode: layout.mode });
  const files: RenderedFile[] = [];
  const stanzas: string[] = [];
  const origins = new Set<string>();
  // Zones in name order, so the output does not depend on the input's order.
  const zones = s.zones.map((z) => ({ z, o: origin(z) })).sort((a, b) => compareText(a.o, b.o));
  for (const { z, o } of zones) {
    if (origins.has(o)) throw new Error(`zones: ${o} is given twice`);
    origins.add(o);
    const zonePath = `${layout.zoneDir}/${layout.zoneFile(o)}`;
    files.push(file(zonePath, renderZone(z)));
    const signing = z.signingKey === undefined ? undefined : zoneSigningFiles(o, z.signingKey, layout);
    if (signing) files.push(...signing.files);
    // (Without its final newline: the template of named.conf adds one.)
    stanzas.push(renderTemplate("dns/templates/zone.conf", { origin: o, file: zonePath, signing: signing?.stanza ?? "" }).replace(/\n$/, ""));
  }
  const acme = s.acmeUpdates ? acmeUpdateFiles(s.acmeUpdates, zones.map(({ z }) => checkZone(z)), layout) : undefined;
  if (acme) {
    files.push(...acme.files);
    stanzas.push(...acme.stanzas);
  }
  const signed = zones.some(({ z }) => z.signingKey !== undefined);
  const listenOn = [...new Set(["127.0.0.1", s.listenAddress])].map((a) => `${a};`).join(" ");
  const conf = renderTemplate("dns/templates/named.conf", {
    directory: layout.directory,
    pidFile: "/run/named/named.pid",
    listenOn,
    allowQuery: allowQuery.map((e) => `${matchElement(e)};`).join(" "),
    rateLimit: rps === 0 ? "\t// Response-rate limiting is off (responsesPerSecond 0).\n" : renderRateLimit(rps, exempt),
    policies: (signed && layout.dnssecPolicy ? DNSSEC_POLICY : "") + (acme?.key ?? ""),
    zones: stanzas.join(""),
  });
  return [file(layout.namedConf, conf), ...files];
}
