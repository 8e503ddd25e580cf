// Mail throughput: Postfix's own smtp-source floods a target on port 25 from
// a client container on the lab network. The target is either smtp-sink (the
// physical limit of client, network and machine: it accepts and discards) or
// the deployed mail server, whose mail must then be found in the recipient's
// maildir: exactly one file per accepted message, no Message-Id twice.
// smtp-source runs without -A, so any refusal (MAIL, RCPT, DATA or end of
// data) is fatal: exit status 0 means every message was accepted.
import * as fs from "fs";
import * as path from "path";
import { docker, note, sh, sleep } from "./common";
import { CpuPerMessage, cpuPerMessage, CpuSample, cpuSample } from "./cpu";

export interface FloodOptions {
  /** Messages to send. */
  messages: number;
  /** Parallel SMTP sessions. */
  sessions: number;
  /** Message body length in bytes (smtp-source -l). */
  bodyBytes: number;
  /** Send every message of a session over one connection (smtp-source -d). */
  reuseConnections: boolean;
}

export const DEFAULT_FLOOD: FloodOptions = { messages: 10_000, sessions: 20, bodyBytes: 2048, reuseConnections: true };

export interface FloodResult {
  /** Messages the target accepted (smtp-source's counter; all of them when it exited 0). */
  accepted: number;
  exitCode: number;
  /** Seconds from the first connection to the last reply. */
  sendSeconds: number;
  /** Epoch milliseconds when sending started (the container shares the host's clock). */
  startedAt: number;
  errors: string;
}

/** The longest one smtp-source run may take. */
const FLOOD_TIMEOUT_MS = 30 * 60_000;

/** Runs smtp-source in a throwaway container from `image` on `network` against `target` port 25. */
export async function flood(o: { image: string; network: string; label: string; target: string; sender: string; recipient: string; subject: string } & FloodOptions): Promise<FloodResult> {
  const args = ["-c", "-s", String(o.sessions), "-m", String(o.messages), "-l", String(o.bodyBytes), "-M", "client.bench.invalid",
    "-f", o.sender, "-t", o.recipient, "-S", o.subject, ...(o.reuseConnections ? ["-d"] : []), `${o.target}:25`];
  // The counter is printed with \r after each DATA; its last value is the count sent.
  const script = `s=$(date +%s%N); /usr/sbin/smtp-source "$@" >/tmp/out 2>/tmp/err; rc=$?; e=$(date +%s%N)
echo "$s $e $rc $(tr '\\r' '\\n' </tmp/out | grep -E '^[0-9]+$' | tail -n 1)"; tail -c 600 /tmp/err`;
  // No 2-minute default here: a slow flood (a growing mailbox, Rspamd) takes longer, and a killed client would lose its count.
  const out = await sh("docker", ["run", "--rm", "--network", o.network, "--label", o.label, "--entrypoint", "sh", o.image, "-c", script, "flood", ...args], FLOOD_TIMEOUT_MS);
  const [first, ...rest] = out.split("\n");
  const [s, e, rc, count] = first.trim().split(" ");
  return {
    accepted: Number(rc) === 0 ? Number(count ?? 0) : 0,
    exitCode: Number(rc),
    sendSeconds: (Number(e) - Number(s)) / 1e9,
    startedAt: Number(s) / 1e6,
    errors: rest.join("\n").trim(),
  };
}

/** Starts smtp-sink (accepts and discards every message) in a container on `network`; returns its name and address. */
export async function startSink(image: string, network: string, name: string, label: string): Promise<string> {
  await docker("run", "-d", "--name", name, "--network", network, "--label", label, "--entrypoint", "/usr/sbin/smtp-sink",
    image, "-u", "nobody", "0.0.0.0:25", "1024");
  const ip = (await docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)).trim();
  await sleep(500);
  return ip;
}

// The messages of a maildir, in any folder (Rspamd may file some into Junk).
const MESSAGES = `find "$1" -type f \\( -path "*/new/*" -o -path "*/cur/*" \\)`;

