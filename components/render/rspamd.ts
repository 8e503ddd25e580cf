// Rspamd's configuration as a pure function of plain settings: files under
// /etc/rspamd/local.d (merged into Rspamd's defaults) and, where a default
// must be replaced rather than merged, /etc/rspamd/override.d. Templates live
// in files/mail/rspamd. Rspamd (Debian 12: 3.4) is the milter on loopback;
// its state is in Redis (Debian's redis-server with its own configuration:
// loopback only, data in /var/lib/redis).
//
// Nothing that needs the internet runs: each module below that would reach
// it is off or reads only the lists that ship with Rspamd, so the lab and
// the tests send no traffic outside (DNS to the resolver for SPF, DKIM,
// DMARC and ARC is the only lookup).
import { isDomainName, isIPv4 } from "./checks";
import { renderTemplate } from "./template";
import { RenderedFile } from "./types";

/** What the user configures (mail-system:filtering). */
export interface FilteringSettings {
  /** Score at or above which mail is refused at SMTP time (5xx with a reason). */
  readonly rejectScore: number;
  /** Score at or above which mail is delivered with X-Spam headers (Sieve files it into Junk). Below rejectScore. */
  readonly junkScore: number;
  /** Greylisting (Redis-backed): off by default. */
  readonly greylisting: boolean;
  /** Sender domains whose mail is never scored as spam, when SPF (envelope) or DMARC (From) authenticates them. */
  readonly allowDomains: readonly string[];
}

export const DEFAULT_FILTERING: FilteringSettings = { rejectScore: 15, junkScore: 6, greylisting: false, allowDomains: [] };

/**
 * The score of an authenticated allow-listed sender. Thresholds may not
 * exceed its size, so such mail never reaches junkScore by its content.
 */
export const ALLOW_SCORE = -100;

export interface RspamdSettings {
  readonly filtering: FilteringSettings;
  /**
   * The domains this server hosts: mail from outside (no SMTP login, not
   * from loopback) whose envelope sender or From header is one of them and
   * that our SPF (envelope) or DMARC (From) does not authenticate is refused.
   */
  readonly ownDomains: readonly string[];
  /** "stdout": a container (Rspamd logs to the console, stderr); "syslog": a host. */
  readonly logTo: "stdout" | "syslog";
  /**
   * IPv4 addresses of the name servers Rspamd asks itself, when the system's
   * resolver is only a forwarder to them (Docker's embedded DNS, which every
   * query would otherwise cross: Rspamd makes about nine a message).
   * @default the system's resolver (/etc/resolv.conf)
   */
  readonly nameservers?: readonly string[];
}

/** Where Rspamd's milter (its proxy worker) listens. */
export const RSPAMD_MILTER = { host: "127.0.0.1", port: 11332 } as const;

/** Where Postfix and rspamc reach Rspamd, and Rspamd reaches Redis: loopback only. */
export const RSPAMD = { milter: `inet:${RSPAMD_MILTER.host}:${RSPAMD_MILTER.port}`, controller: "127.0.0.1:11334", redis: "127.0.0.1:6379" } as const;

/** The scanner rspamc uses by default (`rspamc -h` to choose another). */
const NORMAL_WORKER = "127.0.0.1:11333";

export const RSPAMD_DIR = "/etc/rspamd";
const LOCAL = `${RSPAMD_DIR}/local.d`;
const OVERRIDE = `${RSPAMD_DIR}/override.d`;
export const RSPAMD_MAPS = {
  ownDomains: `${LOCAL}/maps.d/own-domains.map`,
  allowDomains: `${LOCAL}/maps.d/allow-domains.map`,
  freemail: `${LOCAL}/maps.d/freemail.map`,
  disposable: `${LOCAL}/maps.d/disposable.map`,
} as const;

/** The SMTP replies (after 5.7.1) of refused messages. */
export const RSPAMD_MESSAGES = {
  spam: "Message refused as spam by this server's filter",
  forged: "Sender address in a domain of this server, but not sent through it (SPF/DMARC do not authenticate it)",
  dmarc: "Refused by the sender domain's DMARC policy (p=reject): neither SPF nor DKIM authenticates its From domain",
} as const;

