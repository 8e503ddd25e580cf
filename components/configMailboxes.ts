// The mail domains, users and aliases of the stack configuration, each entry
// checked on its own. The lists keep a hole (undefined) where an entry is
// unusable, so the rules across keys (configRules.ts) name entries by their
// index in the stack's list.
import { isDomainName, isEmailAddress, parseSize, splitAddress } from "./render/checks";
import { MAIL_COLUMNS } from "./render/mailSql";
import { Report } from "./configSchema";

/** How a size that is not one is reported. */
export const SIZE_MESSAGE = 'is not a size: a whole number of bytes with an optional unit K, M, G or T ("500M", "2G"; "0": no quota)';

/** A mailbox from `mail-system:users`. */
export interface MailUser {
  /** Lower-cased address. */
  readonly email: string;
  /** The configured password, if any; otherwise the program generates one. */
  readonly password?: string;
  /** The user's own storage quota in bytes (0: none); otherwise the server's default (mail-system:quota). */
  readonly quotaBytes?: number;
}

/** One row of the seed's virtual_aliases table. */
export interface MailAlias {
  readonly source: string;
  readonly destination: string;
  /** Whether the destination may send as the source; otherwise mail-system:aliasSenders says. */
  readonly sendAs?: boolean;
}

/** One row of virtual_alias_domains: every address at `domain` is the same local part at `target`. */
export interface AliasDomain {
  readonly domain: string;
  readonly target: string;
}

export const USERS_SHAPE = "a list of { email, password?, quota? }";

/** `mailDomains`: lower-cased domains, each once. */
export function parseMailDomains(list: readonly unknown[], report: Report): (string | undefined)[] {
  const seen = new Set<string>();
  return list.map((d, i) => {
    if (typeof d !== "string" || !isDomainName(d.toLowerCase())) return void report(`${JSON.stringify(d)} is not a valid domain name`, `[${i}]`);
    const name = d.toLowerCase();
    if (name.length > MAIL_COLUMNS.domain) return void report(`"${name}" is longer than the ${MAIL_COLUMNS.domain} characters the database holds`, `[${i}]`);
    if (seen.has(name)) return void report(`"${name}" is listed twice`, `[${i}]`);
    seen.add(name);
    return name;
  });
}

/** A list entry's fields, reporting any but `fields`. */
function entry(value: unknown, fields: readonly string[], shape: string, report: Report): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return void report(`must be an object ${shape}`);
  for (const k of Object.keys(value)) {
    if (!fields.includes(k)) report(`is not a known field (${fields.join(", ")})`, `.${k}`);
  }
  return value as Record<string, unknown>;
}

/** An address as the system stores it (trimmed, lower case), or undefined. */
function address(value: unknown): string | undefined {
  const a = typeof value === "string" ? value.trim().toLowerCase() : undefined;
  return a !== undefined && isEmailAddress(a) ? a : undefined;
}

/** A catch-all source "@domain" as the system stores it, or undefined. */
function catchAll(value: unknown): string | undefined {
  const a = typeof value === "string" ? value.trim().toLowerCase() : undefined;
  return a !== undefined && a.startsWith("@") && isDomainName(a.slice(1)) ? a : undefined;
}

/** `users`: at least one; each address once, one Dovecot accepts as a login. */
export function parseUsers(list: readonly unknown[], report: Report): (MailUser | undefined)[] {
  if (list.length === 0) report("must list at least one user");
  const users: (MailUser | undefined)[] = [];
  list.forEach((u, i) => {
    const at = (message: string, part = "") => report(message, `[${i}]${part}`);
    const fields = entry(u, ["email", "password", "quota"], "{ email, password?, quota? }", at);
    const email = fields && address(fields.email);
    if (!fields || !email) {
      if (fields) at(`${JSON.stringify(fields.email)} is not a valid e-mail address`, ".email");
      users.push(undefined);
      return;
    }
    // Dovecot accepts logins of letters, digits and . _ - only (no "+").
    if (splitAddress(email)!.local.includes("+")) {
      at(`"${email}": a mailbox address may not contain "+" (Dovecot refuses such logins; use an alias)`, ".email");
    }
    if (users.some((x) => x?.email === email)) at(`"${email}" is listed twice`, ".email");
    const { password } = fields;
    if (password !== undefined && password !== null) {
      if (typeof password !== "string" || password.length < 8) at("must be a string of at least 8 characters", ".password");
      else if (/[\r\n\0]/.test(password)) at("must not contain line breaks or NUL", ".password");
    }
    const quota = fields.quota === undefined || fields.quota === null ? undefined : parseSize(fields.quota);
    if (fields.quota !== undefined && fields.quota !== null && quota === undefined) at(`${JSON.stringify(fields.quota)} ${SIZE_MESSAGE}`, ".quota");
    users.push({ email, ...(typeof password === "string" ? { password } : {}), ...(quota !== undefined ? { quotaBytes: quota } : {}) });
  });
  return users;
}