/** Files in the maildir's new/ and cur/ of every folder: one per delivered message. */
export async function maildirCount(container: string, maildir: string): Promise<number> {
  const out = await docker("exec", container, "sh", "-c", `${MESSAGES} 2>/dev/null | wc -l`, "count", maildir);
  return Number(out.trim());
}

/**
 * Among the maildir's messages whose Subject is `subject` (one per run): how
 * many files, how many distinct Message-Ids, and how many Message-Ids occur
 * in more than one file (duplicates).
 */
export async function messageIds(container: string, maildir: string, subject: string): Promise<{ files: number; distinct: number; duplicated: number }> {
  // smtp-source writes Message-Id before Subject; headers the servers add come first and match neither.
  const script = `${MESSAGES} -print0 2>/dev/null | xargs -0 -r grep -h -i -m2 -E '^(Message-Id|Subject):' | paste - - |
    awk -F '\t' -v s="Subject: $2" '$2 == s { f++; c[$1]++ } END { for (k in c) { n++; if (c[k] > 1) d++ } print f+0, n+0, d+0 }'`;
  const out = await docker("exec", container, "sh", "-c", script, "ids", maildir, subject);
  const [files, distinct, duplicated] = out.trim().split(" ").map(Number);
  return { files, distinct, duplicated };
}

/** Messages in Postfix's queue (postqueue -j prints one line each). */
export async function queueSize(container: string): Promise<number> {
  const out = await docker("exec", container, "sh", "-c", "postqueue -j | wc -l");
  return Number(out.trim());
}

// Polling through `docker exec` four times a second took about an eighth of
// the machine's CPU during a flood (dockerd, containerd, runc), competing
// with the servers measured. While waiting, the counts are read where the
// local engine keeps the files (a volume's directory, else the container's
// merged overlay); the final counts still come from inside the container.
const hostRoots = new Map<string, { mounts: { dest: string; source: string }[]; merged: string }>();

/** Where the local Docker engine keeps `file` of `container` on this host, or undefined when it cannot be read here. */
async function onHost(container: string, file: string): Promise<string | undefined> {
  let roots = hostRoots.get(container);
  if (!roots) {
    const out = await docker("inspect", "-f", '{{json .Mounts}}\n{{index .GraphDriver.Data "MergedDir"}}', container);
    const [mounts, merged] = out.trim().split("\n");
    roots = {
      mounts: (JSON.parse(mounts) as { Destination: string; Source: string }[]).map((m) => ({ dest: m.Destination, source: m.Source })),
      merged: merged === "<no value>" ? "" : merged,
    };
    hostRoots.set(container, roots);
  }
  const mount = roots.mounts.filter((m) => file === m.dest || file.startsWith(`${m.dest}/`)).sort((a, b) => b.dest.length - a.dest.length)[0];
  const onHostPath = mount ? path.join(mount.source, path.relative(mount.dest, file)) : roots.merged && path.join(roots.merged, file);
  return onHostPath && fs.existsSync(onHostPath) ? onHostPath : undefined;
}

/** Files under `dir` at any depth (0 when it is gone: files move while mail is delivered). */
function filesUnder(dir: string): number {
  let n = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) n += e.isDirectory() ? filesUnder(path.join(dir, e.name)) : 1;
  return n;
}

/** The maildir's messages (new/ and cur/ of the inbox and of every .folder), read on the host. */
function maildirCountOnHost(root: string): number {
  let n = filesUnder(path.join(root, "new")) + filesUnder(path.join(root, "cur"));
  try {
    for (const e of fs.readdirSync(root, { withFileTypes: true })) {
      if (e.isDirectory() && e.name.startsWith(".")) n += filesUnder(path.join(root, e.name, "new")) + filesUnder(path.join(root, e.name, "cur"));
    }
  } catch {
    // gone for a moment: counted on the next look
  }
  return n;
}