/** Modules of Rspamd 3.4 that are on by default and reach the internet; each is turned off, with the reason in its file. */
export const RSPAMD_DISABLED_MODULES: Readonly<Record<string, string>> = {
  rbl: "DNS blocklists (Spamhaus, DNSWL, mailspike, ...) and, since 3.x, the URL (SURBL/URIBL) and e-mail lists that the surbl and emails modules become: queries to public list servers, which refuse open resolvers anyway.",
  fuzzy_check: "fuzzy hashes of every message sent to fuzzy1/fuzzy2.rspamd.com.",
  asn: "a DNS query per message to asn.rspamd.com / asn6.rspamd.com.",
  whitelist: "its lists of well-known senders are downloaded from https://maps.rspamd.com (mail-system:filtering allowDomains is the allow list).",
  url_redirector: "follows shortened links found in messages over HTTP(S).",
  dkim_signing: "OpenDKIM signs outgoing mail; no second signer.",
};

// Rspamd's stock freemail and disposable multimap rules: type and header of each.
const FREEMAIL_RULES: readonly (readonly [name: string, type: "from" | "rcpt" | "header", header?: string])[] = [
  ["envfrom", "from"],
  ["envrcpt", "rcpt"],
  ["from", "header", "from"],
  ["to", "header", "To"],
  ["cc", "header", "Cc"],
  ["replyto", "header", "Reply-To"],
];

function isNumber(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

/** Every problem of a mail-system:filtering value, each with its field ("rejectScore", "allowDomains[2]", ...). */
export function filteringProblems(f: object): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const v = f as Record<string, unknown>;
  const known = new Set(Object.keys(DEFAULT_FILTERING));
  for (const key of Object.keys(v)) if (!known.has(key)) problems.push({ field: key, message: `unknown field (known: ${[...known].join(", ")})` });
  for (const key of ["rejectScore", "junkScore"] as const) {
    const n = v[key];
    if (n === undefined) continue;
    if (!isNumber(n) || n <= 0) problems.push({ field: key, message: `must be a number greater than 0, not ${JSON.stringify(n)}` });
    else if (n > -ALLOW_SCORE) problems.push({ field: key, message: `must be at most ${-ALLOW_SCORE} (an allow-listed sender scores ${ALLOW_SCORE})` });
  }
  const reject = v.rejectScore ?? DEFAULT_FILTERING.rejectScore;
  const junk = v.junkScore ?? DEFAULT_FILTERING.junkScore;
  if (isNumber(reject) && isNumber(junk) && reject > 0 && junk > 0 && junk >= reject) {
    problems.push({ field: "junkScore", message: `must be below rejectScore (${reject}), not ${junk}` });
  }
  if (v.greylisting !== undefined && typeof v.greylisting !== "boolean") {
    problems.push({ field: "greylisting", message: `must be true or false, not ${JSON.stringify(v.greylisting)}` });
  }
  const domains = v.allowDomains;
  if (domains !== undefined) {
    if (!Array.isArray(domains)) problems.push({ field: "allowDomains", message: "must be a list of domains" });
    else {
      const seen = new Set<string>();
      domains.forEach((d: unknown, i) => {
        const field = `allowDomains[${i}]`;
        if (typeof d !== "string" || !isDomainName(d)) problems.push({ field, message: `${JSON.stringify(d)} is not a domain name` });
        else if (d !== d.toLowerCase()) problems.push({ field, message: `${JSON.stringify(d)} must be lower-case (${d.toLowerCase()})` });
        else if (seen.has(d)) problems.push({ field, message: `${d} is listed twice` });
        else seen.add(d);
      });
    }
  }
  return problems;
}

/** The greylist action's score when greylisting is on: two thirds of junkScore (Rspamd's own 4 for 6), one decimal. */
export function greylistScore(f: FilteringSettings): number {
  return Math.round((f.junkScore * 2 * 10) / 3) / 10;
}

function fail(message: string): never {
  throw new Error(`rspamd settings: ${message}`);
}

const domainList = (domains: readonly string[]) =>
  `# Rendered by mail-system (components/render/rspamd.ts): one domain a line.\n${domains.map((d) => `${d}\n`).join("")}`;

function freemailRules(kind: "freemail" | "disposable"): string {
  const map = RSPAMD_MAPS[kind];
  return FREEMAIL_RULES.map(([name, type, header]) => {
    const symbol = `${kind.toUpperCase()}_${name.toUpperCase()}`;
    const lines = [`  type = "${type}";`, ...(header ? [`  header = "${header}";`] : []), '  filter = "email:domain";', `  map = "${map}";`, `  symbol = "${symbol}";`, "  score = 0.0;"];
    return `${kind}_${name} {\n${lines.join("\n")}\n}`;
  }).join("\n");
}

