// Every file the mail server needs, as pure functions of plain values: the
// filter's (Rspamd: settings and the place only, written and started first,
// ServerSpec.earlyFiles) and the rest, Postfix, Dovecot, OpenDKIM,
// mail-guard, the web server (clients' autoconfiguration) when it has one,
// the certificate, and the CA the database's certificate is verified with.
// MailServer renders them from its outputs; the bench's plain-docker baseline
// renders the very same files.
import { renderDovecotFiles } from "./dovecot";
import { DEFAULT_LIMITS, renderMailGuardFiles } from "./mailGuard";
import { DkimDomainKey, opendkimMilter, renderOpendkimFiles } from "./opendkim";
import { MailServerSettings, renderPostfixFiles } from "./postfix";
import { hasPemBlock } from "./checks";
import { FilteringSettings, renderRspamdFiles, RSPAMD } from "./rspamd";
import { DatabaseConnection, RenderedFile } from "./types";
import { MtaStsPolicy } from "./mtaSts";
import { renderWebFiles } from "./web";
import { ACME, AcmeClientSettings, renderAcmeFiles } from "./acme";
import type { OsFamily } from "../targets/server";

/** The database's CA: under /etc/ssl/mail/, so Postfix and Dovecot reload when it changes. */
export const DATABASE_CA_FILE = "/etc/ssl/mail/database-ca.pem";

/** What the filter's files depend on: settings and the place, nothing another server makes. */
export interface MailFilterSettings {
  /** The domains this server hosts (Rspamd refuses unauthenticated mail from outside claiming them). */
  readonly mailDomains: readonly string[];
  /** Spam scoring thresholds, greylisting, allow list (mail-system:filtering). */
  readonly filtering: FilteringSettings;
  /** In a container (Rspamd logs to its output) rather than on a host (syslog). */
  readonly container: boolean;
  /** Name servers Rspamd asks directly (ServerPlace.nameservers); absent: the system's resolver. */
  readonly nameservers?: readonly string[];
}

/** Rspamd's files (Redis has none of its own). */
export function renderMailFilterFiles(s: MailFilterSettings): RenderedFile[] {
  return renderRspamdFiles({
    filtering: s.filtering,
    ownDomains: s.mailDomains,
    logTo: s.container ? "stdout" : "syslog",
    ...(s.nameservers ? { nameservers: s.nameservers } : {}),
  });
}

export interface MailFilesSettings extends Omit<MailServerSettings, "milters" | "filterMilter" | "logTo" | "database"> {
  /** The domains this server hosts (its web server's names). */
  readonly mailDomains: readonly string[];
  /** The mail database (MysqlServer.connection), its CA included. */
  readonly database: DatabaseConnection;
  /** The DKIM selector and each mail domain's key. */
  readonly dkim: { readonly selector: string; readonly keys: DkimDomainKey[] };
  /** The certificate chain and its private key (PEM), written at `tls`'s paths. */
  readonly certificate: string;
  readonly privateKey: string;
  /** In a container (the daemons log to its output) rather than on a host (syslog, units of its own). */
  readonly container: boolean;
  /**
   * The web server, with the family its account is named for, whether it
   * serves the clients' autoconfiguration, and the MTA-STS policy it serves;
   * absent: none.
   */
  readonly web?: { readonly family: OsFamily; readonly autoconfig: boolean; readonly mtaSts?: MtaStsPolicy };
  /**
   * Certificates from an ACME CA (mail-acme): the daemons serve the chain it
   * keeps (ACME.served) for the same key, and `certificate` is only the one
   * served until the CA's first arrives. Absent: `certificate` is served.
   */
  readonly acme?: Omit<AcmeClientSettings, "keyFile" | "bootstrapChain" | "host">;
}

/** Every file of the mail server but the filter's (renderMailFilterFiles). */
export function renderMailServerFiles(s: MailFilesSettings): RenderedFile[] {
  const { dkim, certificate, privateKey, container, database, mailDomains, web, acme, ...rest } = s;
  // With ACME the daemons serve mail-acme's chain; the rendered one is its bootstrap.
  const tls = acme ? { ...s.tls, certificateFile: ACME.served } : s.tls;
  if (!hasPemBlock(database.caCertificate, /^CERTIFICATE$/)) throw new Error("mail server: database.caCertificate is not a PEM certificate");
  const { caCertificate, ...credentials } = database;
  const settings: MailServerSettings = {
    ...rest,
    tls,
    // The renderers get the CA as a file on the server.
    database: { ...credentials, caFile: DATABASE_CA_FILE },
    milters: [opendkimMilter()],
    filterMilter: RSPAMD.milter,
    logTo: container ? "stdout" : "syslog",
  };
  return [
    ...renderPostfixFiles(settings),
    ...renderDovecotFiles(settings),
    ...renderOpendkimFiles({ selector: dkim.selector, keys: dkim.keys, syslog: !container }),
    ...renderMailGuardFiles({ limits: s.limits ?? DEFAULT_LIMITS, logTo: container ? "stderr" : "syslog", host: !container }),
    ...(web ? renderWebFiles({ hostname: s.hostname, mailDomains, tls, container, ...web }) : []),
    ...(acme ? renderAcmeFiles({ ...acme, keyFile: s.tls.keyFile, bootstrapChain: s.tls.certificateFile, host: !container }) : []),
    { path: s.tls.certificateFile, content: certificate, owner: "root", group: "root", mode: "0644" },
    { path: s.tls.keyFile, content: privateKey, owner: "root", group: "root", mode: "0600", secret: true },
    { path: DATABASE_CA_FILE, content: caCertificate, owner: "root", group: "root", mode: "0644" },
  ];
}
