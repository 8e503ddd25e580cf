// ACME (RFC 8555) certificates for the mail server, as pure functions of
// plain values: the settings a stack gives (mail-system:acme), checked field
// by field, and the files of mail-acme (files/mail/acme), the small program
// on the mail server that asks the CA with lego (Debian's package) for a
// certificate of the server's own key, serves it and renews it on a schedule.
// The key never changes with a renewal, so the TLSA record stays true.
import * as fs from "fs";
import * as path from "path";
import { X509Certificate } from "crypto";
import { jobPaths, renderJobFiles } from "./job";
import { FILES_DIR, shellAssignments } from "./template";
import { RenderedFile } from "./types";

export const ACME_CHALLENGES = ["dns-01", "http-01"] as const;
export type AcmeChallenge = (typeof ACME_CHALLENGES)[number];

/** Twelve hours: Let's Encrypt's advice is twice a day; a renewal is due long before (a third of the lifetime left). */
export const DEFAULT_ACME_CHECK_SECONDS = 43200;

/** What a stack asks of its ACME CA. */
export interface AcmeSettings {
  /** The CA's directory URL (https). */
  readonly directory: string;
  /** The account's contact address (expiry notices). */
  readonly email: string;
  /** dns-01: answered through the program's own BIND; http-01: on port 80 of the mail server. */
  readonly challenge: AcmeChallenge;
  /** PEM of the CA that signed the directory's HTTPS certificate, when it is not a public one (a test or private CA). */
  readonly serverCaCertificate?: string;
  /**
   * PEM of the root the CA's certificates chain to, when it is not a public
   * one: the deploy check verifies the served certificate with it.
   */
  readonly rootCertificate?: string;
  /** Seconds between two looks at the served certificate; it is renewed once a third of its lifetime is left. */
  readonly checkSeconds: number;
}

/** One problem with a field of the settings. */
export interface AcmeProblem {
  readonly field: string;
  readonly message: string;
}

const FIELDS = ["directory", "email", "challenge", "serverCaCertificate", "rootCertificate", "checkSeconds"] as const;

function isPem(v: unknown): v is string {
  if (typeof v !== "string" || !v.includes("-----BEGIN CERTIFICATE-----")) return false;
  try {
    new X509Certificate(v);
    return true;
  } catch {
    return false;
  }
}

