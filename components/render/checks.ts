// The checks of names and addresses that the stack configuration and the
// renderers share, so they agree on what a DNS name, an address or a port is.
// Callers add their own limits on top (a column's length, lower case) and
// word their own errors.

// RFC 1123 host label: letters, digits and inner hyphens, 1-63 characters.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
// Owner names in a zone may also hold underscore labels (_dmarc, _tcp, sel._domainkey).
const LABEL_WITH_UNDERSCORES = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;
/** A dotted-quad IPv4 address (no leading zeros, each octet 0-255). */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
// A mailbox's local part that needs no quoting anywhere it goes (SQL rows,
// maildir paths, Postfix and Dovecot lookups): letters, digits and . _ + -.
const MAILBOX_LOCAL_PART = /^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?$/i;

export interface DnsNameRule {
  /** At least this many labels (default 1). */
  readonly minLabels?: number;
  /** Labels may hold underscores (owner names of SRV, DMARC and DKIM records). */
  readonly underscores?: boolean;
}

/** One DNS label, any case. */
export function isDnsLabel(value: string, rule: Pick<DnsNameRule, "underscores"> = {}): boolean {
  return (rule.underscores ? LABEL_WITH_UNDERSCORES : LABEL).test(value);
}

/** A DNS name without the final dot: labels joined by dots, at most 253 characters, any case. */
export function isDnsName(value: string, rule: DnsNameRule = {}): boolean {
  const labels = value.split(".");
  return value.length <= 253 && labels.length >= (rule.minLabels ?? 1) && labels.every((l) => isDnsLabel(l, rule));
}

/** A domain (e.g. "mail.rockylinux.me"): two or more labels, the top one not all digits (so no IPv4 address). */
export function isDomainName(value: string): boolean {
  return isDnsName(value, { minLabels: 2 }) && !/^\d+$/.test(value.slice(value.lastIndexOf(".") + 1));
}

/** Splits "local@domain" at its last "@"; undefined without one. */
export function splitAddress(value: string): { local: string; domain: string } | undefined {
  const at = value.lastIndexOf("@");
  return at < 0 ? undefined : { local: value.slice(0, at), domain: value.slice(at + 1) };
}

/** An e-mail address every part of the system carries unquoted: local part of letters, digits and . _ + -, at a domain. */
export function isEmailAddress(value: string): boolean {
  const parts = splitAddress(value);
  return parts !== undefined && MAILBOX_LOCAL_PART.test(parts.local) && !parts.local.includes("..") && isDomainName(parts.domain);
}

/** A dotted-quad IPv4 address. */
export function isIPv4(value: string): boolean {
  return IPV4.test(value);
}

/** The address as a 32-bit number, or undefined if it is not a dotted-quad IPv4 address. */
export function parseIPv4(value: string): number | undefined {
  if (!IPV4.test(value)) return undefined;
  return value.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** A TCP or UDP port number (1-65535). */
export function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** Text holding a PEM block whose label matches `label` (e.g. /^CERTIFICATE$/, /PRIVATE KEY$/). */
export function hasPemBlock(text: string, label: RegExp): boolean {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n:,\- ]+?-----END \1-----/g;
  for (const m of text.matchAll(re)) if (label.test(m[1])) return true;
  return false;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/**
 * A storage size as bytes: a whole number with an optional binary unit (K,
 * M, G, T; "KiB", "MB" and a trailing "B" alike), e.g. "500M", "2G", "0".
 * Undefined when it is not one.
 */
export function parseSize(value: unknown): number | undefined {
  const m = /^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(typeof value === "number" ? String(value) : typeof value === "string" ? value : "");
  if (!m) return undefined;
  const bytes = Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
