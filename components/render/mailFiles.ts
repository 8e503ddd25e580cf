// Every file the mail server needs, as one pure function of plain values:
// Postfix, Dovecot, OpenDKIM, mail-guard, and the certificate. MailServer
// renders them from its outputs; the bench's plain-docker baseline renders
// the very same files.
import { renderDovecotFiles } from "./dovecot";
import { DEFAULT_LIMITS, renderMailGuardFiles } from "./mailGuard";
import { DkimDomainKey, opendkimMilter, renderOpendkimFiles } from "./opendkim";
import { MailServerSettings, renderPostfixFiles } from "./postfix";
import { RenderedFile } from "./types";

export interface MailFilesSettings extends Omit<MailServerSettings, "milters" | "logTo"> {
  /** The DKIM selector and each mail domain's key. */
  readonly dkim: { readonly selector: string; readonly keys: DkimDomainKey[] };
  /** The certificate chain and its private key (PEM), written at `tls`'s paths. */
  readonly certificate: string;
  readonly privateKey: string;
  /** In a container (the daemons log to its output) rather than on a host (syslog, units of its own). */
  readonly container: boolean;
}

export function renderMailServerFiles(s: MailFilesSettings): RenderedFile[] {
  const { dkim, certificate, privateKey, container, ...rest } = s;
  const settings: MailServerSettings = { ...rest, milters: [opendkimMilter()], logTo: container ? "stdout" : "syslog" };
  return [
    ...renderPostfixFiles(settings),
    ...renderDovecotFiles(settings),
    ...renderOpendkimFiles({ selector: dkim.selector, keys: dkim.keys, syslog: !container }),
    ...renderMailGuardFiles({ limits: s.limits ?? DEFAULT_LIMITS, logTo: container ? "stderr" : "syslog", host: !container }),
    { path: s.tls.certificateFile, content: certificate, owner: "root", group: "root", mode: "0644" },
    { path: s.tls.keyFile, content: privateKey, owner: "root", group: "root", mode: "0600", secret: true },
  ];
}
