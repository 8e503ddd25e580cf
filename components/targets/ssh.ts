// "Where": a server on a Linux host over SSH, with @pulumi/command's
// remote.Command. The host's facts (distribution family, the engine's
// address as the host sees it) are read first; then, in order: the missing
// packages are installed, the rendered files written (owners, modes; a
// replaced system file is kept and put back on destroy), each daemon enabled
// and started, and reloaded exactly when a file it reads changes; a health
// check closes the sequence. Destroy runs it backwards.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as fs from "fs";
import * as path from "path";
import { FILES_DIR } from "../render/template";
import { RenderedFile } from "../render/types";
import {
  FACTS_SCRIPT,
  HostFacts,
  execScript,
  filesDigest,
  filesScript,
  healthScript,
  healthcheckPath,
  packagesScript,
  parseFacts,
  phasedScript,
  reloadScript,
  rootCommand,
  serviceScript,
  shq,
} from "./hostScripts";
import { PlacedServer, ServerScripts, ServerSpec, ServerTarget } from "./server";

/** How to reach one host. */
export interface SshHost {
  /** The host's IPv4 address: SSH connects to it and its services listen on it. */
  readonly address: pulumi.Input<string>;
  /** SSH port. Default 22. */
  readonly port?: pulumi.Input<number>;
  /** Login user: root, or a user with passwordless sudo. Default "root". */
  readonly user?: pulumi.Input<string>;
  /** The private key (OpenSSH or PEM) the user logs in with. A secret. */
  readonly privateKey: pulumi.Input<string>;
  /** The host's public key ("ssh-ed25519 AAAA..."): when set, any other key is refused. */
  readonly hostKey?: pulumi.Input<string>;
}

/** Servers on hosts over SSH: one host per role; roles may share a host. */
export class SshTarget implements ServerTarget {
  constructor(private readonly hosts: Readonly<Record<string, SshHost>>) {}

  place(name: string, spec: ServerSpec, _address: pulumi.Input<string>, parent: pulumi.Resource): PlacedServer {
    const host = this.hosts[spec.role];
    if (!host) throw new Error(`no SSH host for the ${spec.role} server`);
    return new SshServer(name, spec, host, parent);
  }
}

/** The resources that put one server on a host. */
export class SshServer implements PlacedServer {
  readonly address: pulumi.Output<string>;
  readonly readyId: pulumi.Output<string>;
  readonly engineAddress: pulumi.Output<string>;
  readonly family: pulumi.Output<HostFacts["family"]>;
  readonly location: pulumi.Output<string>;
  private readonly connection: command.types.input.remote.ConnectionArgs;
  private readonly ready: pulumi.Resource;

  constructor(
    name: string,
    spec: ServerSpec,
    host: SshHost,
    private readonly parent: pulumi.Resource,
  ) {
    this.connection = {
      host: host.address,
      port: host.port ?? 22,
      user: host.user ?? "root",
      privateKey: pulumi.secret(host.privateKey),
      ...(host.hostKey !== undefined ? { hostKey: host.hostKey } : {}),
      // A host that is booting gets about a minute before the deploy gives up.
      dialErrorLimit: 20,
      perDialTimeout: 5,
    };
    const opts = { parent };

    const facts = new command.remote.Command(
      `${name}-facts`,
      { connection: this.connection, create: "sh -s", stdin: FACTS_SCRIPT, logging: "stderr" },
      opts,
    );
    const parsed = facts.stdout.apply(parseFacts);
    this.family = parsed.family;
    this.engineAddress = parsed.clientAddress;

    const packages = this.rootCommand(
      `${name}-packages`,
      this.family.apply((f) =>
        packagesScript(spec.role, f, spec.packages[f], {
          ...(spec.debconf ? { debconf: spec.debconf } : {}),
          ...(spec.prepare ? { prepare: spec.prepare } : {}),
        }),
      ),
      { dependsOn: [facts] },
    );

    // The rendered files plus the role's health check (files/<role>/healthcheck.sh).
    const healthcheck: RenderedFile = {
      path: healthcheckPath(spec.role),
      content: fs.readFileSync(path.join(FILES_DIR, spec.role, "healthcheck.sh"), "utf8"),
      owner: "root",
      group: "root",
      mode: "0755",
    };
    const files = this.family.apply((f) => pulumi.output(spec.files({ family: f, container: false })).apply((rendered) => [...rendered, healthcheck]));
    const written = this.rootCommand(
      `${name}-files`,
      pulumi.secret(files.apply((fs_) => filesScript(spec.role, fs_))),
      { dependsOn: [packages] },
    );

    // Data is deleted (when asked) after the daemons that write it stopped:
    // destroy runs dependents first, and the daemons depend on this.
    const dataRemoval =
      spec.deleteDataOnDestroy && spec.dataDirectories?.length
        ? [
            this.rootCommand(
              `${name}-data`,
              phasedScript(`data of ${spec.role}`, ":", spec.dataDirectories.map((d) => `rm -rf -- ${shq(d)}`).join("\n")),
              { dependsOn: [packages] },
            ),
          ]
        : [];

    let previous: pulumi.Resource[] = [written, ...dataRemoval];
    const reloads: pulumi.Resource[] = [];
    for (const service of spec.services) {
      const enabled = this.rootCommand(
        `${name}-${service.id}`,
        this.family.apply((f) => serviceScript(spec.role, service, f)),
        { dependsOn: previous },
      );
      // Replaced (so run again) exactly when a file the daemon reads changes.
      const digest = files.apply((all) => filesDigest(all.filter((file) => service.reads(file.path))));
      const reload = this.rootCommand(
        `${name}-${service.id}-reload`,
        this.family.apply((f) => reloadScript(spec.role, service, f)),
        { dependsOn: [enabled] },
        [pulumi.secret(digest)],
      );
      reloads.push(reload);
      previous = [enabled];
    }

    const health = this.rootCommand(
      `${name}-health`,
      this.family.apply((f) => healthScript(spec.role, spec.healthEnv?.[f] ?? {})),
      { dependsOn: reloads },
      [pulumi.secret(files.apply(filesDigest))],
    );
    this.ready = health;
    this.readyId = health.id;
    this.address = pulumi.output(host.address);
    this.location = pulumi.interpolate`${this.connection.user}@${host.address}`;
  }

  exec(name: string, program: readonly string[], scripts: ServerScripts, opts?: pulumi.CustomResourceOptions): pulumi.CustomResource {
    const script = pulumi
      .all([scripts.apply, scripts.revert])
      .apply(([apply, revert]) => execScript(program, apply, revert));
    return this.rootCommand(
      name,
      pulumi.secret(script),
      { ...opts, dependsOn: [this.ready, ...toArray(opts?.dependsOn)] },
      scripts.replaceOn,
    );
  }

  /** A remote.Command running a phased script (stdin) as root for create, update and delete. */
  private rootCommand(
    name: string,
    script: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
    triggers?: pulumi.Input<unknown>[],
  ): command.remote.Command {
    return new command.remote.Command(
      name,
      {
        connection: this.connection,
        create: rootCommand("create"),
        update: rootCommand("update"),
        delete: rootCommand("delete"),
        stdin: script,
        ...(triggers ? { triggers } : {}),
        // Package managers are chatty; errors still reach the log.
        logging: "stderr",
      },
      { parent: this.parent, ...opts },
    );
  }
}

function toArray(d: pulumi.CustomResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
  if (d === undefined) return [];
  return Array.isArray(d) ? d : [d as pulumi.Input<pulumi.Resource>];
}
