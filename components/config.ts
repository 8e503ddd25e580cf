import * as fs from "fs";
import * as path from "path";

// The stack's configuration: read, defaulted and validated as plain values
// before any resource exists, so a bad stack fails with every problem listed
// against the key it concerns instead of half-deploying.

export const PROJECT = "mail-system";

/** A mailbox from `mail-system:users`. */
export interface MailUser {
  /** Lower-cased address. */
  readonly email: string;
  /** The configured password, if any; otherwise the program generates one. */
  readonly password?: string;
}

/** One row of the seed's virtual_aliases table. */
export interface MailAlias {
  readonly source: string;
  readonly destination: string;
}

/** The server roles; with `target: ssh` each has a host (several may share one). */
export const ROLES = ["dns", "db", "mail"] as const;
export type Role = (typeof ROLES)[number];

/** One role's host from `mail-system:hosts` (target ssh). */
export interface SshHostConfig {
  /** IPv4 address: SSH connects to it and the role's services listen on it. */
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** The role's own key, or the stack's sshPrivateKey (a secret either way). */
  readonly privateKey: string;
  /** Pinned host key ("type base64"), if given. */
  readonly hostKey?: string;
}

export interface MailSystemConfig {
  /** Where the servers go: containers on the local Docker engine, or hosts over SSH. */
  readonly target: "docker" | "ssh";
  /** target ssh: the host of each role. */
  readonly hosts?: Readonly<Record<Role, SshHostConfig>>;
  /** Whether `pulumi destroy` deletes the mail under /var/mail/vhosts (by default it is kept). */
  readonly purgeMailOnDestroy: boolean;
  /** The DNS zone the system serves, e.g. "rockylinux.me". */
  readonly domain: string;
  /** Host labels inside the zone. */
  readonly dnsHost: string;
  readonly mailHost: string;
  /** Domains whose mail the server accepts (virtual_domains rows). */
  readonly mailDomains: readonly string[];
  readonly users: readonly MailUser[];
  readonly aliases: readonly MailAlias[];
  /** Whether removing a user also deletes their maildir (by default it is kept). */
  readonly purgeRemovedMailboxes: boolean;
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
}

/** What the stack configuration holds, before defaults and validation. */
export interface RawConfig {
  readonly target?: unknown;
  readonly hosts?: unknown;
  readonly sshPrivateKey?: unknown;
  readonly purgeMailOnDestroy?: unknown;
  readonly domain?: unknown;
  readonly dnsHost?: unknown;
  readonly mailHost?: unknown;
  readonly mailDomains?: unknown;
  readonly users?: unknown;
  readonly aliases?: unknown;
  readonly purgeRemovedMailboxes?: unknown;
  readonly subnet?: unknown;
  readonly dnsAddress?: unknown;
  readonly dbAddress?: unknown;
  readonly mailAddress?: unknown;
  readonly baseImage?: unknown;
  readonly databaseImage?: unknown;
  readonly tlsCertificate?: unknown;
  readonly tlsPrivateKey?: unknown;
  readonly namePrefix?: unknown;
  readonly spf?: unknown;
  readonly dmarc?: unknown;
  readonly dkimSelector?: unknown;
}

/** The defaults declared in Pulumi.yaml's `config:` section. */
export const DEFAULTS = {
  target: "docker",
  sshUser: "root",
  sshPort: 22,
  dnsHost: "dns",
  mailHost: "mail",
  subnet: "192.168.100.0/24",
  dnsAddress: "192.168.100.7",
  dbAddress: "192.168.100.5",
  mailAddress: "192.168.100.6",
  baseImage: "debian:bookworm-slim",
  databaseImage: "files/db",
  // Only the mail server (the domain's MX) sends for a mail domain; anything else fails SPF.
  spf: "v=spf1 mx -all",
  // Failing mail goes to spam rather than being refused while a domain starts out;
  // aggregate reports go to the zone's postmaster ({zone} is the zone's name).
  dmarc: "v=DMARC1; p=quarantine; rua=mailto:postmaster@{zone}",
  // DKIM keys are published at <dkimSelector>._domainkey.<domain>.
  dkimSelector: "mail",
} as const;