/** A boolean as YAML gives it, or as the CLI sets path values ("true"); undefined if unset, null if neither. */
function flag(value: unknown): boolean | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  return value === "true" ? true : value === "false" ? false : null;
}

/** `aliases`: one row per (source, destination), as in the seed's table. */
export function parseAliases(list: readonly unknown[], report: Report): (MailAlias | undefined)[] {
  const aliases: (MailAlias | undefined)[] = [];
  list.forEach((a, i) => {
    const at = (message: string, part = "") => report(message, `[${i}]${part}`);
    const fields = entry(a, ["source", "destination", "sendAs"], "{ source, destination, sendAs? }", at);
    // "@domain": a catch-all, for the domain's addresses that are no mailbox and no other alias.
    const source = fields && (catchAll(fields.source) ?? address(fields.source));
    const destination = fields && address(fields.destination);
    if (fields && !source) at(`${JSON.stringify(fields.source)} is not a valid e-mail address (or "@domain", a catch-all)`, ".source");
    if (fields && !destination) at(`${JSON.stringify(fields.destination)} is not a valid e-mail address`, ".destination");
    if (!source || !destination) {
      aliases.push(undefined);
      return;
    }
    for (const [field, value] of [["source", source], ["destination", destination]] as const) {
      if (value.length > MAIL_COLUMNS.alias) at(`"${value}" is longer than the ${MAIL_COLUMNS.alias} characters the database holds`, `.${field}`);
    }
    if (aliases.some((x) => x?.source === source && x.destination === destination)) at(`${source} -> ${destination} is listed twice`);
    const sendAs = flag(fields.sendAs);
    if (sendAs === null) at(`must be true or false, not ${JSON.stringify(fields.sendAs)}`, ".sendAs");
    else if (sendAs && source.startsWith("@")) at(`a catch-all (${source}) cannot be sent as: list the addresses to send as`, ".sendAs");
    aliases.push({ source, destination, ...(typeof sendAs === "boolean" ? { sendAs } : {}) });
  });
  return aliases;
}

/** `aliasDomains`: each domain once, a valid name that fits the database, not its own target. */
export function parseAliasDomains(list: readonly unknown[], report: Report): (AliasDomain | undefined)[] {
  const out: (AliasDomain | undefined)[] = [];
  list.forEach((a, i) => {
    const at = (message: string, part = "") => report(message, `[${i}]${part}`);
    const fields = entry(a, ["domain", "target"], "{ domain, target }", at);
    const name = (field: "domain" | "target"): string | undefined => {
      const v = fields?.[field];
      const d = typeof v === "string" ? v.trim().toLowerCase() : undefined;
      if (fields && (v === undefined || v === null)) return void at("is required", `.${field}`);
      if (d === undefined || !isDomainName(d)) return void (fields && at(`${JSON.stringify(v)} is not a valid domain name`, `.${field}`));
      if (d.length > MAIL_COLUMNS.domain) return void at(`"${d}" is longer than the ${MAIL_COLUMNS.domain} characters the database holds`, `.${field}`);
      return d;
    };
    const [domain, target] = [name("domain"), name("target")];
    if (!domain || !target) return void out.push(undefined);
    if (domain === target) at(`"${domain}" cannot be an alias of itself`, ".target");
    if (out.some((x) => x?.domain === domain)) at(`"${domain}" is listed twice`, ".domain");
    out.push({ domain, target });
  });
  return out;
}
