// The mail server's web server (nginx, from the distribution) as a pure
// function of plain settings: its whole nginx.conf and what it serves. Its
// first content is the mail clients' autoconfiguration over HTTPS:
// Thunderbird's autoconfig (clientConfig 1.1) and Outlook's autodiscover
// (POX), for every mail domain, with the ports of MAIL_PORTS, the one table
// the SRV records and the endpoints output come from.
import type { OsFamily } from "../targets/server";
import { isDnsName } from "./checks";
import { autoconfigNames, MAIL_PORTS, mtaStsNames, WEB_PORT } from "./mailRecords";
import { MtaStsPolicy, renderMtaStsPolicy } from "./mtaSts";
import { CLIENT_TLS12_CIPHERS } from "./postfix";
import { renderTemplate } from "./template";
import { RenderedFile } from "./types";

/** Where the web server's files go: all under /etc/nginx, which nginx may read under SELinux on RHEL as well. */
export const WEB = {
  config: "/etc/nginx/nginx.conf",
  autoconfigDir: "/etc/nginx/mail-system/autoconfig",
  autodiscoverFile: "/etc/nginx/mail-system/autodiscover.xml",
  mtaStsFile: "/etc/nginx/mail-system/mta-sts.txt",
  pidFile: "/run/nginx.pid",
} as const;

/** The account nginx's workers run as (its master, root, drops to it). */
const WEB_USER: Readonly<Record<OsFamily, string>> = { debian: "www-data", rhel: "nginx" };

type Port = keyof typeof MAIL_PORTS;
type SocketType = "SSL" | "STARTTLS";

/** What Thunderbird is offered, in order of preference: implicit TLS first (RFC 8314), as the SRV priorities say. */
const AUTOCONFIG_SERVERS: readonly { element: "incomingServer" | "outgoingServer"; type: string; port: Port; socketType: SocketType }[] = [
  { element: "incomingServer", type: "imap", port: "imaps", socketType: "SSL" },
  { element: "incomingServer", type: "imap", port: "imap", socketType: "STARTTLS" },
  { element: "incomingServer", type: "pop3", port: "pop3s", socketType: "SSL" },
  { element: "incomingServer", type: "pop3", port: "pop3", socketType: "STARTTLS" },
  { element: "outgoingServer", type: "smtp", port: "smtps", socketType: "SSL" },
  { element: "outgoingServer", type: "smtp", port: "submission", socketType: "STARTTLS" },
];

/** What Outlook is offered: IMAP and SMTP, both with implicit TLS (its POX answer has no STARTTLS to choose). */
const AUTODISCOVER_PROTOCOLS: readonly { type: "IMAP" | "SMTP"; port: Port }[] = [
  { type: "IMAP", port: "imaps" },
  { type: "SMTP", port: "smtps" },
];

function fail(what: string, value: unknown, why: string): never {
  throw new Error(`web server settings: ${what} ${JSON.stringify(value)} ${why}`);
}

/** A domain or host name, lower-cased; throws when it is not one. */
function dnsName(what: string, value: string): string {
  if (typeof value !== "string" || !isDnsName(value, { minLabels: 2 })) fail(what, value, "is not a DNS name (letters, digits, '-', dots)");
  return value.toLowerCase();
}

/** Thunderbird's /mail/config-v1.1.xml for one mail domain: IMAP, POP3 and SMTP at the mail host, the address as user name. */
export function renderAutoconfigXml(s: { readonly domain: string; readonly hostname: string }): string {
  const domain = dnsName("domain", s.domain);
  const hostname = dnsName("hostname", s.hostname);
  const servers = AUTOCONFIG_SERVERS.map((x) =>
    renderTemplate("mail/web/autoconfig-server.xml", { element: x.element, type: x.type, hostname, port: MAIL_PORTS[x.port], socketType: x.socketType }),
  );
  return renderTemplate("mail/web/config-v1.1.xml", { domain, servers: servers.join("").trimEnd() });
}

/** Outlook's autodiscover answer (POX, responseschema 2006a): IMAP and SMTP over implicit TLS at the mail host. */
export function renderAutodiscoverXml(s: { readonly hostname: string }): string {
  const hostname = dnsName("hostname", s.hostname);
  const protocols = AUTODISCOVER_PROTOCOLS.map((p) =>
    renderTemplate("mail/web/autodiscover-protocol.xml", { type: p.type, hostname, port: MAIL_PORTS[p.port] }),
  );
  return renderTemplate("mail/web/autodiscover.xml", { protocols: protocols.join("").trimEnd() });
}