/** The project's root directory, against which relative paths in the configuration resolve. */
export const PROJECT_ROOT = path.join(__dirname, "..");

export interface ConfigProblem {
  /** The full config key, e.g. "mail-system:users[1].email". */
  readonly key: string;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const LOCAL_PART = /^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?$/;

/** A lower-case DNS name of two or more labels, e.g. "mail.rockylinux.me". */
export function isDomainName(value: string): boolean {
  const labels = value.split(".");
  return value.length <= 253 && labels.length >= 2 && labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels.at(-1)!);
}

/**
 * An address whose local part needs no quoting anywhere it goes (SQL rows,
 * maildir paths, Postfix and Dovecot lookups): letters, digits and . _ + -.
 */
export function isMailAddress(value: string): boolean {
  const at = value.lastIndexOf("@");
  if (at <= 0) return false;
  const local = value.slice(0, at);
  return LOCAL_PART.test(local) && !local.includes("..") && isDomainName(value.slice(at + 1));
}

export function parseIPv4(value: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(value);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o, i) => o > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith("0")))) return undefined;
  return ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export interface Subnet {
  readonly network: number;
  readonly prefix: number;
  readonly size: number;
}

/** Parses "a.b.c.d/n" with 8 <= n <= 29 whose address is the network address. */
export function parseSubnet(value: string): Subnet | string {
  const [addr, bits, ...rest] = value.split("/");
  const network = parseIPv4(addr ?? "");
  const prefix = /^\d+$/.test(bits ?? "") ? Number(bits) : NaN;
  if (rest.length > 0 || network === undefined || !(prefix >= 8 && prefix <= 29)) {
    return `"${value}" is not an IPv4 subnet like 192.168.100.0/24 (prefix 8 to 29)`;
  }
  const size = 2 ** (32 - prefix);
  if (network % size !== 0) return `"${value}" is not a network address (host bits are set)`;
  return { network, prefix, size };
}

/** The gateway Docker gives a network by default and that the program sets: the first host address. */
export function gatewayOf(subnet: Subnet): string {
  return formatIPv4(subnet.network + 1);
}

/**
 * Applies defaults to the raw stack configuration and validates all of it.
 * Returns the configuration and no problems, or every problem found.
 */
