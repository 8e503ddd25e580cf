// `mail-system:hosts` (target ssh): one host per server role. Each field is
// checked here; whether every host has a private key (its own or the stack's
// sshPrivateKey) is a rule across keys (configRules.ts).
import { isIPv4, isPort } from "./render/checks";
import { Report } from "./configSchema";

/** The server roles; with `target: ssh` each has a host (several may share one). */
export const ROLES = ["dns", "db", "mail"] as const;
export type Role = (typeof ROLES)[number];

/** One role's host from `mail-system:hosts` (target ssh). */
export interface SshHostConfig {
  /** IPv4 address: SSH connects to it and the role's services listen on it. */
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** The role's own key, or the stack's sshPrivateKey (a secret either way). */
  readonly privateKey: string;
  /** Pinned host key ("type base64"), if given. */
  readonly hostKey?: string;
}

/** A host as configured: its own private key is optional. */
export type SshHostFields = Omit<SshHostConfig, "privateKey"> & { readonly privateKey?: string };

export const SSH_DEFAULTS = { user: "root", port: 22 } as const;
const HOST_FIELDS = ["address", "port", "user", "privateKey", "hostKey"] as const;
const HOST_SHAPE = "{ address, user?, port?, privateKey?, hostKey? }";
export const HOSTS_SHAPE = `{ ${ROLES.map((r) => `${r}: ${HOST_SHAPE}`).join(", ")} }`;

export const PRIVATE_KEY = /^-----BEGIN (?:OPENSSH|RSA|EC) PRIVATE KEY-----\r?\n[\s\S]+\r?\n-----END (?:OPENSSH|RSA|EC) PRIVATE KEY-----\s*$/;
const HOST_KEY = /^(?:ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,2}$/;
const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/;

const isGiven = (v: unknown) => v !== undefined && v !== null && v !== "";

/** The hosts whose fields are all valid; every problem is reported against its field. */
export function parseHosts(hosts: Readonly<Record<string, unknown>>, report: Report): Partial<Record<Role, SshHostFields>> | undefined {
  // The declared default is {}: nothing configured.
  if (Object.keys(hosts).length === 0) return void report(`is required with target ssh: ${HOSTS_SHAPE}`);
  for (const k of Object.keys(hosts)) {
    if (!(ROLES as readonly string[]).includes(k)) report(`is not a role (${ROLES.join(", ")})`, `.${k}`);
  }
  const out: Partial<Record<Role, SshHostFields>> = {};
  for (const role of ROLES) {
    const h = hosts[role];
    if (typeof h !== "object" || h === null || Array.isArray(h)) {
      report(`is required with target ssh: ${HOST_SHAPE}`, `.${role}`);
      continue;
    }
    const host = parseHost(h as Record<string, unknown>, (message, part = "") => report(message, `.${role}${part}`));
    if (host) out[role] = host;
  }
  // Roles on one SSH server share its recorded key: they cannot pin two.
  const pins = new Map<string, { role: Role; hostKey?: string }>();
  for (const role of ROLES) {
    const host = out[role];
    if (!host) continue;
    const server = `${host.address}:${host.port}`;
    const first = pins.get(server);
    if (!first) pins.set(server, { role, ...(host.hostKey ? { hostKey: host.hostKey } : {}) });
    else if (first.hostKey !== host.hostKey) {
      report(`pins another host key than hosts.${first.role}.hostKey for the same SSH server ${server}: give both the same key, or neither`, `.${role}.hostKey`);
    }
  }
  return out;
}

function parseHost(fields: Readonly<Record<string, unknown>>, report: Report): SshHostFields | undefined {
  let ok = true;
  const bad = (field: string, message: string) => {
    report(message, `.${field}`);
    ok = false;
  };
  for (const k of Object.keys(fields)) {
    if (!(HOST_FIELDS as readonly string[]).includes(k)) report(`is not a known field (${HOST_FIELDS.join(", ")})`, `.${k}`);
  }
  const address = typeof fields.address === "string" ? fields.address.trim() : "";
  if (!isIPv4(address)) bad("address", `${JSON.stringify(fields.address)} is not an IPv4 address`);
  const portRaw = fields.port ?? SSH_DEFAULTS.port;
  const port = typeof portRaw === "string" && /^\d+$/.test(portRaw) ? Number(portRaw) : portRaw;
  if (!isPort(port)) bad("port", `${JSON.stringify(portRaw)} is not a TCP port`);
  const user = fields.user ?? SSH_DEFAULTS.user;
  if (typeof user !== "string" || !SSH_USER.test(user)) bad("user", `${JSON.stringify(user)} is not a user name`);
  const privateKey = typeof fields.privateKey === "string" ? fields.privateKey.trim() : "";
  if (isGiven(fields.privateKey) && !PRIVATE_KEY.test(privateKey)) bad("privateKey", "is not a PEM or OpenSSH private key");
  const hostKey = typeof fields.hostKey === "string" ? fields.hostKey.trim() : "";
  if (isGiven(fields.hostKey) && /^ssh-rsa /.test(hostKey)) {
    // @pulumi/command offers an RSA key as "ssh-rsa" (SHA-1) only, which OpenSSH 8.8+ refuses.
    bad("hostKey", "is an RSA key, which @pulumi/command cannot check against OpenSSH 8.8 or later: pin the host's ed25519 or ECDSA key");
  } else if (isGiven(fields.hostKey) && !HOST_KEY.test(hostKey)) {
    bad("hostKey", `is not a public key like "ssh-ed25519 AAAA..." (type and base64, as in known_hosts)`);
  }
  if (!ok) return undefined;
  return {
    address,
    port: port as number,
    user: user as string,
    ...(privateKey ? { privateKey } : {}),
    ...(hostKey ? { hostKey } : {}),
  };
}
