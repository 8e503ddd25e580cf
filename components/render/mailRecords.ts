// The mail server's ports and the DNS records it needs in the zone, as pure
// functions of plain values: MailServer publishes them, the endpoints output
// lists the ports, and the benchmark's plain-docker baseline builds the same
// zone from here.
import { createHash, X509Certificate } from "crypto";
import { MtaStsPolicy, mtaStsTxt, renderMtaStsPolicy, tlsRptTxt } from "./mtaSts";
import { dkimTxtValue } from "./opendkim";
import { DnsRecord } from "./types";

/** The ports the server listens on: the endpoints output, the SRV records and the autoconfiguration files (web.ts) all come from here. */
export const MAIL_PORTS = { smtp: 25, submission: 587, smtps: 465, imap: 143, imaps: 993, pop3: 110, pop3s: 995, managesieve: 4190 } as const;

/**
 * The mail server's web server (components/render/web.ts): HTTPS only, for
 * the clients' autoconfiguration. The _autodiscover._tcp SRV record names it.
 */
export const WEB_PORT = 443;

/** The names mail clients look their settings up at, per mail domain: Thunderbird's autoconfig, Outlook's autodiscover. */
export const AUTOCONFIG_LABELS = ["autoconfig", "autodiscover"] as const;

/** mta-sts.<d> of every mail domain: where senders fetch its MTA-STS policy (RFC 8461), a name the certificate must hold. */
export function mtaStsNames(mailDomains: readonly string[]): string[] {
  return mailDomains.map((d) => `mta-sts.${d}`);
}

/** autoconfig.<d> and autodiscover.<d> of every mail domain, in that order: the web server's names and the certificate's. */
export function autoconfigNames(mailDomains: readonly string[]): string[] {
  return mailDomains.flatMap((d) => AUTOCONFIG_LABELS.map((label) => `${label}.${d}`));
}

/** host:port of each client-facing service. */
export type MailEndpoints = { readonly [service in keyof typeof MAIL_PORTS]: string };

/**
 * RFC 6186 (and RFC 8314 for _submissions, RFC 5804 for _sieve) service records, so clients
 * configure themselves from an address. Implicit TLS gets the lower priority
 * number, i.e. is preferred, as RFC 8314 recommends.
 */
const SRV: readonly { service: string; port: keyof typeof MAIL_PORTS; priority: number }[] = [
  { service: "_submissions._tcp", port: "smtps", priority: 0 },
  { service: "_submission._tcp", port: "submission", priority: 10 },
  { service: "_imaps._tcp", port: "imaps", priority: 0 },
  { service: "_imap._tcp", port: "imap", priority: 10 },
  { service: "_pop3s._tcp", port: "pop3s", priority: 0 },
  { service: "_pop3._tcp", port: "pop3", priority: 10 },
  // RFC 5804: ManageSieve (STARTTLS), where users upload their filters.
  { service: "_sieve._tcp", port: "managesieve", priority: 0 },
];

/** Every service's host:port at `address`. */
export function mailEndpoints(address: string): MailEndpoints {
  return Object.fromEntries(Object.entries(MAIL_PORTS).map(([k, port]) => [k, `${address}:${port}`])) as MailEndpoints;
}

export interface MailRecordsSpec {
  /** The zone the server lives in, e.g. "rockylinux.me". */
  readonly zone: string;
  /** Its host label in the zone ("mail": the server is mail.<zone>). */
  readonly hostLabel: string;
  readonly address: string;
  /** Domains whose mail it accepts (each inside the zone). */
  readonly mailDomains: readonly string[];
  readonly mxPreference: number;
  /** SPF and DMARC TXT values; empty publishes none. */
  readonly spf?: string;
  readonly dmarc?: string;
  /**
   * The DKIM selector and each domain's public keys (base64 SPKI DER, as
   * DkimKeys gives them), each at its own selector if it has one (a
   * rollover publishes two), else at dkimSelector.
   */
  readonly dkimSelector: string;
  readonly dkimKeys: readonly { readonly domain: string; readonly publicKey: string; readonly selector?: string }[];
  /**
   * Whether the server answers clients' autoconfiguration (the web server):
   * autoconfig.<d> and autodiscover.<d> A records and an _autodiscover._tcp SRV.
   */
  readonly autoconfig: boolean;
  /**
   * The certificate (PEM; the first one counts) whose key DANE pins with a
   * TLSA record at _25._tcp.<mail host>; only in a signed zone (a TLSA record
   * is worth nothing unsigned).
   */
  readonly daneCertificate?: string;
  /** The MTA-STS policy the web server serves: mta-sts.<d> A and _mta-sts.<d> TXT with its id; absent: none. */
  readonly mtaSts?: MtaStsPolicy;
  /** Where senders report TLS failures (mailto:/https: URIs): _smtp._tls.<d> TXT; empty or absent: none. */
  readonly tlsReportsTo?: readonly string[];
}