export function validateConfig(
  raw: RawConfig,
  stack: string,
): { config: MailSystemConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const problem = (key: string, message: string) => problems.push({ key: `${PROJECT}:${key}`, message });

  const str = (key: keyof RawConfig, fallback?: string): string => {
    const v = raw[key];
    if (v === undefined || v === null || v === "") {
      if (fallback === undefined) problem(key, "is required");
      return fallback ?? "";
    }
    if (typeof v !== "string") {
      problem(key, `must be a string, not ${JSON.stringify(v)}`);
      return fallback ?? "";
    }
    return v.trim();
  };
  const list = (key: keyof RawConfig): unknown[] => {
    const v = raw[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      problem(key, "must be a list");
      return [];
    }
    return v;
  };

  const domain = str("domain").toLowerCase();
  if (domain && !isDomainName(domain)) problem("domain", `"${domain}" is not a valid domain name`);

  const dnsHost = str("dnsHost", DEFAULTS.dnsHost).toLowerCase();
  const mailHost = str("mailHost", DEFAULTS.mailHost).toLowerCase();
  for (const [key, label] of [["dnsHost", dnsHost], ["mailHost", mailHost]] as const) {
    if (!LABEL.test(label)) problem(key, `"${label}" is not a single DNS label (letters, digits, hyphens)`);
  }
  if (dnsHost === mailHost && LABEL.test(dnsHost)) problem("mailHost", `must differ from dnsHost ("${dnsHost}")`);

  // Served mail domains; by default the zone itself.
  const mailDomains: string[] = [];
  const rawDomains = list("mailDomains");
  (rawDomains.length > 0 ? rawDomains : domain ? [domain] : []).forEach((d, i) => {
    const key = rawDomains.length > 0 ? `mailDomains[${i}]` : "domain";
    if (typeof d !== "string" || !isDomainName(d.toLowerCase())) {
      if (rawDomains.length > 0) problem(key, `${JSON.stringify(d)} is not a valid domain name`);
      return;
    }
    const name = d.toLowerCase();
    if (mailDomains.includes(name)) problem(key, `"${name}" is listed twice`);
    else mailDomains.push(name);
  });
  if (domain && isDomainName(domain)) {
    mailDomains.forEach((d, i) => {
      if (d !== domain && !d.endsWith(`.${domain}`)) {
        problem(`mailDomains[${i}]`, `"${d}" is not in the zone "${domain}" this system serves`);
      }
    });
  }

  // Users.
  const users: MailUser[] = [];
  const rawUsers = list("users");
  if (rawUsers.length === 0 && Array.isArray(raw.users)) problem("users", "must list at least one user");
  else if (raw.users === undefined || raw.users === null) problem("users", "is required: a list of { email, password? }");
  rawUsers.forEach((u, i) => {
    const key = `users[${i}]`;
    if (typeof u !== "object" || u === null || Array.isArray(u)) {
      problem(key, "must be an object { email, password? }");
      return;
    }
    const { email, password, ...extra } = u as Record<string, unknown>;
    for (const k of Object.keys(extra)) problem(`${key}.${k}`, "is not a known field (email, password)");
    if (typeof email !== "string" || !isMailAddress(email.trim().toLowerCase())) {
      problem(`${key}.email`, `${JSON.stringify(email)} is not a valid e-mail address`);
      return;
    }
    const address = email.trim().toLowerCase();
    // Dovecot accepts logins of letters, digits and . _ - only (no "+").
    if (address.slice(0, address.lastIndexOf("@")).includes("+")) {
      problem(`${key}.email`, `"${address}": a mailbox address may not contain "+" (Dovecot refuses such logins; use an alias)`);
    }
    const userDomain = address.slice(address.lastIndexOf("@") + 1);
    if (!mailDomains.includes(userDomain)) {
      problem(`${key}.email`, `the domain of "${address}" is not served (mailDomains: ${mailDomains.join(", ") || "none"})`);
    }
    if (users.some((x) => x.email === address)) problem(`${key}.email`, `"${address}" is listed twice`);
    if (password !== undefined && password !== null) {
      if (typeof password !== "string" || password.length < 8) {
        problem(`${key}.password`, "must be a string of at least 8 characters");
      } else if (/[\r\n\0]/.test(password)) {
        problem(`${key}.password`, "must not contain line breaks or NUL");
      }
    }
    users.push({ email: address, ...(typeof password === "string" ? { password } : {}) });
  });

  // Aliases: one row per (source, destination), as in the seed's table.
  const aliases: MailAlias[] = [];
  list("aliases").forEach((a, i) => {
    const key = `aliases[${i}]`;
    if (typeof a !== "object" || a === null || Array.isArray(a)) {
      problem(key, "must be an object { source, destination }");
      return;
    }
    const { source, destination, ...extra } = a as Record<string, unknown>;
    for (const k of Object.keys(extra)) problem(`${key}.${k}`, "is not a known field (source, destination)");
    let ok = true;
    for (const [field, v] of [["source", source], ["destination", destination]] as const) {
      if (typeof v !== "string" || !isMailAddress(v.trim().toLowerCase())) {
        problem(`${key}.${field}`, `${JSON.stringify(v)} is not a valid e-mail address`);
        ok = false;
      }
    }
    if (!ok) return;
    const alias = { source: (source as string).trim().toLowerCase(), destination: (destination as string).trim().toLowerCase() };
    const sourceDomain = alias.source.slice(alias.source.lastIndexOf("@") + 1);
    if (!mailDomains.includes(sourceDomain)) {
      problem(`${key}.source`, `the domain of "${alias.source}" is not served (mailDomains: ${mailDomains.join(", ") || "none"})`);
    }
    if (aliases.some((x) => x.source === alias.source && x.destination === alias.destination)) {
      problem(key, `${alias.source} -> ${alias.destination} is listed twice`);
    }
    aliases.push(alias);
  });

  const targetRaw = raw.target ?? DEFAULTS.target;
  const target = targetRaw === "docker" || targetRaw === "ssh" ? targetRaw : DEFAULTS.target;
  if (target !== targetRaw) problem("target", `must be "docker" or "ssh", not ${JSON.stringify(targetRaw)}`);

  // Docker: the lab network and three distinct host addresses inside it.
  // SSH: each role's host (the addresses come from there).
  const subnetText = str("subnet", DEFAULTS.subnet);
  const subnet = parseSubnet(subnetText);
  if (typeof subnet === "string") problem("subnet", subnet);
  const addressKeys = ["dnsAddress", "dbAddress", "mailAddress"] as const;
  const addresses = {} as Record<(typeof addressKeys)[number], string>;
  const hosts = target === "ssh" ? validateHosts(raw, problem) : undefined;
  const seen = new Map<string, string>();
  for (const key of addressKeys) {
    if (hosts) {
      addresses[key] = hosts[key.replace("Address", "") as Role]?.address ?? "";
      continue;
    }
    const value = str(key, DEFAULTS[key]);
    addresses[key] = value;
    const ip = parseIPv4(value);
    if (ip === undefined) {
      problem(key, `"${value}" is not an IPv4 address`);
      continue;
    }
    if (typeof subnet !== "string") {
      if (ip < subnet.network || ip >= subnet.network + subnet.size) {
        problem(key, `${value} is outside the subnet ${subnetText}`);
      } else if (ip === subnet.network || ip === subnet.network + subnet.size - 1) {
        problem(key, `${value} is the network or broadcast address of ${subnetText}`);
      } else if (ip === subnet.network + 1) {
        problem(key, `${value} is the subnet's gateway (the Docker host)`);
      }
    }
    const other = seen.get(value);
    if (other) problem(key, `${value} is already the address of ${other}`);
    else seen.set(value, key);
  }

  const bool = (key: "purgeRemovedMailboxes" | "purgeMailOnDestroy"): boolean => {
    const v = raw[key];
    if (v === true || v === "true") return true;
    if (v !== undefined && v !== null && v !== false && v !== "false" && v !== "") {
      problem(key, `must be true or false, not ${JSON.stringify(v)}`);
    }
    return false;
  };
  const purgeRemovedMailboxes = bool("purgeRemovedMailboxes");
  const purgeMailOnDestroy = bool("purgeMailOnDestroy");

  const baseImage = str("baseImage", DEFAULTS.baseImage);
  if (!/^[a-z0-9][a-z0-9._/:@-]*$/.test(baseImage)) problem("baseImage", `"${baseImage}" is not an image reference`);

  const databaseImage = path.resolve(PROJECT_ROOT, str("databaseImage", DEFAULTS.databaseImage));
  if (!fs.existsSync(path.join(databaseImage, "Dockerfile"))) {
    problem("databaseImage", `${databaseImage} has no Dockerfile`);
  }

  const certificate = str("tlsCertificate", "");
  const privateKey = str("tlsPrivateKey", "");
  if (Boolean(certificate) !== Boolean(privateKey)) {
    problem(certificate ? "tlsPrivateKey" : "tlsCertificate", "tlsCertificate and tlsPrivateKey go together");
  } else if (certificate) {
    if (!/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(certificate)) {
      problem("tlsCertificate", "is not a PEM certificate (chain)");
    }
    if (!/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+-----END (?:RSA |EC )?PRIVATE KEY-----/.test(privateKey)) {
      problem("tlsPrivateKey", "is not a PEM private key");
    }
  }

  const namePrefix = str("namePrefix", `${PROJECT}-${stack}`).toLowerCase();
  if (!/^[a-z0-9][a-z0-9_.-]{0,40}$/.test(namePrefix)) {
    problem("namePrefix", `"${namePrefix}" must be 1-41 characters of a-z, 0-9, _ . - (a Docker name prefix)`);
  }

  // SPF and DMARC: absent means the default, "" means no record.
  const txt = (key: "spf" | "dmarc"): string => {
    const v = raw[key];
    if (v === undefined || v === null) return DEFAULTS[key];
    if (typeof v === "string") return v.trim();
    problem(key, `must be a string, not ${JSON.stringify(v)}`);
    return "";
  };
  const spf = txt("spf");
  if (spf && !/^v=spf1( |$)/i.test(spf)) problem("spf", `"${spf}" must start with "v=spf1" (RFC 7208), or be "" for no record`);
  else if (/[^\x20-\x7e]/.test(spf)) problem("spf", "must be printable ASCII on one line");
  const dmarc = txt("dmarc").replaceAll("{zone}", domain);
  if (dmarc) {
    // RFC 7489's grammar: v=DMARC1 first, then the policy (none, quarantine or reject).
    const tags = dmarc.split(";").map((t) => t.trim().replace(/\s*=\s*/, "="));
    if (tags[0] !== "v=DMARC1") problem("dmarc", `"${dmarc}" must start with "v=DMARC1;" (RFC 7489), or be "" for no record`);
    else if (!/^p=(none|quarantine|reject)$/.test(tags[1] ?? "")) {
      problem("dmarc", `"${dmarc}" needs p=none, p=quarantine or p=reject right after v=DMARC1`);
    }
    else if (/[^\x20-\x7e]/.test(dmarc)) problem("dmarc", "must be printable ASCII on one line");
  }

  // The DKIM selector is one label of <selector>._domainkey.<domain>.
  const dkimSelector = str("dkimSelector", DEFAULTS.dkimSelector).toLowerCase();
  if (!LABEL.test(dkimSelector)) problem("dkimSelector", `"${dkimSelector}" is not a single DNS label (letters, digits, hyphens)`);

  return {
    problems,
    config: {
      target,
      ...(hosts ? { hosts: hosts as Record<Role, SshHostConfig> } : {}),
      purgeMailOnDestroy,
      domain,
      dnsHost,
      mailHost,
      mailDomains,
      users,
      aliases,
      purgeRemovedMailboxes,
      subnet: subnetText,
      gateway: typeof subnet === "string" ? "" : gatewayOf(subnet),
      ...addresses,
      baseImage,
      databaseImage,
      ...(certificate && privateKey ? { tls: { certificate, privateKey } } : {}),
      namePrefix,
      spf,
      dmarc,
      dkimSelector,
    },
  };
}

