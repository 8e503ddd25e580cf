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
import { FILES_DIR, shq } from "../render/template";
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
} from "./hostScripts";
import { DEFAULT_HEALTH, OsFamily, ServerScripts, ServerSpec, ServiceSpec } from "./server";

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

    // The files of the place: the early ones (plain settings only) and the rest.
    const place = pulumi.all([family, where.nameservers]).apply(([f, nameservers]) => ({
      family: f,
      container: where.container,
      ...(nameservers ? { nameservers } : {}),
    }));
    checkEarly(spec);
    const earlyFiles: pulumi.Output<RenderedFile[]> = spec.earlyFiles
      ? place.apply((p) => pulumi.output(spec.earlyFiles!(p)))
      : pulumi.output([] as RenderedFile[]);
    const files = pulumi.all([place.apply((p) => pulumi.output(spec.files(p))), earlyFiles]).apply(([rendered, early]) => {
      checkSets(spec, rendered, early);
      return [...rendered, healthcheckFile(spec.role)];
    });

    // Written right after the packages; its daemons start at once, while
    // the other files may still wait for what they depend on.
    const earlyWritten = spec.earlyFiles
      ? [runner(`${name}-early-files`, pulumi.secret(earlyFiles.apply((all) => filesScript(spec.role, all, "early"))), { dependsOn: [packages] })]
      : [];
    const written = runner(`${name}-files`, pulumi.secret(files.apply((all) => filesScript(spec.role, all))), { dependsOn: [packages, ...earlyWritten] });

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
    const step = (service: ServiceSpec, read: pulumi.Output<RenderedFile[]>, after: pulumi.Resource[]) => {
      const digest = read.apply((all) => filesDigest(all.filter((file) => service.reads(file.path))));
      return runner(
        `${name}-${service.id}`,
        pulumi.secret(pulumi.all([family, digest]).apply(([f, d]) => serviceScript(spec.role, service, f, d))),
        { dependsOn: after },
      );
    };
    let previous: pulumi.Resource[] = [...earlyWritten, ...dataRemoval];
    for (const service of spec.services.filter((s) => s.early)) previous = [step(service, earlyFiles, previous)];
    previous = [written, ...previous];
    const everyFile = pulumi.all([earlyFiles, files]).apply(([early, rest]) => [...early, ...rest]);
    for (const service of spec.services.filter((s) => !s.early)) previous = [step(service, everyFile, previous)];

    const health = spec.health ?? DEFAULT_HEALTH;
    this.ready = runner(
      `${name}-health`,
      family.apply((f) => healthScript(spec.role, spec.healthEnv?.[f] ?? {}, health.deploySeconds)),
      // After the last daemon's step (each waits for the one before).
      { dependsOn: previous },
      [pulumi.secret(everyFile.apply(filesDigest))],
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

/** Early daemons need early files to read. */
export function checkEarly(spec: ServerSpec): void {
  if (!spec.earlyFiles && spec.services.some((s) => s.early)) throw new Error(`${spec.role}: early services need earlyFiles`);
}

/** No file in both sets, and none of the other files read by an early daemon (it would start without it). */
export function checkSets(spec: ServerSpec, files: readonly RenderedFile[], early: readonly RenderedFile[]): void {
  const earlyPaths = new Set(early.map((f) => f.path));
  for (const f of files) {
    if (earlyPaths.has(f.path)) throw new Error(`${spec.role}: file ${f.path} is among both the early files and the others`);
    const reader = spec.services.find((s) => s.early && s.reads(f.path));
    if (reader) throw new Error(`${spec.role}: file ${f.path} is read by ${reader.id}, which starts early: it must be among the early files`);
  }
}
