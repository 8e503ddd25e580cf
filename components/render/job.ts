// A long-running job of the program's own on a host (mail-acme, mail-backup):
// a script whose `prepare` runs before its `loop`, under systemd or, on a
// host without it, an init script. In a container the supervisor runs it
// from the server's ServiceSpec instead, so only hosts get these files.
import { renderTemplate } from "./template";
import { RenderedFile } from "./types";

export interface JobFiles {
  /** The unit's name, e.g. "mail-backup". */
  readonly name: string;
  /** What it does, for `systemctl status` and the init script's header. */
  readonly description: string;
  /** The program (absolute path) that takes `prepare` and `loop`. */
  readonly program: string;
  /** Units it must start before (their names without .service). */
  readonly before?: readonly string[];
}

/** Where a job's unit, init script and PID file are. */
export const jobPaths = (name: string) => ({
  systemdUnit: `/etc/systemd/system/${name}.service`,
  initScript: `/etc/init.d/${name}`,
  pidFile: `/run/${name}.pid`,
});

/** The systemd unit and the init script of a job on a host. */
export function renderJobFiles(job: JobFiles): RenderedFile[] {
  const paths = jobPaths(job.name);
  const values = { name: job.name, description: job.description, program: job.program };
  const ordering = job.before && job.before.length > 0 ? `Before=${job.before.map((u) => `${u}.service`).join(" ")}\n` : "";
  const root = (p: string, content: string, mode: string): RenderedFile => ({ path: p, content, owner: "root", group: "root", mode });
  return [
    root(paths.systemdUnit, renderTemplate("common/job/job.service", { ...values, ordering }), "0644"),
    root(paths.initScript, renderTemplate("common/job/job.init", { ...values, pidFile: paths.pidFile }), "0755"),
  ];
}