const HOST_FIELDS = ["address", "port", "user", "privateKey", "hostKey"] as const;
const PRIVATE_KEY = /^-----BEGIN (?:OPENSSH|RSA|EC) PRIVATE KEY-----\r?\n[\s\S]+\r?\n-----END (?:OPENSSH|RSA|EC) PRIVATE KEY-----\s*$/;
const HOST_KEY = /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,2}$/;
const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Validates `hosts` (and `sshPrivateKey`) for target ssh; returns the hosts it could read. */
function validateHosts(
  raw: RawConfig,
  problem: (key: string, message: string) => void,
): Partial<Record<Role, SshHostConfig>> {
  const out: Partial<Record<Role, SshHostConfig>> = {};
  const sharedKey = typeof raw.sshPrivateKey === "string" ? raw.sshPrivateKey.trim() : "";
  if (raw.sshPrivateKey !== undefined && raw.sshPrivateKey !== null && raw.sshPrivateKey !== "" && !PRIVATE_KEY.test(sharedKey)) {
    problem("sshPrivateKey", "is not a PEM or OpenSSH private key");
  }
  const hosts = raw.hosts;
  if (typeof hosts !== "object" || hosts === null || Array.isArray(hosts)) {
    problem("hosts", `is required with target ssh: { ${ROLES.map((r) => `${r}: { address, user?, port?, privateKey?, hostKey? }`).join(", ")} }`);
    return out;
  }
  for (const k of Object.keys(hosts)) {
    if (!(ROLES as readonly string[]).includes(k)) problem(`hosts.${k}`, `is not a role (${ROLES.join(", ")})`);
  }
  for (const role of ROLES) {
    const key = `hosts.${role}`;
    const h = (hosts as Record<string, unknown>)[role];
    if (typeof h !== "object" || h === null || Array.isArray(h)) {
      problem(key, "is required with target ssh: { address, user?, port?, privateKey?, hostKey? }");
      continue;
    }
    const fields = h as Record<string, unknown>;
    for (const k of Object.keys(fields)) {
      if (!(HOST_FIELDS as readonly string[]).includes(k)) problem(`${key}.${k}`, `is not a known field (${HOST_FIELDS.join(", ")})`);
    }
    let ok = true;
    const address = typeof fields.address === "string" ? fields.address.trim() : "";
    if (parseIPv4(address) === undefined) {
      problem(`${key}.address`, `${JSON.stringify(fields.address)} is not an IPv4 address`);
      ok = false;
    }
    const portRaw = fields.port ?? DEFAULTS.sshPort;
    const port = typeof portRaw === "string" && /^\d+$/.test(portRaw) ? Number(portRaw) : portRaw;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      problem(`${key}.port`, `${JSON.stringify(portRaw)} is not a TCP port`);
      ok = false;
    }
    const user = fields.user ?? DEFAULTS.sshUser;
    if (typeof user !== "string" || !SSH_USER.test(user)) {
      problem(`${key}.user`, `${JSON.stringify(user)} is not a user name`);
      ok = false;
    }
    const ownKey = fields.privateKey;
    let privateKey = sharedKey;
    if (ownKey !== undefined && ownKey !== null && ownKey !== "") {
      privateKey = typeof ownKey === "string" ? ownKey.trim() : "";
      if (!PRIVATE_KEY.test(privateKey)) {
        problem(`${key}.privateKey`, "is not a PEM or OpenSSH private key");
        ok = false;
      }
    } else if (!sharedKey) {
      problem(`${key}.privateKey`, "is required (or set sshPrivateKey for every host): set it as a secret");
      ok = false;
    }
    const hostKey = fields.hostKey;
    if (hostKey !== undefined && hostKey !== null && hostKey !== "" && (typeof hostKey !== "string" || !HOST_KEY.test(hostKey.trim()))) {
      problem(`${key}.hostKey`, `is not a public key like "ssh-ed25519 AAAA..." (type and base64, as in known_hosts)`);
      ok = false;
    }
    if (ok) {
      out[role] = {
        address,
        port: port as number,
        user: user as string,
        privateKey: privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`,
        ...(typeof hostKey === "string" && hostKey.trim() ? { hostKey: hostKey.trim() } : {}),
      };
    }
  }
  return out;
}

const LIST_KEYS = new Set<keyof RawConfig>(["mailDomains", "users", "aliases", "hosts"]);
const ALL_KEYS: (keyof RawConfig)[] = [
  "target", "hosts", "sshPrivateKey", "purgeMailOnDestroy",
  "domain", "dnsHost", "mailHost", "mailDomains", "users", "aliases", "purgeRemovedMailboxes", "subnet",
  "dnsAddress", "dbAddress", "mailAddress", "baseImage", "databaseImage", "tlsCertificate", "tlsPrivateKey", "namePrefix",
  "spf", "dmarc", "dkimSelector",
];

/** Reads every key of RawConfig from the stack (lists as JSON; a malformed list is left for validation to report). */
export function readRawConfig(config: { get(key: string): string | undefined; getObject<T>(key: string): T | undefined }): RawConfig {
  const read = (key: keyof RawConfig): unknown => {
    if (!LIST_KEYS.has(key)) return config.get(key);
    try {
      return config.getObject<unknown>(key);
    } catch {
      return config.get(key);
    }
  };
  return Object.fromEntries(ALL_KEYS.map((k) => [k, read(k)])) as RawConfig;
}
