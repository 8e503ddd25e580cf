// The rules that relate several keys of the stack configuration. Each runs on
// the values that passed their own checks (configKeys.ts) and skips what did
// not, so one mistake is reported once.
import { ROLES } from "./configHosts";
import { ParsedConfig } from "./configKeys";
import { recordsFitTheZone } from "./configRecords";
import { splitAddress } from "./render/checks";
import { AUTOCONFIG_LABELS } from "./render/mailRecords";
import { hostAddressProblem } from "./subnet";

/** Reports a problem against a key, e.g. ("users[1].email", "..."). */
export type KeyReport = (key: string, message: string) => void;
export type ConfigRule = (config: ParsedConfig, report: KeyReport) => void;

const defined = <T>(v: T | undefined): v is T => v !== undefined;

/** The domains whose mail is served: mailDomains, or else the zone itself. */
export function servedDomains(c: ParsedConfig): string[] {
  const listed = c.mailDomains ?? [];
  if (listed.length > 0) return listed.filter(defined);
  return c.domain ? [c.domain] : [];
}

/** dns.<zone> and mail.<zone> are different hosts. */
export const hostLabelsDiffer: ConfigRule = (c, report) => {
  if (c.dnsHost && c.dnsHost === c.mailHost) report("mailHost", `must differ from dnsHost ("${c.dnsHost}")`);
};

/**
 * With autoconfig, autoconfig.<zone> and autodiscover.<zone> are the web
 * server's names, and with MTA-STS mta-sts.<zone>: no server may be called so.
 */
export const hostLabelsFree: ConfigRule = (c, report) => {
  if (!c.domain || !servedDomains(c).includes(c.domain)) return;
  const taken: [string, string][] = [
    ...((c.autoconfig ?? true) ? AUTOCONFIG_LABELS.map((l): [string, string] => [l, "a name mail clients look their settings up at (mail-system:autoconfig)"]) : []),
    ...(c.mtaSts ? [["mta-sts", "where senders fetch the MTA-STS policy (mail-system:mtaSts)"] as [string, string]] : []),
  ];
  for (const key of ["dnsHost", "mailHost"] as const) {
    const why = taken.find(([l]) => l === c[key])?.[1];
    if (why) report(key, `"${c[key]}" is ${why}: choose another`);
  }
};

/** BIND serves the zone only, so each mail domain is the zone or inside it. */
export const mailDomainsInZone: ConfigRule = (c, report) => {
  const zone = c.domain;
  if (!zone) return;
  (c.mailDomains ?? []).forEach((d, i) => {
    if (d && d !== zone && !d.endsWith(`.${zone}`)) report(`mailDomains[${i}]`, `"${d}" is not in the zone "${zone}" this system serves`);
  });
};

/** Why `address` cannot be a mailbox or an alias source, if it cannot. */
function notServed(c: ParsedConfig, address: string): string | undefined {
  const served = servedDomains(c);
  const domain = splitAddress(address)!.domain;
  if (served.includes(domain)) return undefined;
  const alias = (c.aliasDomains ?? []).find((a) => a?.domain === domain);
  if (alias) return `"${domain}" is an alias domain of ${alias.target}: its addresses are those of ${alias.target}`;
  return `the domain of "${address}" is not served (mailDomains: ${served.join(", ") || "none"})`;
}

/** A mailbox's domain is one the server accepts mail for. */
export const usersInServedDomains: ConfigRule = (c, report) => {
  (c.users ?? []).forEach((u, i) => {
    const problem = u && notServed(c, u.email);
    if (problem) report(`users[${i}].email`, problem);
  });
};

/** An alias's source is in a served domain (its destination may be anywhere). */
export const aliasSourcesServed: ConfigRule = (c, report) => {
  (c.aliases ?? []).forEach((a, i) => {
    const problem = a && notServed(c, a.source);
    if (problem) report(`aliases[${i}].source`, problem);
  });
};

