// Throwaway Linux hosts reachable over SSH, for the SSH target's end-to-end
// tests: one container per host from tests/e2e/fixtures/sshhost (sshd as PID 1,
// no systemd), on a private Docker network, with a key pair made for the lab.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BASE_IMAGE } from "../../components/baseImage";
import { docker, sh } from "./lab";

export const SSH_HOST_IMAGE = "mail-system-test-sshhost:latest";
const fixture = path.join(__dirname, "fixtures", "sshhost");

export interface SshHost {
  name: string;
  address: string;
  port: 22;
  /** The host's ed25519 key as in known_hosts without the host name: "ssh-ed25519 AAAA...". */
  hostKey: string;
  container: string;
}

export interface SshLab {
  network: string;
  subnet: string;
  gateway: string;
  /** The lab's private key (OpenSSH format, no passphrase), authorized for root and deploy on every host. */
  privateKey: string;
  publicKey: string;
  /** The private key on disk (mode 0600) and a known_hosts file of every host, for the ssh client. */
  keyFile: string;
  knownHostsFile: string;
  hosts: SshHost[];
  /** Removes the containers, the network and the key files; safe to call twice. */
  destroy(): Promise<void>;
}

/** Builds the test host image (BASE_IMAGE from the environment, as the program's images). */
export async function buildSshHostImage(): Promise<void> {
  const base = process.env.BASE_IMAGE || BASE_IMAGE;
  await sh("docker", ["build", "-q", "-t", SSH_HOST_IMAGE, "--build-arg", `BASE_IMAGE=${base}`, fixture], 15 * 60_000);
}

/** Options for the ssh client: the lab's key, its known hosts, no agent, no prompts. */
export function sshOptions(lab: Pick<SshLab, "keyFile" | "knownHostsFile">): string[] {
  return [
    "-i", lab.keyFile,
    "-o", "IdentitiesOnly=yes",
    "-o", "IdentityAgent=none",
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${lab.knownHostsFile}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "ConnectTimeout=5",
    "-o", "LogLevel=ERROR",
  ];
}

/**
 * Waits (bounded) until sshd on `address` runs a command as root for the key
 * in `keyFile`, then returns the host's ed25519 key ("ssh-ed25519 AAAA...",
 * read only then, when the host's start-up has written it whole).
 */
export async function waitForSsh(address: string, keyFile: string, container: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      // ssh takes the first value of an option, so these override sshOptions'.
      const noCheck = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3"];
      await sh("ssh", [...noCheck, ...sshOptions({ keyFile, knownHostsFile: "/dev/null" }), `root@${address}`, "true"], 10_000);
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        const logs = await docker("logs", "--tail", "20", container).catch(() => "");
        throw new Error(`${container} (${address}) did not accept SSH within ${Math.round(timeoutMs / 1000)} s: ${String(err)}\n${logs}`);
      }
      await sleep(500);
    }
  }
  const pub = await docker("exec", container, "cat", "/etc/ssh/ssh_host_ed25519_key.pub");
  return pub.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** Runs `command` on `host` as `user` over SSH and returns its stdout. */