/** Rspamd's files: local.d (merged into its defaults), override.d (replacing a default), the domain lists. Owner root, group _rspamd, 0640. */
export function renderRspamdFiles(s: RspamdSettings): RenderedFile[] {
  const f = s.filtering;
  const problems = filteringProblems(f);
  if (problems.length > 0) fail(problems.map((p) => `filtering.${p.field}: ${p.message}`).join("; "));
  if (s.ownDomains.length === 0) fail("no own domain");
  for (const d of s.ownDomains) if (!isDomainName(d) || d !== d.toLowerCase()) fail(`own domain ${JSON.stringify(d)} is not a lower-case domain name`);
  if (s.logTo !== "stdout" && s.logTo !== "syslog") fail(`logTo must be "stdout" or "syslog"`);
  const nameservers = s.nameservers ?? [];
  for (const n of nameservers) if (!isIPv4(n)) fail(`nameserver ${JSON.stringify(n)} is not an IPv4 address`);

  const file = (path: string, content: string): RenderedFile => ({ path, content, owner: "root", group: "_rspamd", mode: "0640" });
  const t = (name: string, values: Record<string, string | number> = {}) => renderTemplate(`mail/rspamd/${name}`, values);
  const milterHostPort = `${RSPAMD_MILTER.host}:${RSPAMD_MILTER.port}`;
  return [
    // override.d: merged, Rspamd's private ranges would stay in local_addrs.
    file(
      `${OVERRIDE}/options.inc`,
      t("options.inc", {
        dns: nameservers.length === 0 ? "" : `\n# Asked directly, not through the system's forwarder.\ndns {\n  nameserver = [${nameservers.map((n) => `"${n}"`).join(", ")}];\n}\n`,
      }),
    ),
    file(
      `${LOCAL}/logging.inc`,
      t("logging.inc", s.logTo === "syslog" ? { type: "syslog", facility: 'facility = "mail";\n' } : { type: "console", facility: "" }),
    ),
    // Workers in override.d: Rspamd's own bind_socket ("localhost:...") would
    // be merged with ours, not replaced.
    file(`${OVERRIDE}/worker-proxy.inc`, t("worker-proxy.inc", { milter: milterHostPort, rejectMessage: RSPAMD_MESSAGES.spam })),
    file(`${OVERRIDE}/worker-normal.inc`, t("worker-normal.inc", { normal: NORMAL_WORKER })),
    file(`${OVERRIDE}/worker-controller.inc`, t("worker-controller.inc", { controller: RSPAMD.controller })),
    file(`${LOCAL}/redis.conf`, t("redis.conf", { redis: RSPAMD.redis })),
    file(`${LOCAL}/classifier-bayes.conf`, t("classifier-bayes.conf")),
    // override.d: a merge would keep Rspamd's own thresholds next to ours.
    file(
      `${OVERRIDE}/actions.conf`,
      t("actions.conf", { reject: f.rejectScore, addHeader: f.junkScore, greylist: f.greylisting ? greylistScore(f) : "null" }),
    ),
    file(`${LOCAL}/greylist.conf`, t("greylist.conf", { enabled: f.greylisting ? "true" : "false" })),
    file(`${LOCAL}/milter_headers.conf`, t("milter_headers.conf")),
    file(`${LOCAL}/dmarc.conf`, t("dmarc.conf")),
    file(`${LOCAL}/multimap.conf`, t("multimap.conf", { ownDomainsMap: RSPAMD_MAPS.ownDomains, allowDomainsMap: RSPAMD_MAPS.allowDomains })),
    file(`${LOCAL}/composites.conf`, t("composites.conf", { allowScore: ALLOW_SCORE.toFixed(1) })),
    file(`${LOCAL}/force_actions.conf`, t("force_actions.conf", { forgedMessage: RSPAMD_MESSAGES.forged, dmarcMessage: RSPAMD_MESSAGES.dmarc })),
    file(`${LOCAL}/settings.conf`, t("settings.conf")),
    file(RSPAMD_MAPS.ownDomains, domainList([...s.ownDomains].sort())),
    file(RSPAMD_MAPS.allowDomains, domainList([...f.allowDomains].sort())),
    file(RSPAMD_MAPS.freemail, domainList([])),
    file(RSPAMD_MAPS.disposable, domainList([])),
    ...Object.entries(RSPAMD_DISABLED_MODULES).map(([module, why]) => file(`${LOCAL}/${module}.conf`, t("disabled.conf", { why }))),
    // override.d: these replace the stock definitions that download from maps.rspamd.com.
    file(`${OVERRIDE}/multimap.conf`, t("freemail-override.conf", { rules: `${freemailRules("freemail")}\n${freemailRules("disposable")}` })),
    file(`${OVERRIDE}/mime_types.conf`, t("mime_types-override.conf")),
    file(`${OVERRIDE}/mid.conf`, t("mid-override.conf")),
    file(`${OVERRIDE}/phishing.conf`, t("phishing-override.conf")),
  ];
}
