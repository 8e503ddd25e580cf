// MTA-STS (RFC 8461) and SMTP TLS reporting (RFC 8460) as pure functions of
// plain values: the policy the web server serves, the TXT record that names
// its id (a digest of the policy, so it changes exactly when the policy
// does), and the TLS-RPT record that says where senders report.
import { createHash } from "crypto";

export const MTA_STS_MODES = ["enforce", "testing", "none"] as const;
export type MtaStsMode = (typeof MTA_STS_MODES)[number];

/** One week: long enough that a sender keeps the policy across an outage of the web server, as RFC 8461 §3.2 advises (weeks). */
export const DEFAULT_MTA_STS_MAX_AGE = 604800;
/** RFC 8461's ceiling for max_age: about a year. */
export const MAX_MTA_STS_MAX_AGE = 31557600;

export interface MtaStsPolicy {
  /** enforce: senders deliver only over verified TLS to the MX; testing: they deliver anyway and report; none: the policy is withdrawn. */
  readonly mode: MtaStsMode;
  /** How long senders keep the policy, in seconds. */
  readonly maxAgeSeconds: number;
}

function fail(what: string, value: unknown, why: string, topic = "MTA-STS"): never {
  throw new Error(`${topic}: ${what} ${JSON.stringify(value)} ${why}`);
}

/** The policy file (CRLF lines, RFC 8461 §3.2) for the one MX `mx` every mail domain has. */
export function renderMtaStsPolicy(p: MtaStsPolicy, mx: string): string {
  if (!MTA_STS_MODES.includes(p.mode)) fail("mode", p.mode, `must be one of ${MTA_STS_MODES.join(", ")}`);
  if (!Number.isInteger(p.maxAgeSeconds) || p.maxAgeSeconds < 0 || p.maxAgeSeconds > MAX_MTA_STS_MAX_AGE) {
    fail("maxAgeSeconds", p.maxAgeSeconds, `must be a whole number of seconds from 0 to ${MAX_MTA_STS_MAX_AGE}`);
  }
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i.test(mx)) fail("mx", mx, "is not a host name");
  return ["version: STSv1", `mode: ${p.mode}`, `mx: ${mx.toLowerCase()}`, `max_age: ${p.maxAgeSeconds}`].map((l) => `${l}\r\n`).join("");
}

/** The _mta-sts TXT value: the policy's id is the first 20 hex digits of its SHA-256 (RFC 8461 allows 1-32 letters and digits). */
export function mtaStsTxt(policy: string): string {
  return `v=STSv1; id=${createHash("sha256").update(policy).digest("hex").slice(0, 20)}`;
}

/** Where TLS reports may go (RFC 8460 §3): mailto: an address, or an https: URL. */
export function isTlsRptUri(uri: string): boolean {
  if (/^mailto:[^@\s,;!]+@[a-z0-9.-]+\.[a-z]{2,}$/i.test(uri)) return true;
  return /^https:\/\/[a-z0-9.-]+(:\d+)?(\/[^\s,;!]*)?$/i.test(uri);
}

/** The _smtp._tls TXT value naming where senders report TLS failures. */
export function tlsRptTxt(reportTo: readonly string[]): string {
  if (reportTo.length === 0) fail("reportTo", reportTo, "must name at least one mailto: or https: address", "TLS-RPT");
  for (const uri of reportTo) if (!isTlsRptUri(uri)) fail("reportTo", uri, "must be mailto:<address> or https://<host>/<path>", "TLS-RPT");
  return `v=TLSRPTv1; rua=${reportTo.join(",")}`;
}
