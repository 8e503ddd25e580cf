// The stack's configuration: read, defaulted and validated as plain values
// before any resource exists, so a bad stack fails with every problem listed
// against the key it concerns instead of half-deploying. The keys are declared
// once, in configKeys.ts; the rules across keys are in configRules.ts.
import { MtaStsPolicy } from "./render/mtaSts";
import { AcmeSettings } from "./render/acme";
import { BackupSettings } from "./render/backup";
import { Role, SshHostConfig } from "./configHosts";
import { CONFIG_KEY_NAMES, CONFIG_KEYS, ConfigKeyName, isConfigKey, ParsedConfig } from "./configKeys";
import { AliasDomain, MailAlias, MailUser } from "./configMailboxes";
import { CONFIG_RULES, servedDomains } from "./configRules";
import { ConfigKey, PROJECT } from "./configSchema";
import { DEFAULT_LIMITS, MailLimits } from "./render/mailGuard";
import { DEFAULT_FILTERING, FilteringSettings } from "./render/rspamd";
import { DnsRecord } from "./render/types";
import { gatewayOf } from "./subnet";

export { ROLES } from "./configHosts";
export type { Role, SshHostConfig } from "./configHosts";
export type { AliasDomain, MailAlias, MailUser } from "./configMailboxes";
export { PROJECT_ROOT } from "./configKeys";
export { PROJECT } from "./configSchema";

export interface MailSystemConfig {
  /** Where the servers go: containers on the local Docker engine, or hosts over SSH. */
  readonly target: "docker" | "ssh";
  /** target ssh: the host of each role. */
  readonly hosts?: Readonly<Record<Role, SshHostConfig>>;
  /** Whether `pulumi destroy` deletes the mail under /var/mail/vhosts (by default it is kept). */
  readonly purgeMailOnDestroy: boolean;
  /** Whether BIND signs the zone (DNSSEC). */
  readonly dnssec: boolean;
  /** The DNS zone the system serves, e.g. "rockylinux.me". */
  readonly domain: string;
  /** Host labels inside the zone. */
  readonly dnsHost: string;
  readonly mailHost: string;
  /** Domains whose mail the server accepts (virtual_domains rows). */
  readonly mailDomains: readonly string[];
  readonly users: readonly MailUser[];
  /** Each with sendAs decided (its own, or mail-system:aliasSenders). */
  readonly aliases: readonly (MailAlias & { readonly sendAs: boolean })[];
  /** Domains that mirror a mail domain (virtual_alias_domains rows). */
  readonly aliasDomains: readonly AliasDomain[];
  /** Default storage quota of a mailbox, in bytes (0: none). */
  readonly quota: number;
  /** Whether removing a user also deletes their maildir (by default it is kept). */
  readonly purgeRemovedMailboxes: boolean;
  /** Abuse limits (components/render/mailGuard.ts). */
  readonly limits: MailLimits;
  /** Spam filtering (components/render/rspamd.ts). */
  readonly filtering: FilteringSettings;
  /** Whether the mail server tells clients their settings over HTTPS (autoconfig, autodiscover). */
  readonly autoconfig: boolean;
  /** The MTA-STS policy the mail server publishes; absent: none. */
  readonly mtaSts?: MtaStsPolicy;
  /** Where senders report TLS failures (TLS-RPT URIs); empty: no record. */
  readonly tlsReportsTo: readonly string[];
  /** Certificates from an ACME CA; absent: the per-stack CA's, or tls. */
  readonly acme?: AcmeSettings;
  /** Backups with restic (mail-system:backup); absent: none. */
  readonly backup?: BackupSettings;
  /** The lab network and the three servers' addresses on it. */
  readonly subnet: string;
  /** The subnet's gateway: the Docker host's address on the lab network. */
  readonly gateway: string;
  readonly dnsAddress: string;
  readonly dbAddress: string;
  readonly mailAddress: string;
  /** Base image of every image the program builds. */
  readonly baseImage: string;
  /** Absolute path of the directory whose Dockerfile builds the database server. */
  readonly databaseImage: string;
  /** A certificate and key of the user's (PEM); otherwise a per-stack CA issues one. */
  readonly tls?: { readonly certificate: string; readonly privateKey: string };
  /** Prefix of Docker object names; defaults to "mail-system-<stack>". */
  readonly namePrefix: string;
  /** SPF record (TXT) published at each mail domain; "" publishes none. */
  readonly spf: string;
  /** DMARC record (TXT) published at _dmarc.<domain> of each mail domain, {zone} replaced; "" publishes none. */
  readonly dmarc: string;
  /** DKIM selector: each mail domain's key is published at <selector>._domainkey.<domain>. */
  readonly dkimSelector: string;
  /** DKIM selectors published but not signing (a rollover's next or previous key). */
  readonly dkimPublishedSelectors: readonly string[];
  /** Seconds a new DKIM key is published before it signs. */
  readonly dkimRolloverWaitSeconds: number;
  /** DKIM keys given rather than made (PEM secret), each with its selector. */
  readonly dkimKeys: readonly { readonly domain: string; readonly selector: string; readonly privateKey: string }[];
  /** The user's own records in the zone, served beside the program's. */
  readonly records: readonly DnsRecord[];
}