/** The settings' problems, each with its field; none means `acmeSettings` accepts them. */
export function acmeProblems(v: Readonly<Record<string, unknown>>): AcmeProblem[] {
  const problems: AcmeProblem[] = [];
  const bad = (field: string, message: string) => problems.push({ field, message });
  for (const k of Object.keys(v)) if (!(FIELDS as readonly string[]).includes(k)) bad(k, `is not a field of acme (${FIELDS.join(", ")})`);
  if (typeof v.directory !== "string" || !/^https:\/\/[a-z0-9.-]+(:\d{1,5})?(\/[^\s'"\\`$]*)?$/i.test(v.directory)) {
    bad("directory", `must be the CA's https:// directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory, not ${JSON.stringify(v.directory)}`);
  }
  if (typeof v.email !== "string" || !/^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/.test(v.email)) {
    bad("email", `must be the account's contact address, not ${JSON.stringify(v.email)}`);
  }
  const challenge = v.challenge ?? "dns-01";
  if (!(ACME_CHALLENGES as readonly unknown[]).includes(challenge)) bad("challenge", `must be one of ${ACME_CHALLENGES.join(", ")}, not ${JSON.stringify(challenge)}`);
  for (const f of ["serverCaCertificate", "rootCertificate"] as const) {
    if (v[f] !== undefined && !isPem(v[f])) bad(f, "must be a PEM certificate");
  }
  const check = v.checkSeconds ?? DEFAULT_ACME_CHECK_SECONDS;
  if (typeof check !== "number" || !Number.isInteger(check) || check < 5 || check > 86400) {
    bad("checkSeconds", `must be a whole number of seconds from 5 to 86400 (a day), not ${JSON.stringify(check)}`);
  }
  return problems;
}

/** The settings with their defaults; throws with every problem when there are any. */
export function acmeSettings(v: Readonly<Record<string, unknown>>): AcmeSettings {
  const problems = acmeProblems(v);
  if (problems.length > 0) throw new Error(`acme: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}`);
  return {
    directory: v.directory as string,
    email: v.email as string,
    challenge: (v.challenge ?? "dns-01") as AcmeChallenge,
    ...(v.serverCaCertificate ? { serverCaCertificate: v.serverCaCertificate as string } : {}),
    ...(v.rootCertificate ? { rootCertificate: v.rootCertificate as string } : {}),
    checkSeconds: (v.checkSeconds ?? DEFAULT_ACME_CHECK_SECONDS) as number,
  };
}

/** Where mail-acme and its state live on the mail server. */
export const ACME = {
  program: "/usr/local/lib/mail-system/mail-acme",
  config: "/etc/mail-system/acme.env",
  serverCa: "/etc/mail-system/acme-server-ca.pem",
  /** lego's account and certificates, the served chain, the status: kept across a container's replacement. */
  state: "/var/lib/mail-acme",
  served: "/var/lib/mail-acme/fullchain.pem",
  status: "/var/lib/mail-acme/status",
  ...jobPaths("mail-acme"),
  /** The TSIG key's name in BIND. */
  keyName: "mail-system-acme",
} as const;

/** How mail-acme reaches the CA and the DNS server, and what it serves. */
export interface AcmeClientSettings {
  readonly acme: AcmeSettings;
  /** The names the certificate must cover, the server's host name first. */
  readonly names: readonly string[];
  /** The server's key (PEM path) the certificate is for, and the chain served until the CA's first one arrives. */
  readonly keyFile: string;
  readonly bootstrapChain: string;
  /** dns-01: the DNS server's address, and the TSIG secret (base64) of ACME.keyName. */
  readonly nameserver?: string;
  readonly tsigSecret?: string;
  /** The daemons that serve the certificate: reloaded when it changes. */
  readonly reloadUnits: readonly string[];
  /** A host (its systemd unit and init script are written) rather than a container (the supervisor runs it). */
  readonly host: boolean;
}


/** mail-acme's program, its configuration (secret: the TSIG key), the CA file and, on a host, its unit and init script. */
export function renderAcmeFiles(s: AcmeClientSettings): RenderedFile[] {
  const a = acmeSettings(s.acme as unknown as Record<string, unknown>);
  if (s.names.length === 0) throw new Error("acme: no names to ask a certificate for");
  for (const n of s.names) if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(n)) throw new Error(`acme: ${JSON.stringify(n)} is not a host name`);
  if (a.challenge === "dns-01" && (!s.nameserver || !s.tsigSecret)) throw new Error("acme: dns-01 needs the DNS server's address and the TSIG secret");
  for (const u of s.reloadUnits) if (!/^[a-z0-9-]+$/.test(u)) throw new Error(`acme: ${JSON.stringify(u)} is not a unit name`);
  const env: [string, string][] = [
    ["ACME_DIRECTORY", a.directory],
    ["ACME_EMAIL", a.email],
    ["ACME_CHALLENGE", a.challenge],
    ["ACME_NAMES", s.names.join(" ")],
    ["ACME_CHECK_SECONDS", String(a.checkSeconds)],
    ["ACME_STATE", ACME.state],
    ["ACME_SERVED", ACME.served],
    ["ACME_STATUS", ACME.status],
    ["ACME_KEY", s.keyFile],
    ["ACME_BOOTSTRAP", s.bootstrapChain],
    ["ACME_RELOAD_UNITS", s.reloadUnits.join(" ")],
    ...(a.serverCaCertificate ? ([["LEGO_CA_CERTIFICATES", ACME.serverCa]] as [string, string][]) : []),
    ...(a.challenge === "dns-01"
      ? ([
          ["ACME_RESOLVER", `${s.nameserver}:53`],
          ["RFC2136_NAMESERVER", `${s.nameserver}:53`],
          ["RFC2136_TSIG_KEY", `${ACME.keyName}.`],
          ["RFC2136_TSIG_ALGORITHM", "hmac-sha256."],
          ["RFC2136_TSIG_SECRET", s.tsigSecret as string],
          ["RFC2136_TTL", "60"],
          ["RFC2136_PROPAGATION_TIMEOUT", "120"],
          // The program's own BIND applies an update at once: lego need not
          // wait long for it (nor 60 s between names, its default for DNS
          // providers that take a while).
          ["RFC2136_POLLING_INTERVAL", "1"],
          ["RFC2136_SEQUENCE_INTERVAL", "0"],
        ] as [string, string][])
      : []),
  ];
  const config = `# Rendered by mail-system: mail-acme's settings (secret: the DNS update key).\n${shellAssignments(env)}`;
  const root = (p: string, content: string, mode: string, secret = false): RenderedFile => ({ path: p, content, owner: "root", group: "root", mode, ...(secret ? { secret } : {}) });
  return [
    root(ACME.program, fs.readFileSync(path.join(FILES_DIR, "mail", "acme", "mail-acme.sh"), "utf8"), "0755"),
    root(ACME.config, config, "0600", true),
    ...(a.serverCaCertificate ? [root(ACME.serverCa, a.serverCaCertificate, "0644")] : []),
    ...(s.host
      ? renderJobFiles({
          name: "mail-acme",
          description: "the mail server's certificate from an ACME CA, renewed before it expires",
          program: ACME.program,
          // Before the daemons start: the chain they serve exists.
          before: ["postfix", "dovecot", "nginx"],
        })
      : []),
  ];
}
