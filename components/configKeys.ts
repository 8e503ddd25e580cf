// Every key of the stack configuration, once: its type, default and
// description (Pulumi.yaml's `config:` section must say the same:
// tests/unit/pulumiYaml.test.ts) and how its value is checked on its own.
// Rules that relate several keys are in configRules.ts.
import * as fs from "fs";
import * as path from "path";
import { BASE_IMAGE } from "./baseImage";
import { HOSTS_SHAPE, parseHosts, PRIVATE_KEY } from "./configHosts";
import {
  parseAliasDomains,
  parseAliases,
  parseMailDomains,
  parseUsers,
  SIZE_MESSAGE,
  USERS_SHAPE,
} from "./configMailboxes";
import { parseRecords, RECORD_SHAPE, USER_RECORD_TYPES } from "./configRecords";
import { booleanKey, ConfigKey, listKey, objectKey, PROJECT, Report, stringKey } from "./configSchema";
import { createPrivateKey } from "crypto";
import { isDnsLabel, isDomainName, isIPv4, parseSize } from "./render/checks";
import { DEFAULT_LIMITS, LIMIT_NAMES, limitProblems, MailLimits } from "./render/mailGuard";
import { DEFAULT_MTA_STS_MAX_AGE, isTlsRptUri, MAX_MTA_STS_MAX_AGE, MTA_STS_MODES, MtaStsMode, MtaStsPolicy } from "./render/mtaSts";
import { DEFAULT_FILTERING, FilteringSettings, filteringProblems } from "./render/rspamd";
import { backupProblems, backupSettings, BackupSettings, DEFAULT_BACKUP_INTERVAL_MINUTES, DEFAULT_BACKUP_RETENTION } from "./render/backup";
import { acmeProblems, acmeSettings, AcmeSettings, DEFAULT_ACME_CHECK_SECONDS } from "./render/acme";
import { parseSubnet } from "./subnet";

/** The project's root directory, against which relative paths in the configuration resolve. */
export const PROJECT_ROOT = path.join(__dirname, "..");

/** A single DNS label, lower-cased (host labels, the DKIM selector). */
function label(value: string, report: Report): string | undefined {
  const v = value.toLowerCase();
  return isDnsLabel(v) ? v : void report(`"${v}" is not a single DNS label (letters, digits, hyphens)`);
}

function ipv4(value: string, report: Report): string | undefined {
  return isIPv4(value) ? value : void report(`"${value}" is not an IPv4 address`);
}

const printable = (value: string) => !/[^\x20-\x7e]/.test(value);

const LIMITS_SHAPE = `{ ${LIMIT_NAMES.map((n) => `${n}?`).join(", ")} }`;
const LIMITS_DESCRIPTION = LIMIT_NAMES.map((n) => `${n} (default ${DEFAULT_LIMITS[n]})`).join(", ");

/** `limits`: the defaults with the fields set; each field checked. */
function parseLimits(value: Readonly<Record<string, unknown>>, report: Report): MailLimits | undefined {
  for (const k of Object.keys(value)) {
    if (!(LIMIT_NAMES as readonly string[]).includes(k)) report(`is not a known limit (${LIMIT_NAMES.join(", ")})`, `.${k}`);
  }
  // The CLI sets path values as strings ("10").
  const number = (v: unknown) => (typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v);
  const set = Object.fromEntries(LIMIT_NAMES.filter((n) => value[n] !== undefined && value[n] !== null).map((n) => [n, number(value[n])]));
  const limits = { ...DEFAULT_LIMITS, ...set };
  const problems = limitProblems(limits);
  for (const p of problems) report(p.message, `.${p.field}`);
  return problems.length === 0 && Object.keys(value).every((k) => (LIMIT_NAMES as readonly string[]).includes(k)) ? limits : undefined;
}

/** `filtering`: the defaults with the fields set; each field checked. */
function parseFiltering(value: Readonly<Record<string, unknown>>, report: Report): FilteringSettings | undefined {
  // The CLI sets path values as strings ("8", "true").
  const typed = Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => [
        k,
        typeof v !== "string" ? v : /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v === "true" ? true : v === "false" ? false : v,
      ]),
  );
  const problems = filteringProblems(typed);
  for (const p of problems) report(p.message, `.${p.field}`);
  return problems.length === 0 ? { ...DEFAULT_FILTERING, ...typed } : undefined;
}