/** Queue files in the queues postqueue lists, read on the host. */
function queueSizeOnHost(spool: string): number {
  return ["maildrop", "incoming", "active", "deferred", "hold"].reduce((n, q) => n + filesUnder(path.join(spool, q)), 0);
}

/** Counters for the wait: on the host when the engine is local, else through docker exec. */
async function deliveryProbe(container: string, maildir: string): Promise<{ files: () => Promise<number>; queued: () => Promise<number> }> {
  const [box, spool] = [await onHost(container, maildir), await onHost(container, "/var/spool/postfix")];
  return {
    files: box ? async () => maildirCountOnHost(box) : () => maildirCount(container, maildir),
    queued: spool ? async () => queueSizeOnHost(spool) : () => queueSize(container),
  };
}

export interface DeliveryResult extends FloodResult {
  /** Seconds from the start of sending until the last message was in the maildir. */
  deliveredSeconds: number;
  /** Maildir files added during this run, and those of them carrying this run's Subject. */
  files: number;
  filesWithSubject: number;
  distinctIds: number;
  duplicatedIds: number;
  /** CPU per delivered message from the start of sending until delivered: the machine's and each of `cpuOf`'s containers'. */
  cpu?: CpuPerMessage;
}

/** Floods the mail server and waits (bounded) until the maildir holds every accepted message and the queue is empty. */
export async function floodMailServer(o: {
  image: string; network: string; label: string; container: string; target: string; recipient: string; maildir: string; timeoutMs: number;
  /** Containers whose CPU time is reported per message (cpu). */
  cpuOf?: readonly string[];
} & FloodOptions): Promise<DeliveryResult> {
  const before = await maildirCount(o.container, o.maildir);
  const subject = `bench ${Date.now().toString(36)}`;
  const cpuBefore = o.cpuOf ? await cpuSample(o.cpuOf) : undefined;
  const sent = await flood({ ...o, sender: "load@client.bench.invalid", subject });
  if (sent.exitCode !== 0) {
    note(`smtp-source exited ${sent.exitCode}: ${sent.errors}`);
    // The server's side of the refusal.
    note(await sh("sh", ["-c", 'docker logs --tail 3000 "$1" 2>&1 | grep -E "postfix/.*(warning|error|fatal|reject)" | tail -n 8', "log", o.container]).catch((e) => String(e)));
  }
  let files = 0;
  let doneAt = 0;
  let cpuAfter: CpuSample | undefined;
  const deadline = Date.now() + o.timeoutMs;
  const probe = await deliveryProbe(o.container, o.maildir);
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    files = (await probe.files()) - before;
    if (files >= sent.accepted && (await probe.queued()) === 0) {
      const at = Date.now();
      // Confirmed from inside the container, as the final counts are.
      if ((await queueSize(o.container)) === 0 && (await maildirCount(o.container, o.maildir)) - before >= sent.accepted) {
        doneAt = at;
        if (o.cpuOf) cpuAfter = await cpuSample(o.cpuOf);
        break;
      }
    }
    await sleep(250);
  }
  // Late duplicates would arrive after the count first matched: look again a moment later.
  await sleep(2000);
  files = (await maildirCount(o.container, o.maildir)) - before;
  const ids = await messageIds(o.container, o.maildir, subject);
  return {
    ...sent,
    deliveredSeconds: doneAt ? (doneAt - sent.startedAt) / 1000 : NaN,
    files,
    filesWithSubject: ids.files,
    distinctIds: ids.distinct,
    duplicatedIds: ids.duplicated,
    ...(cpuBefore && cpuAfter ? { cpu: cpuPerMessage(cpuBefore, cpuAfter, files) } : {}),
  };
}

/**
 * Runs `body` with some of Postfix's settings changed (main.cf parameters,
 * or master.cf's service/type/parameter with `master`), then restores what
 * was deployed, whatever it was.
 */
