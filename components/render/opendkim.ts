// OpenDKIM's configuration as a pure function of plain settings:
// opendkim.conf, KeyTable, SigningTable, TrustedHosts and one private key
// per mail domain. Templates live in files/mail/templates. OpenDKIM runs as
// a milter on a unix socket only Postfix can reach, called for every message; it signs mail
// from logged-in users and from this host itself, and nothing else.
import { createPublicKey } from "crypto";
import { isDnsLabel, isDnsName } from "./checks";
import { renderTemplate } from "./template";
import { RenderedFile } from "./types";

/** One mail domain's signing key. */
export interface DkimDomainKey {
  /** The mail domain, e.g. "rockylinux.me". */
  domain: string;
  /** The private key (PEM, PKCS#8 or PKCS#1). */
  privateKey: string;
  /** Its selector, when not the settings' (a domain in a rollover signs with another). */
  selector?: string;
}

export interface OpendkimSettings {
  /** Selector of every key without its own: the record is <selector>._domainkey.<domain>. */
  selector: string;
  keys: DkimDomainKey[];
  /** Log to syslog (a host) rather than only report start-up errors on stderr (a container). Default false. */
  syslog?: boolean;
}


/** Where the rendered files go. */
export const OPENDKIM_PATHS = {
  // systemd's unit (Type=forking, PIDFile=) waits for it; the init scripts pass the same path.
  pidFile: "/run/opendkim/opendkim.pid",
  // In a directory only Postfix may enter (files/mail/accounts.sh makes it).
  socket: "/var/spool/postfix/opendkim/opendkim.sock",
  conf: "/etc/opendkim.conf",
  keyTable: "/etc/opendkim/KeyTable",
  signingTable: "/etc/opendkim/SigningTable",
  trustedHosts: "/etc/opendkim/TrustedHosts",
  keyDir: "/etc/opendkim/keys",
} as const;

// The program lower-cases names and the tables and key paths hold them as given,
// so only that form is accepted.
const isLowerCase = (name: string) => name === name.toLowerCase();

function fail(message: string): never {
  throw new Error(`opendkim settings: ${message}`);
}

/** True for a selector usable as one DNS label (lower-case letters, digits, hyphens). */
export function isDkimSelector(selector: string): boolean {
  return isDnsLabel(selector) && isLowerCase(selector);
}

/** The milter address Postfix uses for OpenDKIM (main.cf smtpd_milters). */
export function opendkimMilter(): string {
  return `unix:${OPENDKIM_PATHS.socket}`;
}

/** Path of a domain's private key on the server. */
export function dkimKeyPath(domain: string, selector: string): string {
  return `${OPENDKIM_PATHS.keyDir}/${domain}/${selector}.private`;
}

/** The public key (SubjectPublicKeyInfo, DER, base64) of a private key in PEM. */
export function dkimPublicKey(privateKeyPem: string): string {
  return createPublicKey(privateKeyPem).export({ type: "spki", format: "der" }).toString("base64");
}

/** The TXT value of <selector>._domainkey.<domain> for a public key (SPKI DER, base64). */
export function dkimTxtValue(publicKeyDerBase64: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(publicKeyDerBase64)) fail("the public key must be base64 (SPKI DER)");
  return `v=DKIM1; k=rsa; p=${publicKeyDerBase64}`;
}

/** opendkim.conf, its three tables and each domain's private key (opendkim, 0600, secret). */
export function renderOpendkimFiles(settings: OpendkimSettings): RenderedFile[] {
  const { selector, keys } = settings;
  if (!isDkimSelector(selector)) fail(`selector ${JSON.stringify(selector)} is not a DNS label (a-z, 0-9, '-')`);
  if (keys.length === 0) fail("no mail domain to sign for");
  const seen = new Set<string>();
  for (const k of keys) {
    if (k.selector !== undefined && !isDkimSelector(k.selector)) fail(`selector ${JSON.stringify(k.selector)} of ${k.domain} is not a DNS label (a-z, 0-9, '-')`);
    if (!isDnsName(k.domain, { minLabels: 2 }) || !isLowerCase(k.domain)) fail(`domain ${JSON.stringify(k.domain)} is not a lower-case DNS name`);
    if (seen.has(k.domain)) fail(`domain ${k.domain} is listed twice`);
    seen.add(k.domain);
    if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(k.privateKey)) fail(`the key of ${k.domain} is not a PEM private key`);
    const type = createPublicKey(k.privateKey).asymmetricKeyType;
    if (type !== "rsa") fail(`the key of ${k.domain} is ${type}, not RSA`);
  }
  // Longest domain first: a more specific domain never falls to a shorter one.
  const ordered = [...keys]
    .sort((a, b) => b.domain.length - a.domain.length || a.domain.localeCompare(b.domain))
    .map((k) => ({ ...k, selector: k.selector ?? selector }));
  const keyName = (k: { domain: string; selector: string }) => `${k.selector}._domainkey.${k.domain}`;
  const table = (file: string, lines: string[]) => renderTemplate(`mail/templates/${file}`, { entries: lines.join("\n") });
  const root = (path: string, content: string): RenderedFile => ({ path, content, owner: "root", group: "root", mode: "0644" });
  return [
    root(
      OPENDKIM_PATHS.conf,
      renderTemplate("mail/templates/opendkim.conf", {
        socket: OPENDKIM_PATHS.socket,
        keyTable: OPENDKIM_PATHS.keyTable,
        signingTable: OPENDKIM_PATHS.signingTable,
        trustedHosts: OPENDKIM_PATHS.trustedHosts,
        syslog: settings.syslog ? "yes" : "no",
        pidFile: OPENDKIM_PATHS.pidFile,
      }),
    ),
    root(OPENDKIM_PATHS.keyTable, table("opendkim-KeyTable", ordered.map((k) => `${keyName(k)} ${k.domain}:${k.selector}:${dkimKeyPath(k.domain, k.selector)}`))),
    root(OPENDKIM_PATHS.signingTable, table("opendkim-SigningTable", ordered.map((k) => `*@${k.domain} ${keyName(k)}`))),
    root(OPENDKIM_PATHS.trustedHosts, table("opendkim-TrustedHosts", ["127.0.0.1", "::1", "localhost"])),
    ...ordered.map(
      (k): RenderedFile => ({
        path: dkimKeyPath(k.domain, k.selector),
        content: k.privateKey.endsWith("\n") ? k.privateKey : `${k.privateKey}\n`,
        owner: "opendkim",
        group: "opendkim",
        mode: "0600",
        secret: true,
      }),
    ),
  ];
}
