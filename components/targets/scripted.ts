// What both targets do once a server's machine is there (a host over SSH, or
// a container): the same pure scripts (hostScripts.ts), each a command with
// its script on stdin, run as root, in order: the missing packages and the
// server's own accounts, the rendered files, each daemon enabled and
// started, a reload of each daemon exactly when a file it reads changes, and
// a health check that closes the sequence. Destroy runs it backwards. Only
// how a script reaches the machine differs (a ScriptRunner).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { FILES_DIR } from "../render/template";
import { RenderedFile } from "../render/types";
import {
  execScript,
  filesDigest,
  filesScript,
  healthScript,
  healthcheckPath,
  packagesScript,
  phasedScript,
  serviceScript,
  shq,
} from "./hostScripts";
import { DEFAULT_HEALTH, OsFamily, ServerScripts, ServerSpec } from "./server";

/** Runs a phased script (stdin) as root on the server, for create, update and delete: one resource. */
export type ScriptRunner = (
  name: string,
  script: pulumi.Input<string>,
  opts: pulumi.CustomResourceOptions,
  triggers?: pulumi.Input<unknown>[],
) => pulumi.CustomResource;

/** The role's health check (files/<role>/healthcheck.sh), installed like a rendered file. */
export function healthcheckFile(role: string): RenderedFile {
  return {
    path: healthcheckPath(role),
    content: fs.readFileSync(path.join(FILES_DIR, role, "healthcheck.sh"), "utf8"),
    owner: "root",
    group: "root",
    mode: "0755",
  };
}

/** The scripted sequence that sets up one server, and the health check that ends it. */
export class ScriptedServer {
  /** The health check: every later step waits for it. */
  readonly ready: pulumi.CustomResource;

  constructor(
    name: string,
    spec: ServerSpec,
    private readonly runner: ScriptRunner,
    where: {
      readonly family: pulumi.Output<OsFamily>;
      readonly container: boolean;
      /** The name servers the place's resolver forwards to (ServerPlace.nameservers). */
      readonly nameservers?: pulumi.Input<pulumi.Input<string>[]>;
      /** What must exist before the first script runs (the host's facts, the container). */
      readonly after: pulumi.Resource[];
    },
  ) {
    const { family } = where;
    const packages = runner(
      `${name}-packages`,
      family.apply((f) =>
        packagesScript(spec.role, f, spec.packages[f], {
          ...(spec.debconf ? { debconf: spec.debconf } : {}),
          ...(spec.prepare ? { prepare: spec.prepare } : {}),
        }),
      ),
      { dependsOn: where.after },
    );

    const files = pulumi.all([family, where.nameservers]).apply(([f, nameservers]) =>
      pulumi
        .output(spec.files({ family: f, container: where.container, ...(nameservers ? { nameservers } : {}) }))
        .apply((rendered) => [...rendered, healthcheckFile(spec.role)]),
    );
    const written = runner(`${name}-files`, pulumi.secret(files.apply((all) => filesScript(spec.role, all))), { dependsOn: [packages] });

    // On a host, data is deleted (when asked) after the daemons that write it
    // stopped: destroy runs dependents first, and the daemons depend on this.
    // (A container's data is in volumes, removed or kept with them.)
    const dataRemoval =
      !where.container && spec.deleteDataOnDestroy && spec.dataDirectories?.length
        ? [
            runner(
              `${name}-data`,
              phasedScript(`data of ${spec.role}`, ":", spec.dataDirectories.map((d) => `rm -rf -- ${shq(d)}`).join("\n")),
              { dependsOn: [packages] },
            ),
          ]
        : [];

    // The daemons in order. Each step's script holds the digest of the files
    // its daemon reads: a change of one of them updates that step alone,
    // and the update reloads (or restarts) that daemon (serviceScript).
    let previous: pulumi.Resource[] = [written, ...dataRemoval];
    for (const service of spec.services) {
      const digest = files.apply((all) => filesDigest(all.filter((file) => service.reads(file.path))));
      previous = [
        runner(
          `${name}-${service.id}`,
          pulumi.secret(pulumi.all([family, digest]).apply(([f, d]) => serviceScript(spec.role, service, f, d))),
          { dependsOn: previous },
        ),
      ];
    }

    const health = spec.health ?? DEFAULT_HEALTH;
    this.ready = runner(
      `${name}-health`,
      family.apply((f) => healthScript(spec.role, spec.healthEnv?.[f] ?? {}, health.deploySeconds)),
      // After the last daemon's step (each waits for the one before).
      { dependsOn: previous },
      [pulumi.secret(files.apply(filesDigest))],
    );
  }

  /** Runs `program` as root on the server with the scripts on stdin, once it is healthy. */
  exec(name: string, program: readonly string[], scripts: ServerScripts, opts?: pulumi.CustomResourceOptions): pulumi.CustomResource {
    const script = pulumi.all([scripts.apply, scripts.revert]).apply(([apply, revert]) => execScript(program, apply, revert));
    return this.runner(
      name,
      pulumi.secret(script),
      { ...opts, dependsOn: [this.ready, ...toArray(opts?.dependsOn)] },
      scripts.replaceOn,
    );
  }
}

function toArray(d: pulumi.CustomResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
  if (d === undefined) return [];
  return Array.isArray(d) ? d : [d as pulumi.Input<pulumi.Resource>];
}