export async function withPostconf<T>(container: string, file: "main" | "master", settings: Record<string, string>, body: () => Promise<T>): Promise<T> {
  const flag = file === "master" ? ["-P"] : [];
  const deployed: Record<string, string> = {};
  for (const key of Object.keys(settings)) deployed[key] = (await docker("exec", container, "postconf", ...flag, "-h", key)).replace(/\n$/, "");
  const apply = async (values: Record<string, string>) => {
    await docker("exec", container, "postconf", ...(file === "master" ? ["-P"] : ["-e"]), ...Object.entries(values).map(([k, v]) => `${k}=${v}`));
    await docker("exec", container, "postfix", "reload");
    await sleep(2000);
  };
  await apply(settings);
  try {
    return await body();
  } finally {
    await apply(deployed);
  }
}

/**
 * Runs `body` with other milters on port 25 (master.cf's smtp service: e.g.
 * OpenDKIM added, undoing the throughput tuning, or none, without Rspamd).
 */
export function withPort25Milters<T>(container: string, milters: string, body: () => Promise<T>): Promise<T> {
  return withPostconf(container, "master", { "smtp/inet/smtpd_milters": milters }, body);
}

/**
 * Removes the mailbox's maildir so the next flood meets an empty one. Only
 * while nothing is delivered (the queue is empty): Dovecot makes it anew at
 * the next delivery.
 */
export async function emptyMaildir(container: string, maildir: string): Promise<void> {
  if ((await queueSize(container)) !== 0) throw new Error(`${container}: mail still queued; the maildir is not emptied under a delivery`);
  await docker("exec", container, "rm", "-rf", maildir);
}

export interface DrainResult extends FloodResult {
  /** Seconds from the start of sending until the queue was empty. */
  drainedSeconds: number;
  /** Deliveries the discard transport logged during the run. */
  discarded: number;
}

/**
 * The ceiling of Postfix alone: the same flood with every virtual mailbox
 * delivered by the discard transport (no LMTP, no Dovecot), timed until the
 * queue is empty; the deployed transport is restored after.
 */
export async function floodDiscard(o: { image: string; network: string; label: string; container: string; target: string; recipient: string; timeoutMs: number } & FloodOptions): Promise<DrainResult> {
  return withPostconf(o.container, "main", { virtual_transport: "discard:" }, async () => {
    const since = new Date().toISOString();
    const sent = await flood({ ...o, sender: "load@client.bench.invalid", subject: `discard ${Date.now().toString(36)}` });
    if (sent.exitCode !== 0) note(`smtp-source exited ${sent.exitCode}: ${sent.errors}`);
    let drainedAt = 0;
    const deadline = Date.now() + o.timeoutMs;
    const spool = await onHost(o.container, "/var/spool/postfix");
    for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
      const at = Date.now();
      if ((spool === undefined || queueSizeOnHost(spool) === 0) && (await queueSize(o.container)) === 0) {
        drainedAt = at;
        break;
      }
      await sleep(250);
    }
    const log = await sh("sh", ["-c", 'docker logs --since "$2" "$1" 2>&1 | grep -c "postfix/discard\\[.*status=sent" || true', "count", o.container, since]);
    return { ...sent, drainedSeconds: drainedAt ? (drainedAt - sent.startedAt) / 1000 : NaN, discarded: Number(log.trim()) };
  });
}

export interface GrowthStep {
  /** Messages in the mailbox before this flood. */
  before: number;
  result: DeliveryResult;
}

/**
 * Floods one mailbox `steps` times in a row, starting empty, so each flood
 * meets the mail of the ones before: the delivery rate as the mailbox grows.
 */
export async function floodGrowth(o: Parameters<typeof floodMailServer>[0] & { steps: number }): Promise<GrowthStep[]> {
  await emptyMaildir(o.container, o.maildir);
  const out: GrowthStep[] = [];
  for (let i = 0; i < o.steps; i++) {
    const before = await maildirCount(o.container, o.maildir);
    out.push({ before, result: await floodMailServer(o) });
  }
  return out;
}