/** An alias domain is in the zone, is not a mail domain itself, and mirrors one. */
export const aliasDomainsFit: ConfigRule = (c, report) => {
  const served = servedDomains(c);
  const zone = c.domain;
  (c.aliasDomains ?? []).forEach((a, i) => {
    if (!a) return;
    if (zone && a.domain !== zone && !a.domain.endsWith(`.${zone}`)) report(`aliasDomains[${i}].domain`, `"${a.domain}" is not in the zone "${zone}" this system serves`);
    if (served.includes(a.domain)) report(`aliasDomains[${i}].domain`, `"${a.domain}" is a mail domain (mailDomains): it cannot also be an alias domain`);
    if (!served.includes(a.target)) report(`aliasDomains[${i}].target`, `"${a.target}" is not a mail domain (mailDomains: ${served.join(", ") || "none"})`);
  });
};

const ADDRESS_KEYS = ["dnsAddress", "dbAddress", "mailAddress"] as const;

/** target docker: each server's address is a host address of the lab's subnet, not its gateway. */
export const addressesInSubnet: ConfigRule = (c, report) => {
  if (!c.subnet) return;
  for (const key of ADDRESS_KEYS) {
    const problem = c[key] && hostAddressProblem(c.subnet, c[key]);
    if (problem) report(key, problem);
  }
};

/** target docker: the three servers have three addresses. */
export const addressesDistinct: ConfigRule = (c, report) => {
  const seen = new Map<string, string>();
  for (const key of ADDRESS_KEYS) {
    const address = c[key];
    if (!address) continue;
    const other = seen.get(address);
    if (other) report(key, `${address} is already the address of ${other}`);
    else seen.set(address, key);
  }
};

/** target ssh: every host has a private key, its own or the stack's sshPrivateKey. */
export const sshHostsHaveKeys: ConfigRule = (c, report) => {
  // An sshPrivateKey that is set but invalid is reported against itself only.
  if (!c.hosts || c.sshPrivateKey !== "") return;
  for (const role of ROLES) {
    const host = c.hosts[role];
    if (host && !host.privateKey) {
      report(`hosts.${role}.privateKey`, "is required (or set sshPrivateKey for every host): set it as a secret");
    }
  }
};

/** Your own certificate comes with its key, and the other way round. */
export const tlsPair: ConfigRule = (c, report) => {
  // "" is unset; an invalid value (undefined, reported) still counts as given.
  const certificate = c.tlsCertificate !== "";
  const privateKey = c.tlsPrivateKey !== "";
  if (certificate !== privateKey) report(certificate ? "tlsPrivateKey" : "tlsCertificate", "tlsCertificate and tlsPrivateKey go together");
};

/** One certificate source: the ACME CA's, or your own (the key is the server's own with ACME). */
export const acmeOrOwnCertificate: ConfigRule = (c, report) => {
  if (c.acme && c.tlsCertificate !== "") report("acme", "and tlsCertificate exclude each other: the ACME CA's certificate is for the server's own key; unset one");
};

/** Every rule, in the order their problems are reported. */
/** A given DKIM key is for a domain the server signs for, with a selector it publishes, once. */
export const dkimKeysServed: ConfigRule = (c, report) => {
  const domains = [...servedDomains(c), ...(c.aliasDomains ?? []).filter(defined).map((a) => a.domain)];
  const selectors = [c.dkimSelector ?? "mail", ...(c.dkimPublishedSelectors ?? [])];
  const seen = new Set<string>();
  (c.dkimKeys ?? []).forEach((k, i) => {
    if (!k) return;
    const selector = k.selector ?? c.dkimSelector ?? "mail";
    if (!domains.includes(k.domain)) report(`dkimKeys[${i}].domain`, `"${k.domain}" is not a domain the server signs for (${domains.join(", ")})`);
    else if (!selectors.includes(selector)) report(`dkimKeys[${i}].selector`, `"${selector}" is neither dkimSelector nor in dkimPublishedSelectors`);
    else if (seen.has(`${k.domain} ${selector}`)) report(`dkimKeys[${i}]`, `gives a second key for ${selector}._domainkey.${k.domain}`);
    seen.add(`${k.domain} ${selector}`);
  });
};

export const CONFIG_RULES: readonly ConfigRule[] = [
  hostLabelsDiffer,
  hostLabelsFree,
  mailDomainsInZone,
  usersInServedDomains,
  aliasSourcesServed,
  aliasDomainsFit,
  addressesInSubnet,
  addressesDistinct,
  sshHostsHaveKeys,
  tlsPair,
  acmeOrOwnCertificate,
  dkimKeysServed,
  recordsFitTheZone,
];