// The table, seen uniformly (each key's own value type aside).
const KEYS: Readonly<Record<ConfigKeyName, ConfigKey<unknown>>> = CONFIG_KEYS;

/**
 * What the stack configuration holds under the project's namespace, by key
 * without the namespace ("users"), before defaults and validation. Keys the
 * program does not know are kept, to be reported.
 */
export type RawConfig = { readonly [K in ConfigKeyName]?: unknown } & { readonly [key: string]: unknown };

export interface ConfigProblem {
  /** The full config key, e.g. "mail-system:users[1].email". */
  readonly key: string;
  readonly message: string;
}

/**
 * The project's keys from the stack's whole configuration, as
 * pulumi.runtime.allConfig() gives it ("mail-system:users" -> JSON text).
 * Lists and objects are parsed; a malformed one is left for validation to report.
 */
export function readRawConfig(all: Readonly<Record<string, string>>): RawConfig {
  const prefix = `${PROJECT}:`;
  return Object.fromEntries(
    Object.entries(all)
      .filter(([fullKey]) => fullKey.startsWith(prefix))
      .map(([fullKey, text]) => {
        const key = fullKey.slice(prefix.length);
        const type = isConfigKey(key) ? KEYS[key].type : undefined;
        return [key, type === "array" || type === "object" ? parseJson(text) : text];
      }),
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The problems as one message, one line per problem. */
export function describeProblems(problems: readonly ConfigProblem[]): string {
  return (
    `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
    problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n")
  );
}

/**
 * Applies defaults to the raw stack configuration and validates all of it.
 * Returns the configuration and no problems, or every problem found.
 */
export function validateConfig(raw: RawConfig, stack: string): { config: MailSystemConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const report = (key: string, message: string) => problems.push({ key: `${PROJECT}:${key}`, message });

  for (const key of Object.keys(raw)) {
    if (!isConfigKey(key)) report(key, unknownKeyMessage(key));
  }
  const parsed: Record<string, unknown> = {};
  const read = (name: ConfigKeyName) => {
    const at = (message: string, part = "") => report(`${name}${part}`, message);
    parsed[name] = KEYS[name].read(raw[name], at, { stack });
  };
  // The target decides which of the other keys are read at all.
  read("target");
  const target = (parsed as ParsedConfig).target ?? "docker";
  for (const name of CONFIG_KEY_NAMES) {
    const only = KEYS[name].target;
    if (name !== "target" && (only === undefined || only === target)) read(name);
  }
  const config = parsed as ParsedConfig;
  for (const rule of CONFIG_RULES) rule(config, report);

  // Grouped by key, in the table's order (unknown keys first).
  const order = (p: ConfigProblem) => CONFIG_KEY_NAMES.indexOf(/^[^:]*:(\w*)/.exec(p.key)![1] as ConfigKeyName);
  problems.sort((a, b) => order(a) - order(b));
  return { problems, config: assemble(config, target) };
}

/** The configuration the program uses; meaningful only when there were no problems. */
function assemble(c: ParsedConfig, target: MailSystemConfig["target"]): MailSystemConfig {
  const hosts = target === "ssh" ? sshHosts(c) : undefined;
  const domain = c.domain ?? "";
  const [certificate, privateKey] = [c.tlsCertificate ?? "", c.tlsPrivateKey ?? ""];
  return {
    target,
    ...(hosts ? { hosts } : {}),
    purgeMailOnDestroy: c.purgeMailOnDestroy ?? false,
    dnssec: c.dnssec ?? true,
    domain,
    dnsHost: c.dnsHost ?? "",
    mailHost: c.mailHost ?? "",
    mailDomains: servedDomains(c),
    users: (c.users ?? []).filter((u) => u !== undefined),
    aliases: (c.aliases ?? []).filter((a) => a !== undefined).map((a) => ({ ...a, sendAs: a.sendAs ?? c.aliasSenders ?? false })),
    aliasDomains: (c.aliasDomains ?? []).filter((a) => a !== undefined),
    quota: c.quota ?? 0,
    purgeRemovedMailboxes: c.purgeRemovedMailboxes ?? false,
    limits: c.limits ?? DEFAULT_LIMITS,
    filtering: c.filtering ?? DEFAULT_FILTERING,
    autoconfig: c.autoconfig ?? true,
    ...(c.mtaSts ? { mtaSts: c.mtaSts } : {}),
    tlsReportsTo: c.tlsReportsTo ?? [],
    ...(c.acme ? { acme: c.acme } : {}),
    ...(c.backup ? { backup: c.backup } : {}),
    subnet: c.subnet?.cidr ?? "",
    gateway: c.subnet ? gatewayOf(c.subnet) : "",
    // With target ssh the servers listen on their hosts' addresses.
    dnsAddress: (hosts ? hosts.dns?.address : c.dnsAddress) ?? "",
    dbAddress: (hosts ? hosts.db?.address : c.dbAddress) ?? "",
    mailAddress: (hosts ? hosts.mail?.address : c.mailAddress) ?? "",
    baseImage: c.baseImage ?? "",
    databaseImage: c.databaseImage ?? "",
    ...(certificate && privateKey ? { tls: { certificate, privateKey } } : {}),
    namePrefix: c.namePrefix ?? "",
    spf: c.spf ?? "",
    dmarc: (c.dmarc ?? "").replaceAll("{zone}", domain),
    dkimSelector: c.dkimSelector ?? "",
    dkimPublishedSelectors: (c.dkimPublishedSelectors ?? []).filter((s) => s !== c.dkimSelector),
    dkimRolloverWaitSeconds: (c.dkimRolloverWait ?? 24) * 3600,
    dkimKeys: (c.dkimKeys ?? []).filter((k) => k !== undefined).map((k) => ({ domain: k.domain, selector: k.selector ?? c.dkimSelector ?? "mail", privateKey: k.privateKey })),
    records: (c.records ?? []).filter((r) => r !== undefined),
  };
}

/** Each role's host, with the stack's sshPrivateKey where it has none of its own. */
function sshHosts(c: ParsedConfig): Record<Role, SshHostConfig> {
  const hosts: Partial<Record<Role, SshHostConfig>> = {};
  for (const [role, host] of Object.entries(c.hosts ?? {}) as [Role, (typeof hosts)[Role]][]) {
    if (!host) continue;
    const key = host.privateKey || c.sshPrivateKey || "";
    hosts[role] = { ...host, privateKey: key.endsWith("\n") ? key : `${key}\n` };
  }
  return hosts as Record<Role, SshHostConfig>;
}

function unknownKeyMessage(key: string): string {
  const near = CONFIG_KEY_NAMES.map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) })).sort((a, b) => a.d - b.d)[0];
  // A typo is a letter or two off, not a different short word.
  return near.d <= Math.min(2, Math.floor(key.length / 3))
    ? `unknown key; did you mean ${PROJECT}:${near.k}?`
    : "unknown key (the keys are declared in Pulumi.yaml's config section)";
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