/** `mtaSts`: off when empty; else a mode (required) and a max age in seconds. */
function parseMtaSts(value: Readonly<Record<string, unknown>>, report: Report): MtaStsPolicy | undefined {
  if (Object.keys(value).length === 0) return undefined;
  let problems = 0;
  const problem = (message: string, part: string) => {
    problems++;
    report(message, part);
  };
  for (const k of Object.keys(value)) if (k !== "mode" && k !== "maxAge") problem("is not a field of mtaSts (mode, maxAge)", `.${k}`);
  const mode = value.mode;
  if (!(MTA_STS_MODES as readonly unknown[]).includes(mode)) problem(`must be one of ${MTA_STS_MODES.join(", ")}, not ${JSON.stringify(mode)}`, ".mode");
  // The CLI sets path values as strings ("86400").
  const raw = value.maxAge ?? DEFAULT_MTA_STS_MAX_AGE;
  const maxAge = typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof maxAge !== "number" || !Number.isInteger(maxAge) || maxAge < 86400 || maxAge > MAX_MTA_STS_MAX_AGE) {
    problem(`must be a whole number of seconds from 86400 (a day) to ${MAX_MTA_STS_MAX_AGE} (a year), not ${JSON.stringify(raw)}`, ".maxAge");
  }
  return problems === 0 ? { mode: mode as MtaStsMode, maxAgeSeconds: maxAge as number } : undefined;
}

/** A DKIM key given in the configuration rather than made by the program. */
export interface GivenDkimKey {
  readonly domain: string;
  /** Absent: mail-system:dkimSelector. */
  readonly selector?: string;
  /** PEM; secret. */
  readonly privateKey: string;
}

/** `dkimKeys`: each entry a domain, maybe a selector, and an RSA key of at least 1024 bits. */
function parseDkimKeys(list: readonly unknown[], report: Report): (GivenDkimKey | undefined)[] {
  return list.map((entry, i) => {
    const at = (message: string, part = "") => report(message, `[${i}]${part}`);
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return void at("must be an object { domain, selector?, privateKey }");
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!["domain", "selector", "privateKey"].includes(k)) at("is not a field (domain, selector, privateKey)", `.${k}`);
    const domain = typeof e.domain === "string" ? e.domain.trim().toLowerCase() : "";
    if (!isDomainName(domain)) at(`${JSON.stringify(e.domain)} is not a domain name`, ".domain");
    // `pulumi config set --path` makes a selector of digits ("2024") a number.
    const selector = typeof e.selector === "string" || typeof e.selector === "number" ? String(e.selector).trim().toLowerCase() : undefined;
    if (e.selector !== undefined && (selector === undefined || !isDnsLabel(selector))) at(`${JSON.stringify(e.selector)} is not a single DNS label`, ".selector");
    const problem = rsaKeyProblem(e.privateKey);
    if (problem) at(problem, ".privateKey");
    if (!isDomainName(domain) || (e.selector !== undefined && !isDnsLabel(selector ?? "")) || problem) return undefined;
    return { domain, ...(selector ? { selector } : {}), privateKey: e.privateKey as string };
  });
}

/** Why a value is not an RSA private key DKIM can sign with, or undefined. */
function rsaKeyProblem(pem: unknown): string | undefined {
  if (typeof pem !== "string") return "is required: the RSA private key in PEM";
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== "rsa") return `is a ${key.asymmetricKeyType} key: DKIM here signs with RSA (rsa-sha256)`;
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits < 1024 ? `is ${bits} bits: receivers ignore RSA keys under 1024 bits (RFC 8301)` : undefined;
  } catch {
    return "is not a PEM private key";
  }
}

/** The CLI sets path values as strings ("60"): whole numbers among them become numbers. */
const numbers = (value: Readonly<Record<string, unknown>>, fields: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fields.includes(k) && typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v]));