/**
 * How long resolvers keep the TLSA record: short, because a new certificate
 * (a new name, a new key) changes it in the same `up`, and a sender holding
 * the old one defers mail to the server until it expires.
 */
export const TLSA_TTL = 300;

/**
 * The TLSA data DANE-EE(3) SPKI(1) SHA-256(1) of a certificate (RFC 7671):
 * the digest of its public key, which stays valid for any certificate
 * reissued with the same key, whoever signs it.
 */
export function tlsaValue(certificatePem: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch (e) {
    throw new Error(`DANE: the certificate is not a PEM certificate (${(e as Error).message})`);
  }
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return `3 1 1 ${createHash("sha256").update(spki).digest("hex").toUpperCase()}`;
}

/**
 * The server's A record and, per mail domain, its MX, the SRV records of its
 * services, its DKIM public key (<selector>._domainkey TXT), SPF and DMARC
 * when set, and with autoconfig the names clients ask for their settings;
 * with DANE the TLSA record of the SMTP server's key;
 * owner names relative to the zone.
 */
export function mailDnsRecords(m: MailRecordsSpec): DnsRecord[] {
  const hostname = `${m.hostLabel}.${m.zone}`;
  const relative = (d: string) => (d === m.zone ? "@" : d.slice(0, -(m.zone.length + 1)));
  const under = (prefix: string, d: string) => (d === m.zone ? prefix : `${prefix}.${relative(d)}`);
  return [
    { name: m.hostLabel, type: "A", value: m.address },
    ...(m.daneCertificate ? [{ name: `_25._tcp.${m.hostLabel}`, type: "TLSA", value: tlsaValue(m.daneCertificate), ttl: TLSA_TTL } as const] : []),
    ...m.mailDomains.flatMap((d): DnsRecord[] => [
      { name: relative(d), type: "MX", value: `${hostname}.`, priority: m.mxPreference },
      ...SRV.map((s): DnsRecord => ({ name: under(s.service, d), type: "SRV", value: `1 ${MAIL_PORTS[s.port]} ${hostname}.`, priority: s.priority })),
      ...(m.spf ? [{ name: relative(d), type: "TXT", value: m.spf } as const] : []),
      ...(m.dmarc ? [{ name: under("_dmarc", d), type: "TXT", value: m.dmarc } as const] : []),
      ...m.dkimKeys
        .filter((k) => k.domain === d)
        .map((k): DnsRecord => ({ name: under(`${k.selector ?? m.dkimSelector}._domainkey`, d), type: "TXT", value: dkimTxtValue(k.publicKey) })),
      ...(m.autoconfig ? autoconfigRecords(d, m.address, under, hostname) : []),
      ...(m.mtaSts
        ? [
            { name: under("mta-sts", d), type: "A", value: m.address } as const,
            { name: under("_mta-sts", d), type: "TXT", value: mtaStsTxt(renderMtaStsPolicy(m.mtaSts, hostname)) } as const,
          ]
        : []),
      ...(m.tlsReportsTo?.length ? [{ name: under("_smtp._tls", d), type: "TXT", value: tlsRptTxt(m.tlsReportsTo) } as const] : []),
    ]),
  ];
}

/**
 * A records rather than CNAMEs to the mail host: the same address either
 * way, and an A record leaves the name free for other types (a CNAME would
 * forbid any other record there). Outlook falls back to the SRV record
 * (weight 0 and port as Microsoft documents it), whose target is the mail
 * host itself: the web server answers for that name too.
 */
function autoconfigRecords(d: string, address: string, under: (prefix: string, d: string) => string, hostname: string): DnsRecord[] {
  return [
    ...AUTOCONFIG_LABELS.map((label): DnsRecord => ({ name: under(label, d), type: "A", value: address })),
    { name: under("_autodiscover._tcp", d), type: "SRV", value: `0 ${WEB_PORT} ${hostname}.`, priority: 0 },
  ];
}