export function ssh(lab: SshLab, host: SshHost, user: string, command: string, timeoutMs = 120_000): Promise<string> {
  return sh("ssh", [...sshOptions(lab), "-p", String(host.port), `${user}@${host.address}`, command], timeoutMs);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ignores the failure of removing a Docker object that is already gone. */
async function removeIfPresent(args: string[]): Promise<void> {
  try {
    await docker(...args);
  } catch (err) {
    const message = String((err as { stderr?: string }).stderr ?? err);
    if (!/no such (container|network)|not found/i.test(message)) throw err;
  }
}

/**
 * Starts one SSH host per entry of `hosts` on a new network `${prefix}-net`
 * (gateway .1 of `subnet`), each as container `${prefix}-${name}` at its fixed
 * address, and waits (at most 60 s) until every host accepts the lab's key for
 * root. Everything carries the label `mail-system.stack=${prefix}`. On failure
 * whatever was created is removed.
 */
export async function startSshHosts(
  prefix: string,
  subnet: string,
  hosts: { name: string; address: string }[],
): Promise<SshLab> {
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  if (!m) throw new Error(`subnet must be a /24 such as 10.213.7.0/24, not ${subnet}`);
  const gateway = `${m[1]}.1`;
  const label = `mail-system.stack=${prefix}`;
  const network = `${prefix}-net`;

  await buildSshHostImage();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-sshlab-"));
  const keyFile = path.join(dir, "id_ed25519");
  const knownHostsFile = path.join(dir, "known_hosts");
  const containers = hosts.map((h) => `${prefix}-${h.name}`);
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (!destroyed) {
      for (const container of containers) await removeIfPresent(["rm", "-f", "-v", container]);
      await removeIfPresent(["network", "rm", network]);
      destroyed = true;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${prefix}@mail-system-test`, "-f", keyFile]);
    const privateKey = fs.readFileSync(keyFile, "utf8");
    const publicKey = fs.readFileSync(`${keyFile}.pub`, "utf8").trim();
    fs.writeFileSync(knownHostsFile, "");

    await docker("network", "create", "--driver", "bridge", "--subnet", subnet, "--gateway", gateway, "--label", label, network);
    for (const [i, h] of hosts.entries()) {
      await docker(
        "run", "-d",
        "--name", containers[i],
        "--hostname", h.name,
        "--network", network,
        "--ip", h.address,
        "--label", label,
        // As on a real host, root may read /proc/PID/exe of other users' processes:
        // without it start-stop-daemon --exec and pidof (init scripts' stop and
        // status, e.g. opendkim's) do not find a daemon that dropped privileges.
        "--cap-add", "SYS_PTRACE",
        "--env", `AUTHORIZED_KEY=${publicKey}`,
        SSH_HOST_IMAGE,
      );
    }

    const lab: SshLab = { network, subnet, gateway, privateKey, publicKey, keyFile, knownHostsFile, hosts: [], destroy };
    const deadline = Date.now() + 60_000;
    for (const [i, h] of hosts.entries()) {
      const hostKey = await waitForSsh(h.address, keyFile, containers[i], deadline - Date.now());
      fs.appendFileSync(knownHostsFile, `${h.address} ${hostKey}\n`);
      lab.hosts.push({ name: h.name, address: h.address, port: 22, hostKey, container: containers[i] });
    }
    return lab;
  } catch (err) {
    await destroy().catch(() => undefined);
    throw err;
  }
}

/**
 * Gives `host` new SSH host keys, as a reinstalled or re-keyed machine has:
 * the old ones are deleted, new ones made, and sshd (PID 1) re-executes on
 * SIGHUP and loads them; the daemons it does not own keep running. Updates
 * host.hostKey and the lab's known_hosts, then waits (at most 30 s) until
 * the host answers with the new key.
 */
export async function rotateHostKeys(lab: SshLab, host: SshHost): Promise<void> {
  const before = host.hostKey;
  await docker("exec", host.container, "sh", "-c", "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && kill -HUP 1");
  const pub = await docker("exec", host.container, "cat", "/etc/ssh/ssh_host_ed25519_key.pub");
  host.hostKey = pub.trim().split(/\s+/).slice(0, 2).join(" ");
  if (host.hostKey === before) throw new Error(`${host.name}: the host key did not change`);
  const others = fs.readFileSync(lab.knownHostsFile, "utf8").split("\n").filter((l) => l && !l.startsWith(`${host.address} `));
  fs.writeFileSync(lab.knownHostsFile, [...others, `${host.address} ${host.hostKey}`, ""].join("\n"));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await ssh(lab, host, "root", "true", 10_000);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${host.name} did not answer with its new host key within 30 s: ${String(err)}`);
      await sleep(500);
    }
  }
}