/** `backup`: off when empty; else the repository and its password, with the schedule and retention. */
function parseBackup(value: Readonly<Record<string, unknown>>, report: Report): BackupSettings | undefined {
  if (Object.keys(value).length === 0) return undefined;
  const keep = value.keep;
  const typed = numbers(
    { ...value, ...(typeof keep === "object" && keep !== null && !Array.isArray(keep) ? { keep: numbers(keep as Record<string, unknown>, ["daily", "weekly", "monthly"]) } : {}) },
    ["intervalMinutes", "staleMinutes"],
  );
  const problems = backupProblems(typed);
  for (const p of problems) report(p.message, `.${p.field}`);
  return problems.length === 0 ? backupSettings(typed) : undefined;
}

/** `acme`: off when empty; else the CA's directory and the account's address, with the challenge and schedule. */
function parseAcme(value: Readonly<Record<string, unknown>>, report: Report): AcmeSettings | undefined {
  if (Object.keys(value).length === 0) return undefined;
  // The CLI sets path values as strings ("43200").
  const typed = numbers(value, ["checkSeconds"]);
  const problems = acmeProblems(typed);
  for (const p of problems) report(p.message, `.${p.field}`);
  return problems.length === 0 ? acmeSettings(typed) : undefined;
}

export const CONFIG_KEYS = {
  target: stringKey(
    {
      default: "docker",
      description:
        'Where the servers go: "docker" (containers on the local Docker engine, on the lab network below) ' +
        'or "ssh" (Linux hosts reached over SSH, see hosts).',
    },
    (v, report) => (v === "docker" || v === "ssh" ? v : void report(`must be "docker" or "ssh", not ${JSON.stringify(v)}`)),
  ),
  hosts: objectKey(
    {
      default: {},
      target: "ssh",
      shape: HOSTS_SHAPE,
      description:
        "target ssh: the host of each role, { dns, db, mail }, each { address, user?, port?, privateKey?, " +
        "hostKey? }. address is the host's IPv4 address (SSH connects to it, the role's services listen " +
        "on it); user (default root) logs in with the private key and must be root or have passwordless " +
        "sudo; port defaults to 22; hostKey (\"ssh-ed25519 AAAA...\" or ECDSA) pins the host's key, else the " +
        "key the host presents first is recorded in the stack and required from then on. Roles may share " +
        "a host. Debian/Ubuntu (apt) and RHEL/Rocky/Alma (dnf) are supported; systemd is used when it is " +
        "PID 1, else the distribution's service scripts. Set keys as secrets: `pulumi config set --secret " +
        "--path 'hosts.mail.privateKey' < key`.",
    },
    parseHosts,
  ),
  sshPrivateKey: stringKey(
    {
      default: "",
      target: "ssh",
      description:
        "target ssh: the private key of every host without its own hosts.<role>.privateKey. Set it as a " +
        "secret (`pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`).",
    },
    (v, report) => (!v || PRIVATE_KEY.test(v) ? v : void report("is not a PEM or OpenSSH private key")),
  ),
  purgeMailOnDestroy: booleanKey({
    default: false,
    description:
      "Whether `pulumi destroy` deletes all mail (/var/mail/vhosts). By default the mail is kept (the " +
      "container's volume, or the host's directory) and is there again on the next `up`.",
  }),
  domain: stringKey(
    { description: "The DNS zone the system serves (BIND is authoritative for it), e.g. rockylinux.me." },
    (v, report) => {
      const d = v.toLowerCase();
      return isDomainName(d) ? d : void report(`"${d}" is not a valid domain name`);
    },
  ),
  mailDomains: listKey(
    {
      items: "string",
      default: [],
      description:
        "Domains whose mail the server accepts (virtual_domains rows); each is the zone or inside it. " +
        "Empty means just the zone.",
    },
    parseMailDomains,
  ),
  users: listKey(
    {
      items: "object",
      shape: USERS_SHAPE,
      description:
        "Mailboxes, each { email, password?, quota? }. A user without a password gets a generated one (see the " +
        "userPasswords output). Set one as a secret with `pulumi config set --secret --path " +
        "'users[0].password' ...`. quota (e.g. \"2G\", \"0\" for none) replaces mail-system:quota for that user.",
    },
    parseUsers,
  ),
  aliases: listKey(
    {
      items: "object",
      default: [],
      description:
        "Aliases, each { source, destination, sendAs? }: one row each, as in the virtual_aliases table; list a " +
        'source several times to fan out. A source "@domain" is a catch-all for the domain\'s other addresses. ' +
        "sendAs (default mail-system:aliasSenders) lets the destination send as the source on 587/465.",
    },
    parseAliases,
  ),
  aliasDomains: listKey(
    {
      items: "object",
      default: [],
      description:
        "Alias domains, each { domain, target }: every address at domain delivers to the same local part at " +
        "target (a mail domain), and its users may send from it. The domain is in the zone and gets the " +
        "records of a mail domain (MX, SPF, DMARC, its own DKIM key); it has no users or aliases of its own.",
    },
    parseAliasDomains,
  ),
  quota: stringKey(
    {
      default: "0",
      description:
        'Storage quota of every mailbox without one of its own (users[N].quota): a size such as "500M" or ' +
        '"2G", or "0" for none. Mail for a full mailbox is refused while the sender is still connected ' +
        "(552 5.2.2), and the user is warned at 90 %.",
    },
    (value, report) => {
      const bytes = parseSize(value);
      return bytes === undefined ? void report(`${JSON.stringify(value)} ${SIZE_MESSAGE}`) : bytes;
    },
  ),
  purgeRemovedMailboxes: booleanKey({
    default: false,
    description:
      "Whether removing a user from `users` also deletes their maildir. By default the mail is kept " +
      "(re-adding the user brings it back). Destroy removes every user, so with this on, `pulumi " +
      "destroy` deletes the maildirs of the users then configured.",
  }),
  aliasSenders: booleanKey({
    default: false,
    description:
      "Whether a user may send as an alias that delivers to them (envelope sender and From header), for " +
      "the aliases that do not say (aliases[N].sendAs). By default users send only as their own address on 587/465.",
  }),
  limits: objectKey(
    {
      default: {},
      shape: LIMITS_SHAPE,
      description:
        `Abuse limits, each a whole number (unset fields keep their defaults): ${LIMITS_DESCRIPTION}. ` +
        "On 25 per client address (past them, a 4xx: the sender retries later); on 587/465 per login; " +
        "failed logins (SMTP AUTH, IMAP, POP3) per client address, which is then refused, even with the " +
        "right password, for authBanMinutes.",
    },
    parseLimits,
  ),
  filtering: objectKey(
    {
      default: {},
      shape: "{ rejectScore?, junkScore?, greylisting?, allowDomains? }",
      description:
        `Spam filtering (Rspamd) of mail arriving on 25: rejectScore (default ${DEFAULT_FILTERING.rejectScore}), ` +
        `at or above which mail is refused with a 5xx and the reason; junkScore (default ` +
        `${DEFAULT_FILTERING.junkScore}), at or above which it is filed into the recipient's Junk folder; ` +
        "greylisting (default false); allowDomains (default none), sender domains never scored as spam when " +
        "SPF or DMARC authenticates them. Unset fields keep their defaults.",
    },
    parseFiltering,
  ),
  autoconfig: booleanKey({
    default: true,
    description:
      "Whether mail clients can set themselves up from an address: a web server (nginx) on the mail " +
      "server answers over HTTPS (443) with Thunderbird's autoconfig at autoconfig.<domain> and " +
      "Outlook's autodiscover at autodiscover.<domain> for every mail domain, and the zone gets their A " +
      "records and an _autodiscover._tcp SRV record. The per-stack certificate names those hosts; your " +
      "own (tlsCertificate) must name them too.",
  }),
  mtaSts: objectKey(
    {
      default: {},
      shape: "{ mode, maxAge? }",
      description:
        "MTA-STS (RFC 8461), off when unset: mode enforce (senders deliver only over TLS verified against " +
        "the public CAs), testing (they deliver anyway and report) or none (withdraws a policy); maxAge in " +
        `seconds (default ${DEFAULT_MTA_STS_MAX_AGE}, a week). The web server serves the policy at ` +
        "mta-sts.<domain> for every mail domain, the zone gets its A and _mta-sts TXT records, and the " +
        "certificate must name mta-sts.<domain> and be publicly trusted for enforce to deliver.",
    },
    parseMtaSts,
  ),
  acme: objectKey(
    {
      default: {},
      shape: "{ directory, email, challenge?, serverCaCertificate?, rootCertificate?, checkSeconds? }",
      description:
        "Certificates from an ACME CA (e.g. Let's Encrypt), off when unset (the per-stack CA's then). directory: " +
        "the CA's directory URL; email: the account's contact; challenge: dns-01 (default: answered by the " +
        "program's own BIND through a TSIG key it makes, in zones at _acme-challenge.<name> that the key may " +
        "change TXT records in and nothing else) or http-01 (lego answers on port 80 of the mail server). " +
        "The certificate names the mail host and the autoconfig/MTA-STS hosts, for the server's own key (the " +
        "TLSA record stays valid across renewals). mail-acme on the mail server renews it when a third of its " +
        `lifetime is left, looking every checkSeconds (default ${DEFAULT_ACME_CHECK_SECONDS}), and reloads ` +
        "Postfix, Dovecot and nginx; a failed renewal keeps the certificate served and makes the health check " +
        "fail with the reason. serverCaCertificate: the CA of the directory's HTTPS certificate, and " +
        "rootCertificate: the root its certificates chain to (the deploy check trusts it), for a private or test CA.",
    },
    parseAcme,
  ),
  backup: objectKey(
    {
      default: {},
      shape: "{ repository, password, intervalMinutes?, staleMinutes?, keep?, sftp?, environment? }",
      description:
        "Encrypted, deduplicated backups with restic, off when unset. repository: an absolute path (with " +
        "Docker a directory of the engine's machine, mounted into the servers; over SSH each host's own), " +
        "sftp:user@host:/path (with sftp: { privateKey, knownHosts }), or an s3:/rest:/b2:/azure:/gs:/swift: " +
        "URL with its credentials in environment (secret); password: the repository's (a secret, kept " +
        "outside the stack too: without it nothing restores). The mail server backs up the maildirs, the " +
        "queue, the DKIM keys, the certificates and the filter's state, the database server a dump of the " +
        `mail database, every intervalMinutes (default ${DEFAULT_BACKUP_INTERVAL_MINUTES}), keeping ` +
        `keep: { daily, weekly, monthly } snapshots (default ${DEFAULT_BACKUP_RETENTION.daily}, ${DEFAULT_BACKUP_RETENTION.weekly}, ` +
        `${DEFAULT_BACKUP_RETENTION.monthly}). Health fails when the last success is older than staleMinutes ` +
        "(default twice the interval and an hour). Restore with npm run backup -- restore.",
    },
    parseBackup,
  ),
  tlsReportsTo: listKey(
    {
      items: "string",
      default: [],
      description:
        "SMTP TLS reporting (RFC 8460): where sending servers report TLS and MTA-STS/DANE failures, " +
        "mailto:<address> or https://<url> URIs, published as _smtp._tls.<domain> TXT for every mail " +
        "domain. Empty: no record.",
    },
    (v, report) => {
      const uris = v.map((u, i) => (typeof u === "string" && isTlsRptUri(u.trim()) ? u.trim() : void report(`must be mailto:<address> or https://<url>, not ${JSON.stringify(u)}`, `[${i}]`)));
      return uris.every((u) => u !== undefined) ? (uris as string[]) : undefined;
    },
  ),
  dnsHost: stringKey({ default: "dns", description: "Host label of the DNS server in the zone (dns -> dns.<domain>)." }, label),
  mailHost: stringKey(
    { default: "mail", description: "Host label of the mail server in the zone (mail -> mail.<domain>); the MX target." },
    label,
  ),
  subnet: stringKey(
    { default: "192.168.100.0/24", description: "The lab's Docker network. Its first address is the gateway (the Docker host)." },
    (v, report) => {
      const subnet = parseSubnet(v);
      return typeof subnet === "string" ? void report(subnet) : subnet;
    },
  ),
  dnsAddress: stringKey({ default: "192.168.100.7", target: "docker", description: "The DNS server's address in the subnet." }, ipv4),
  dbAddress: stringKey({ default: "192.168.100.5", target: "docker", description: "The database server's address in the subnet." }, ipv4),
  mailAddress: stringKey({ default: "192.168.100.6", target: "docker", description: "The mail server's address in the subnet." }, ipv4),
  baseImage: stringKey(
    {
      default: BASE_IMAGE,
      description:
        "Base image of every image the program builds (scripts/setup.sh makes it locally when it cannot " +
        "be pulled).",
    },
    (v, report) => (/^[a-z0-9][a-z0-9._/:@-]*$/.test(v) ? v : void report(`"${v}" is not an image reference`)),
  ),
  databaseImage: stringKey(
    {
      default: "files/image",
      description:
        "Directory (relative to the project) whose Dockerfile builds the database server: MariaDB from " +
        "Debian by default. Any MySQL-compatible image honouring the contract of " +
        "DockerPlacement.imageContexts (components/targets/docker.ts), e.g. MySQL 8.0 as in the seed, can " +
        "replace it. Used by target docker only.",
    },
    (v, report) => {
      const dir = path.resolve(PROJECT_ROOT, v);
      return fs.existsSync(path.join(dir, "Dockerfile")) ? dir : void report(`${dir} has no Dockerfile`);
    },
  ),
  tlsCertificate: stringKey(
    {
      default: "",
      description:
        "Your own PEM certificate chain for the mail host (e.g. from Let's Encrypt). Empty means a " +
        "per-stack CA issues one.",
    },
    (v, report) =>
      !v || /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(v) ? v : void report("is not a PEM certificate (chain)"),
  ),
  tlsPrivateKey: stringKey(
    {
      default: "",
      description:
        "The private key of tlsCertificate (PEM). Set it as a secret (`pulumi config set --secret " +
        "tlsPrivateKey < key.pem`); the program treats it as one.",
    },
    (v, report) =>
      !v || /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+-----END (?:RSA |EC )?PRIVATE KEY-----/.test(v)
        ? v
        : void report("is not a PEM private key"),
  ),
  namePrefix: stringKey(
    { default: "", description: "Prefix of the Docker objects' names; empty means mail-system-<stack>." },
    (v, report, { stack }) => {
      const prefix = (v || `${PROJECT}-${stack}`).toLowerCase();
      return /^[a-z0-9][a-z0-9_.-]{0,40}$/.test(prefix)
        ? prefix
        : void report(`"${prefix}" must be 1-41 characters of a-z, 0-9, _ . - (a Docker name prefix)`);
    },
  ),
  spf: stringKey(
    {
      // Only the mail server (the domain's MX) sends for a mail domain; anything else fails SPF.
      default: "v=spf1 mx -all",
      keepsEmpty: true,
      description:
        "SPF record (TXT) published at every mail domain: by default only the domain's MX (the mail " +
        'server) may send for it. Must start with "v=spf1"; "" publishes none.',
    },
    (v, report) => {
      if (v && !/^v=spf1( |$)/i.test(v)) return void report(`"${v}" must start with "v=spf1" (RFC 7208), or be "" for no record`);
      return printable(v) ? v : void report("must be printable ASCII on one line");
    },
  ),
  dmarc: stringKey(
    {
      // Failing mail goes to spam rather than being refused while a domain starts out;
      // aggregate reports go to the zone's postmaster ({zone} is the zone's name).
      default: "v=DMARC1; p=quarantine; rua=mailto:postmaster@{zone}",
      keepsEmpty: true,
      description:
        "DMARC record (TXT) published at _dmarc.<domain> of every mail domain; {zone} stands for the " +
        "zone's name. By default mail failing SPF alignment is quarantined and daily aggregate reports go " +
        'to postmaster@<zone>. Must start with "v=DMARC1; p=..."; "" publishes none.',
    },
    (v, report) => {
      if (!v) return v;
      // RFC 7489's grammar: v=DMARC1 first, then the policy (none, quarantine or reject).
      const tags = v.split(";").map((t) => t.trim().replace(/\s*=\s*/, "="));
      if (tags[0] !== "v=DMARC1") return void report(`"${v}" must start with "v=DMARC1;" (RFC 7489), or be "" for no record`);
      if (!/^p=(none|quarantine|reject)$/.test(tags[1] ?? "")) {
        return void report(`"${v}" needs p=none, p=quarantine or p=reject right after v=DMARC1`);
      }
      return printable(v) ? v : void report("must be printable ASCII on one line");
    },
  ),
  dkimSelector: stringKey(
    {
      default: "mail",
      description:
        "DKIM selector: outgoing mail from logged-in users is signed with one RSA 2048 key per mail " +
        "domain, published as TXT at <dkimSelector>._domainkey.<domain>. A single DNS label. To roll " +
        "keys over, publish the new selector first (dkimPublishedSelectors), then make it dkimSelector " +
        "and keep the old one published until mail it signed has been read.",
    },
    // One label of <selector>._domainkey.<domain>.
    label,
  ),
  dkimPublishedSelectors: listKey(
    {
      items: "string",
      default: [],
      description:
        "DKIM selectors whose keys are made and published but do not sign: the next key of a rollover " +
        "before it signs, the previous one while mail it signed may still be verified. Removing one " +
        "deletes its keys and records.",
    },
    (v, report) => {
      const labels = v.map((s, i) =>
        typeof s === "string" && isDnsLabel(s.trim().toLowerCase()) ? s.trim().toLowerCase() : void report(`${JSON.stringify(s)} is not a single DNS label`, `[${i}]`),
      );
      return labels.every((l) => l !== undefined) ? (labels as string[]) : undefined;
    },
  ),
  dkimKeys: listKey(
    {
      items: "object",
      default: [],
      description:
        "DKIM keys to sign with instead of keys the program makes: { domain, selector?, privateKey } " +
        "(an RSA private key in PEM, set as a secret; selector defaults to dkimSelector), such as the keys " +
        "npm run backup -- dkim-keys takes from a backup into a new stack, or an old server's. The zone " +
        "publishes their public keys, and they sign at once: their records are the ones receivers know.",
    },
    parseDkimKeys,
  ),
  dkimRolloverWait: stringKey(
    {
      default: "24",
      description:
        "Hours a new DKIM key is published before it signs: after dkimSelector changes to a newer key, " +
        "each domain signs with its previous key until then (pulumi up says until when; the first up " +
        "after it switches). 0 signs at once.",
    },
    (v, report) => (/^\d{1,4}$/.test(v) && Number(v) <= 8760 ? Number(v) : void report(`must be a whole number of hours from 0 to 8760, not ${JSON.stringify(v)}`)),
  ),
  dnssec: booleanKey({
    default: true,
    description:
      "Whether BIND signs the zone (DNSSEC, ECDSA P-256, one key made once and kept in the stack's state). " +
      "Publish the DS record of the manualRecords output at the parent to make resolvers validate it; until " +
      "then the zone is simply unsigned to them.",
  }),
  records: listKey(
    {
      items: "object",
      default: [],
      description:
        `Records of your own in the zone, each ${RECORD_SHAPE} with the name relative to the zone ("@" ` +
        `for the apex) and type ${USER_RECORD_TYPES.join(", ")}; MX and SRV take a priority. Served ` +
        "next to the records the program publishes, which they may not duplicate or contradict.",
    },
    parseRecords,
  ),
} as const;

export type ConfigKeyName = keyof typeof CONFIG_KEYS;

/** Each key's value as read: undefined when unusable (and reported) or not read for the target. */
export type ParsedConfig = {
  readonly [K in ConfigKeyName]?: (typeof CONFIG_KEYS)[K] extends ConfigKey<infer T> ? T : never;
};

export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKeyName[];

export function isConfigKey(name: string): name is ConfigKeyName {
  return Object.hasOwn(CONFIG_KEYS, name);
}
