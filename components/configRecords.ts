// mail-system:records: records of the user's own in the zone BIND serves
// (a web server's A record, a verification TXT, a remote party's keys),
// next to the ones the program publishes. Each is checked as the zone file
// renderer checks it, and the whole zone with the program's records, before
// any resource exists.
import type { ConfigRule } from "./configRules";
import { Report } from "./configSchema";
import { recordProblem, zoneOf, zoneProblem } from "./render/bind";
import { autoconfigNames, mailDnsRecords, mtaStsNames } from "./render/mailRecords";
import { DnsRecord } from "./render/types";

/** The types a user may add (NS, a delegation, stays with whoever runs the child zone's servers). */
export const USER_RECORD_TYPES = ["A", "AAAA", "CNAME", "MX", "SRV", "TXT"] as const;
const FIELDS = ["name", "type", "value", "priority", "ttl"];
export const RECORD_SHAPE = "{ name, type, value, priority?, ttl? }";

/** The CLI sets path values as strings ("10"). */
const whole = (v: unknown) => (typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v);

/** `records`: each entry's fields and types; its place in the zone is checked by recordsFitTheZone. */
export function parseRecords(list: readonly unknown[], report: Report): (DnsRecord | undefined)[] {
  return list.map((x, i) => {
    const at = (message: string, part = "") => report(message, `[${i}]${part}`);
    if (typeof x !== "object" || x === null || Array.isArray(x)) return void at(`must be an object ${RECORD_SHAPE}`);
    const v = x as Record<string, unknown>;
    let ok = true;
    const bad = (message: string, part: string) => {
      ok = false;
      at(message, part);
    };
    for (const k of Object.keys(v)) if (!FIELDS.includes(k)) bad(`is not a known field (${FIELDS.join(", ")})`, `.${k}`);
    if (typeof v.name !== "string" || v.name === "") bad('must be a name relative to the zone ("@" for the apex, "www", ...)', ".name");
    const type = typeof v.type === "string" ? v.type.toUpperCase() : v.type;
    if (!(USER_RECORD_TYPES as readonly unknown[]).includes(type)) bad(`must be one of ${USER_RECORD_TYPES.join(", ")}`, ".type");
    if (typeof v.value !== "string") bad("must be a string", ".value");
    const [priority, ttl] = [whole(v.priority), whole(v.ttl)];
    for (const [field, n] of [["priority", priority], ["ttl", ttl]] as const) {
      if (n !== undefined && !Number.isInteger(n)) bad("must be a whole number", `.${field}`);
    }
    if (!ok) return undefined;
    return {
      name: v.name as string,
      type: type as DnsRecord["type"],
      value: v.value as string,
      ...(priority !== undefined ? { priority: priority as number } : {}),
      ...(ttl !== undefined ? { ttl: ttl as number } : {}),
    };
  });
}

/** The version tag of a TXT value ("v=spf1", "v=DMARC1", "v=DKIM1"), lower-cased, or undefined. */
const txtVersion = (r: DnsRecord) => (r.type === "TXT" ? /^\s*(v=[a-z0-9]+)\s*(;|\s|$)/i.exec(r.value)?.[1].toLowerCase() : undefined);
const owner = (r: DnsRecord) => r.name.toLowerCase();

/**
 * Each record fits the zone, and the zone with the program's own records
 * (the DNS and mail servers' A, MX, SRV, SPF, DMARC and DKIM, as they will
 * be published: only key material differs) is one BIND will load: no
 * duplicates, no CNAME beside other records, no second SPF, DMARC or DKIM
 * record where the program publishes one (nor MTA-STS or TLS-RPT), nothing at
 * the names the program publishes for clients' autoconfiguration or MTA-STS.
 */
export const recordsFitTheZone: ConfigRule = (c, report) => {
  const zone = c.domain;
  const records = c.records ?? [];
  if (!zone || records.length === 0) return;
  let fine = true;
  records.forEach((r, i) => {
    const problem = r && recordProblem(r, zone);
    if (problem) report(`records[${i}]`, problem);
    fine &&= r !== undefined && !problem;
  });
  if (!fine || !c.dnsHost || !c.mailHost) return;
  const served = (c.mailDomains ?? []).length > 0 ? (c.mailDomains ?? []).filter((d): d is string => d !== undefined) : [zone];
  const managed = mailDnsRecords({
    zone,
    hostLabel: c.mailHost,
    // Addresses do not change which names and types are published.
    address: "192.0.2.6",
    mailDomains: served,
    mxPreference: 2,
    spf: c.spf,
    dmarc: c.dmarc?.replaceAll("{zone}", zone),
    dkimSelector: c.dkimSelector ?? "mail",
    dkimKeys: served.flatMap((domain) =>
      [...new Set([c.dkimSelector ?? "mail", ...(c.dkimPublishedSelectors ?? [])])].map((selector) => ({ domain, selector, publicKey: "AAAA" })),
    ),
    autoconfig: c.autoconfig ?? true,
    ...(c.mtaSts ? { mtaSts: c.mtaSts } : {}),
    ...(c.tlsReportsTo ? { tlsReportsTo: c.tlsReportsTo.filter((u): u is string => u !== undefined) } : {}),
  });
  const user = records as DnsRecord[];
  const relative = (name: string) => (name === zone ? "@" : name.slice(0, -(zone.length + 1)));
  const autoconfigOwners = new Set(
    (c.autoconfig ?? true) ? [...autoconfigNames(served), ...served.map((d) => `_autodiscover._tcp.${d}`)].map(relative) : [],
  );
  const mtaStsOwners = new Set(c.mtaSts ? mtaStsNames(served).map(relative) : []);
  user.forEach((r, i) => {
    const version = txtVersion(r);
    const theirs = version && managed.find((m) => owner(m) === owner(r) && txtVersion(m) === version);
    if (theirs) report(`records[${i}]`, `${r.name} already has the program's ${version} record (${theirs.value.slice(0, 40)}...): change it with its own key (spf, dmarc, dkimSelector, mtaSts, tlsReportsTo)`);
    // Another address there (A beside A is no duplicate to BIND) would send clients elsewhere for their settings.
    if (autoconfigOwners.has(owner(r))) {
      report(`records[${i}]`, `${r.name} is where mail clients look for their settings, published by the program (mail-system:autoconfig); set autoconfig to false to publish your own`);
    }
    if (mtaStsOwners.has(owner(r))) {
      report(`records[${i}]`, `${r.name} is where senders fetch the MTA-STS policy, served by the program (mail-system:mtaSts)`);
    }
    // With ACME's dns-01 the program delegates every _acme-challenge name: nothing of yours may be there.
    if (c.acme?.challenge === "dns-01" && /(^|\.)_acme-challenge(\.|$)/.test(owner(r))) {
      report(`records[${i}]`, `${r.name} is where the ACME CA checks the program's answers (mail-system:acme, dns-01): the program delegates it`);
    }
  });
  const problem = zoneProblem(zoneOf({ zone, hostLabel: c.dnsHost, address: "192.0.2.7", records: [...managed, ...user] }));
  if (problem) report("records", `with the records the program publishes: ${problem}`);
};
