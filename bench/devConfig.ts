// The dev stack's configuration (Pulumi.dev.yaml: zone, mail domains, users,
// aliases) moved onto a free subnet with a unique name prefix, so a benchmark
// runs the dev lab's shape on a throwaway stack and never touches the user's
// own dev stack or its state.
import * as fs from "fs";
import * as path from "path";
import { LAB_FILTERING, LOAD_TEST_LIMITS, PlainConfig } from "../tests/e2e/lab";
import { ROOT } from "./common";

// js-yaml ships with @pulumi/pulumi (which reads stack files with it).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml: { load(text: string): unknown } = require("js-yaml");

export interface DevShape {
  domain: string;
  mailDomains: string[];
  users: { email: string }[];
  aliases: { source: string; destination: string }[];
}

/** The values of Pulumi.dev.yaml that shape the lab (no addresses, no secrets). */
export function devShape(): DevShape {
  const file = path.join(ROOT, "Pulumi.dev.yaml");
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const c = doc.config ?? {};
  const domain = c["mail-system:domain"];
  if (typeof domain !== "string") throw new Error(`${file}: mail-system:domain is not set`);
  const list = <T>(key: string): T[] => (Array.isArray(c[key]) ? (c[key] as T[]) : []);
  return {
    domain,
    mailDomains: list<string>("mail-system:mailDomains"),
    users: list<{ email: string }>("mail-system:users").map((u) => ({ email: u.email })),
    aliases: list<{ source: string; destination: string }>("mail-system:aliases"),
  };
}

/**
 * The lab's addresses on a /24 given as its first three octets, as the dev
 * stack places them (.5 db, .6 mail, .7 dns), and the benchmark's
 * seed-configured mail server (.50).
 */
export function labAddresses(net: string) {
  return { subnet: `${net}.0/24`, gateway: `${net}.1`, db: `${net}.5`, mail: `${net}.6`, dns: `${net}.7`, seed: `${net}.50` };
}

/** Stack configuration: the dev shape on `net`, named `prefix`. */
export function devStackConfig(shape: DevShape, net: string, prefix: string): PlainConfig {
  const a = labAddresses(net);
  return {
    "mail-system:domain": shape.domain,
    "mail-system:mailDomains": shape.mailDomains,
    "mail-system:users": shape.users,
    "mail-system:aliases": shape.aliases,
    "mail-system:subnet": a.subnet,
    "mail-system:dnsAddress": a.dns,
    "mail-system:dbAddress": a.db,
    "mail-system:mailAddress": a.mail,
    "mail-system:namePrefix": prefix,
    // A throwaway stack: its destroy removes its volumes too, as the
    // baseline's tear-down does (the dev stack keeps them by default).
    "mail-system:purgeMailOnDestroy": true,
    // The flood comes from one address: per-address limits would measure themselves.
    ...LOAD_TEST_LIMITS,
    // No reverse DNS in a lab: Rspamd's thresholds for one (tests/e2e/lab.ts).
    "mail-system:filtering": LAB_FILTERING,
    ...(process.env.BASE_IMAGE ? { "mail-system:baseImage": process.env.BASE_IMAGE } : {}),
  };
}
