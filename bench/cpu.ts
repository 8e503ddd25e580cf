// CPU time spent during a flood: by the whole machine (/proc/stat) and by
// each container (its cgroup's CPU accounting), so a run reports what a
// delivered message cost besides how fast it went. Rates move by a tenth
// from one run to the next on this 2-core machine; CPU per message moves
// less, and says where it went (mail server, database, DNS).
import * as fs from "fs";
import { docker } from "./common";

/** CPU milliseconds so far: the machine's busy time and each container's (undefined where it cannot be read here). */
export interface CpuSample {
  machineMs: number;
  containers: Record<string, number | undefined>;
}

/** CPU milliseconds per message between two samples. */
export interface CpuPerMessage {
  machine: number;
  containers: Record<string, number | undefined>;
}

// Every field of /proc/stat's "cpu" line but idle and iowait, in USER_HZ (100 a second on Linux).
function machineBusyMs(): number {
  const [, user, nice, system, , , irq, softirq, steal] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq + (steal || 0)) * 10;
}

const ids = new Map<string, string>();

/** The container's cgroup CPU usage in ms: cgroup v1 (cpuacct) or v2 (cpu.stat, either cgroup driver); undefined when none is readable. */
async function containerCpuMs(container: string): Promise<number | undefined> {
  let id = ids.get(container);
  if (!id) {
    id = (await docker("inspect", "-f", "{{.Id}}", container)).trim();
    ids.set(container, id);
  }
  const v1 = `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`;
  if (fs.existsSync(v1)) return Number(fs.readFileSync(v1, "utf8")) / 1e6;
  for (const dir of [`/sys/fs/cgroup/system.slice/docker-${id}.scope`, `/sys/fs/cgroup/docker/${id}`]) {
    const stat = `${dir}/cpu.stat`;
    if (!fs.existsSync(stat)) continue;
    const usec = /^usage_usec (\d+)$/m.exec(fs.readFileSync(stat, "utf8"));
    if (usec) return Number(usec[1]) / 1e3;
  }
  return undefined;
}

export async function cpuSample(containers: readonly string[]): Promise<CpuSample> {
  const values = await Promise.all(containers.map((c) => containerCpuMs(c).catch(() => undefined)));
  return { machineMs: machineBusyMs(), containers: Object.fromEntries(containers.map((c, i) => [c, values[i]])) };
}

export function cpuPerMessage(a: CpuSample, b: CpuSample, messages: number): CpuPerMessage {
  const per = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined || messages === 0 ? undefined : (y - x) / messages);
  return {
    machine: per(a.machineMs, b.machineMs) ?? NaN,
    containers: Object.fromEntries(Object.keys(a.containers).map((c) => [c, per(a.containers[c], b.containers[c])])),
  };
}

/** "9.6 ms (mail 7.0, db 1.0, dns 0.1)": the machine's CPU per message and each container's, named by `label`. */
export function formatCpu(c: CpuPerMessage | undefined, label: (container: string) => string): string {
  if (!c) return "n/a";
  const parts = Object.entries(c.containers).map(([name, v]) => `${label(name)} ${v === undefined ? "n/a" : v.toFixed(1)}`);
  return `${c.machine.toFixed(1)} ms${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`;
}
