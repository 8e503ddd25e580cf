// The SSH host key of each host, recorded in the stack's state on first use
// (trust on first use) and passed as `hostKey` to every later connection, so
// @pulumi/command refuses a host that presents another key. A
// `command.local.Command` per SSH server (address and port: roles may share
// one) asks it for its key with ssh-keyscan, once: nothing but a replace of
// that resource (`pulumi up --replace URN`) or a new pin
// (hosts.<role>.hostKey) makes it ask again. A pinned key is checked against
// what the host presents before anything connects.
import * as command from "@pulumi/command";

/** What the program needs of a host to record its key. */
export interface SshEndpointFields {
  readonly address: string;
  readonly port?: number;
  /** A pinned key ("ssh-ed25519 AAAA..."). */
  readonly hostKey?: string;
}

/** One SSH server: where it is, the roles on it, and the key pinned for it, if any. */
export interface SshEndpoint {
  readonly address: string;
  readonly port: number;
  readonly roles: readonly string[];
  readonly pinned?: string;
}

/** "address:port": roles whose hosts have the same one share a recorded key. */
export const endpointId = (h: SshEndpointFields): string => `${h.address}:${h.port ?? 22}`;

/** The name of the resource that records a host's key (a name users see in errors and pass to --replace). */
export const hostKeyResourceName = (e: Pick<SshEndpoint, "address" | "port">): string => `hostkey-${e.address}-${e.port}`;

/** The distinct SSH servers of the roles; throws when roles on one server pin different keys. */
export function sshEndpoints(hosts: Readonly<Record<string, SshEndpointFields>>): Map<string, SshEndpoint> {
  const out = new Map<string, SshEndpoint>();
  for (const [role, h] of Object.entries(hosts)) {
    const id = endpointId(h);
    const seen = out.get(id);
    if (seen && seen.pinned !== h.hostKey) {
      throw new Error(`hosts.${seen.roles[0]} and hosts.${role} are the same SSH server (${id}) but pin different host keys`);
    }
    out.set(id, {
      address: h.address,
      port: h.port ?? 22,
      roles: [...(seen?.roles ?? []), role],
      ...(h.hostKey !== undefined ? { pinned: h.hostKey } : {}),
    });
  }
  return out;
}

/** The host key types the program records, in order of preference (not RSA: see README, "Host keys"). */
export const RECORDED_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"] as const;

/**
 * Prints the host's key ("type base64") as ssh-keyscan sees it: its ed25519
 * key, else its ECDSA key; with PINNED_KEY set, that key, if the host
 * presents it, else it fails saying so. Waits (bounded: 24 tries, 5 s apart)
 * for a host that is booting. Environment: SSH_HOST, SSH_PORT, PINNED_KEY,
 * KEY_SETTING (the config keys that pin it, for messages). On update
 * (anything but a new pin) it prints the key recorded before, untouched.
 */
export function hostKeyScript(phase: "create" | "update"): string {
  return [
    "set -eu",
    ...(phase === "update"
      ? ['if [ -z "${PINNED_KEY:-}" ] && [ -n "${PULUMI_COMMAND_STDOUT:-}" ]; then printf \'%s\\n\' "$PULUMI_COMMAND_STDOUT"; exit 0; fi']
      : []),
    "command -v ssh-keyscan >/dev/null || { echo 'mail-system: target ssh needs ssh-keyscan (OpenSSH client) on the machine running pulumi' >&2; exit 1; }",
    "tries=0",
    "while :; do",
    // (Its "# host SSH-2.0-..." comments go to stderr, or start with #.)
    '  keys="$(ssh-keyscan -T 5 -p "$SSH_PORT" -t ed25519,ecdsa "$SSH_HOST" 2>/dev/null | awk \'$1 !~ /^#/ && NF >= 3 { print $2 " " $3 }\')" || keys=',
    '  [ -z "$keys" ] || break',
    "  tries=$((tries + 1))",
    '  if [ "$tries" -ge 24 ]; then',
    '    echo "mail-system: no SSH host key from $SSH_HOST port $SSH_PORT after 2 minutes (ssh-keyscan): is sshd running there and reachable from here?" >&2',
    "    exit 1",
    "  fi",
    "  sleep 5",
    "done",
    'if [ -n "${PINNED_KEY:-}" ]; then',
    '  if printf \'%s\\n\' "$keys" | grep -qxF "$PINNED_KEY"; then printf \'%s\\n\' "$PINNED_KEY"; exit 0; fi',
    '  echo "mail-system: SSH host $SSH_HOST port $SSH_PORT does not present the key pinned in $KEY_SETTING ($PINNED_KEY); it presents: $(printf \'%s\' "$keys" | tr \'\\n\' \' \')- refusing it. If its keys changed legitimately, pin the new one (pulumi config set --path $KEY_SETTING \'TYPE BASE64\'); else the connection may be intercepted." >&2',
    "  exit 1",
    "fi",
    `for t in ${RECORDED_KEY_TYPES.join(" ")}; do`,
    '  key="$(printf \'%s\\n\' "$keys" | awk -v t="$t" \'$1 == t { print; exit }\')"',
    '  if [ -n "$key" ]; then printf \'%s\\n\' "$key"; exit 0; fi',
    "done",
    'echo "mail-system: SSH host $SSH_HOST port $SSH_PORT offers no ed25519 or ECDSA host key (an RSA key cannot be pinned with @pulumi/command)" >&2',
    "exit 1",
    "",
  ].join("\n");
}

/**
 * The resource that records one SSH server's key; its stdout is the key.
 * Top level (no parent), so its name stays the same whichever roles the
 * server has: another name would be another resource, and so a new first use.
 */
export function recordHostKey(endpoint: SshEndpoint): command.local.Command {
  const setting = endpoint.roles.map((r) => `hosts.${r}.hostKey`).join(" and ");
  return new command.local.Command(hostKeyResourceName(endpoint), {
    create: hostKeyScript("create"),
    update: hostKeyScript("update"),
    environment: {
      SSH_HOST: endpoint.address,
      SSH_PORT: String(endpoint.port),
      KEY_SETTING: setting,
      ...(endpoint.pinned !== undefined ? { PINNED_KEY: endpoint.pinned } : {}),
    },
    // Another server is another resource (its name holds address and port),
    // so another first use; any change to this one runs `update`, which keeps
    // the recorded key (see hostKeyScript), as the provider documents for a
    // Command with an update command, triggers included.
    triggers: [endpoint.address, endpoint.port],
    logging: "stderr",
  });
}