export interface WebServerSettings {
  /** The mail host's name: the server clients are told to use, and a name the web server answers for (the _autodiscover._tcp SRV target). */
  readonly hostname: string;
  /** The mail domains: autoconfig.<d> and autodiscover.<d>, and mta-sts.<d>, are served for each. */
  readonly mailDomains: readonly string[];
  /**
   * Whether it serves the clients' autoconfiguration.
   * @default true
   */
  readonly autoconfig?: boolean;
  /** The MTA-STS policy it serves at mta-sts.<d> (its mx: the mail host); absent: none. */
  readonly mtaSts?: MtaStsPolicy;
  /** The certificate chain and key (PEM files on the server): the mail host's, which must name every autoconfig name. */
  readonly tls: { readonly certificateFile: string; readonly keyFile: string };
  /** In a container (errors to stderr, requests to stdout: the container's log) or on a host (nginx's own log files). */
  readonly container: boolean;
  /** The distribution family (the workers' account). */
  readonly family: OsFamily;
}

// Unquoted in nginx.conf: nothing it would split or expand.
const PEM_PATH = /^\/[A-Za-z0-9._/-]+$/;

/** nginx.conf, each mail domain's autoconfig file and the autodiscover answer, with their owners and modes. */
export function renderWebFiles(s: WebServerSettings): RenderedFile[] {
  const hostname = dnsName("hostname", s.hostname);
  if (!Array.isArray(s.mailDomains) || s.mailDomains.length === 0) fail("mailDomains", s.mailDomains, "must list at least one mail domain");
  const domains = [...new Set(s.mailDomains.map((d, i) => dnsName(`mailDomains[${i}]`, d)))];
  const autoconfig = s.autoconfig ?? true;
  if (!autoconfig && !s.mtaSts) fail("autoconfig", false, "and no mtaSts: the web server would serve nothing");
  const names = autoconfig ? autoconfigNames(domains) : [];
  // The mail host's own A record would collide with an autoconfig or MTA-STS name's.
  if (names.includes(hostname)) fail("hostname", hostname, "is one of the autoconfig names (autoconfig.<d>, autodiscover.<d>)");
  if (s.mtaSts && mtaStsNames(domains).includes(hostname)) fail("hostname", hostname, "is one of the MTA-STS names (mta-sts.<d>)");
  for (const [what, p] of [["tls.certificateFile", s.tls.certificateFile], ["tls.keyFile", s.tls.keyFile]] as const) {
    if (!PEM_PATH.test(p) || p.split("/").includes("..")) fail(what, p, "must be an absolute path of A-Z a-z 0-9 . _ - /");
  }
  const user = WEB_USER[s.family] ?? fail("family", s.family, 'must be "debian" or "rhel"');
  const conf = renderTemplate("mail/web/nginx.conf", {
    user,
    pidFile: WEB.pidFile,
    errorLog: s.container ? "# In a container: the container's log.\nerror_log stderr warn;" : "error_log /var/log/nginx/error.log warn;",
    accessLog: s.container ? "access_log /dev/stdout;" : "access_log /var/log/nginx/access.log;",
    certificateFile: s.tls.certificateFile,
    keyFile: s.tls.keyFile,
    clientCiphers: CLIENT_TLS12_CIPHERS,
    port: WEB_PORT,
    servers: [
      autoconfig
        ? renderTemplate("mail/web/autoconfig.conf", {
            domainMap: domains.flatMap((d) => autoconfigNames([d]).map((n) => `        ${n} ${d};`)).join("\n"),
            port: WEB_PORT,
            serverNames: [hostname, ...names].join(" "),
            autoconfigDir: WEB.autoconfigDir,
            autodiscoverFile: WEB.autodiscoverFile,
          })
        : "",
      s.mtaSts ? renderTemplate("mail/web/mta-sts.conf", { port: WEB_PORT, serverNames: mtaStsNames(domains).join(" "), policyFile: WEB.mtaStsFile }) : "",
    ]
      .filter((x) => x)
      .join("\n"),
  });
  const file = (path: string, content: string): RenderedFile => ({ path, content, owner: "root", group: "root", mode: "0644" });
  return [
    file(WEB.config, conf),
    ...(autoconfig
      ? [
          ...domains.map((domain) => file(`${WEB.autoconfigDir}/${domain}.xml`, renderAutoconfigXml({ domain, hostname }))),
          file(WEB.autodiscoverFile, renderAutodiscoverXml({ hostname })),
        ]
      : []),
    ...(s.mtaSts ? [file(WEB.mtaStsFile, renderMtaStsPolicy(s.mtaSts, hostname))] : []),
  ];
}
