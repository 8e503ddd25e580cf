// "Where": a server as a container on a Docker engine. The image holds the
// spec's packages and nothing else (one Dockerfile for every role,
// files/image). The container runs the program's supervisor as PID 1 with
// the spec's units (servicesManifest) and the server's volumes; then the same
// scripted sequence as on a host (scripted.ts) runs in it through
// `docker exec`: accounts, files, daemons, reloads, health. So a changed file
// reloads (or restarts) the one daemon that reads it, as on a host; only a
// new image or a change of the container's own settings (network, volumes,
// the units) replaces the container.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { FILES_DIR } from "../render/template";
import { SERVICES_MANIFEST, SUPERVISOR_PATH, containerCommand, healthcheckPath, servicesManifest } from "./hostScripts";
import { ScriptRunner, ScriptedServer } from "./scripted";
import { DEFAULT_HEALTH, PlacedServer, ServerScripts, ServerSpec, ServerTarget } from "./server";

/** Where servers go: a Docker network of the lab, and naming. */
export interface DockerPlacement {
  /** Name of the lab's Docker network. */
  readonly network: pulumi.Input<string>;
  /** The network's gateway: the Docker host's (and so the engine's) address on it. */
  readonly gateway: pulumi.Input<string>;
  /** Prefix of every Docker object's name, e.g. "mail-system-dev". */
  readonly namePrefix: string;
  /** Base image passed to the Dockerfile as BASE_IMAGE. */
  readonly baseImage: string;
  /** DNS servers the containers resolve with (the lab's BIND). */
  readonly dnsServers?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Build contexts (absolute paths) replacing files/image for some roles,
   * e.g. { db: "/path/to/mysql8" }. Such an image must do what files/image's
   * does: accept the build arguments PACKAGES, DEBCONF and WARMUP (it may
   * ignore them) and provide, on a Debian-family system with bash, the role's
   * daemons as the spec runs them (for a db, `mysql` logging in as root over
   * the unix socket and reading server.cnf's bind-address and TLS settings,
   * ssl_cert, ssl_key (owned by a `mysql` account), ssl_ca and tls_version). The program runs
   * the container's entrypoint itself (the supervisor).
   */
  readonly imageContexts?: Readonly<Record<string, string>>;
}

/** The Docker label that marks every object of a stack (tests and cleanup find them by it). */
export const STACK_LABEL = "mail-system.stack";

/** The security option that stops setuid and setgid programs (and file capabilities) from raising privileges. */
export const NO_NEW_PRIVILEGES = "no-new-privileges:true";

/**
 * Each container's log (its daemons' output, `docker logs`): Docker's
 * json-file driver, rotated at 10 MB and kept to 5 files. Without a limit it
 * grows for as long as the container lives, about 2 KB for every message the
 * mail server handles; 50 MB holds some 25,000 messages' worth.
 */
export const CONTAINER_LOG = { driver: "json-file", options: { "max-size": "10m", "max-file": "5" } } as const;

/** The one build context of every role's image. */
export const IMAGE_CONTEXT = path.join(FILES_DIR, "image");

/**
 * Runs each script as root in the container with this ID, on stdin (`docker
 * exec`, containerCommand). By ID, so a script of a replaced container never
 * reaches its successor.
 */
export function containerScriptRunner(containerId: pulumi.Input<string>, parent?: pulumi.Resource): ScriptRunner {
  return (resource, script, opts, triggers) =>
    new command.local.Command(
      resource,
      {
        create: containerCommand("create"),
        update: containerCommand("update"),
        delete: containerCommand("delete"),
        stdin: script,
        environment: { CONTAINER: containerId },
        ...(triggers ? { triggers } : {}),
        logging: "stderr",
      },
      { parent, ...opts },
    );
}

/** Containers on one Docker engine and network. */
export class DockerTarget implements ServerTarget {
  constructor(private readonly placement: DockerPlacement) {}

  place(name: string, spec: ServerSpec, address: pulumi.Input<string>, parent: pulumi.Resource): PlacedServer {
    return new DockerServer(name, spec, { ...this.placement, address }, parent);
  }
}

/** The resources that place one server in a container. */
export class DockerServer implements PlacedServer {
  readonly image: docker.Image;
  readonly container: docker.Container;
  readonly volumes: docker.Volume[];
  readonly address: pulumi.Output<string>;
  readonly readyId: pulumi.Output<string>;
  readonly engineAddress: pulumi.Output<string>;
  readonly family = pulumi.output("debian" as const);
  /** The container's name, for `docker exec`. */
  readonly location: pulumi.Output<string>;
  private readonly scripted: ScriptedServer;

  constructor(name: string, spec: ServerSpec, where: DockerPlacement & { readonly address: pulumi.Input<string> }, parent: pulumi.Resource) {
    const base = `${where.namePrefix}-${spec.role}`;
    const labels = [{ label: STACK_LABEL, value: where.namePrefix }];

    this.image = new docker.Image(
      `${name}-image`,
      {
        imageName: `${base}:latest`,
        build: {
          context: where.imageContexts?.[spec.role] ?? IMAGE_CONTEXT,
          args: {
            BASE_IMAGE: where.baseImage,
            PACKAGES: spec.packages.debian.flat().join(" "),
            DEBCONF: (spec.debconf ?? []).join("\n"),
            // Only where there is one: another role's image keeps its inputs.
            ...(spec.imageWarmup ? { WARMUP: spec.imageWarmup } : {}),
          },
        },
        skipPush: true,
      },
      { parent },
    );

    // docker.Image never deletes its tag (as documented); this removes it when
    // the stack is destroyed, after the container that uses it is gone.
    const imageTag = new command.local.Command(
      `${name}-image-tag`,
      {
        // Another stack removing a tag of the same image at the same moment can
        // make `rm` fail although the tag is gone: only a tag left is an error.
        delete: `docker image rm "$IMAGE" >/dev/null 2>&1 || ! docker image inspect "$IMAGE" >/dev/null 2>&1`,
        environment: { IMAGE: this.image.imageName },
      },
      { parent },
    );

    // A volume kept on destroy (retainOnDelete) is found again by name on the next up.
    const retainOnDelete = spec.deleteDataOnDestroy === false;
    const volumeDirs = [...(spec.dataDirectories ?? []), ...(spec.stateDirectories ?? [])];
    this.volumes = volumeDirs.map(
      (dir, i) =>
        new docker.Volume(
          `${name}-data-${i}`,
          { name: `${base}-${dir.replace(/^\/+/, "").replace(/[^A-Za-z0-9]+/g, "-")}`, labels },
          { parent, retainOnDelete },
        ),
    );

    const health = spec.health ?? DEFAULT_HEALTH;
    this.container = new docker.Container(
      name,
      {
        name: base,
        hostname: spec.role,
        image: this.image.repoDigest,
        entrypoints: [SUPERVISOR_PATH],
        networksAdvanced: [{ name: where.network, ipv4Address: where.address }],
        dns: where.dnsServers,
        envs: Object.entries(spec.healthEnv?.debian ?? {}).map(([k, v]) => `${k}=${v}`),
        // The supervisor and the units it may run; the configuration comes later, as on a host.
        uploads: [
          { file: SUPERVISOR_PATH, content: fs.readFileSync(path.join(FILES_DIR, "common", "supervisor.sh"), "utf8"), permissions: "0755" },
          { file: SERVICES_MANIFEST, content: servicesManifest(spec.services), permissions: "0644" },
        ],
        volumes: [
          ...this.volumes.map((v, i) => ({ volumeName: v.name, containerPath: volumeDirs[i] })),
          // Docker makes a missing directory (root's, 0755); mail-backup narrows it to 0700.
          ...(spec.machineDirectories ?? []).map((dir) => ({ hostPath: dir, containerPath: dir })),
        ],
        healthcheck: {
          tests: ["CMD", healthcheckPath(spec.role)],
          interval: `${health.intervalSeconds}s`,
          timeout: `${health.timeoutSeconds}s`,
          retries: health.retries,
        },
        restart: "unless-stopped",
        logDriver: CONTAINER_LOG.driver,
        logOpts: { ...CONTAINER_LOG.options },
        // Root in the container keeps only what the spec says its server
        // needs, and no program gains privileges by being setuid or setgid.
        capabilities: { drops: ["ALL"], adds: [...spec.capabilities] },
        securityOpts: [NO_NEW_PRIVILEGES],
        labels,
      },
      // Its name is fixed: the old one must go before the new one can be made.
      { parent, dependsOn: [imageTag], deleteBeforeReplace: true },
    );

    const runner = containerScriptRunner(this.container.id, parent);
    // Docker's embedded DNS (127.0.0.11) forwards every query through dockerd:
    // the daemons that make many may ask the servers it forwards to.
    this.scripted = new ScriptedServer(name, spec, runner, {
      family: this.family,
      container: true,
      ...(where.dnsServers ? { nameservers: where.dnsServers } : {}),
      after: [this.container],
    });
    this.location = this.container.name;
    this.address = pulumi.output(where.address);
    // A new container, or a new run of its health check, is a new server.
    this.readyId = pulumi.interpolate`${this.container.id}/${this.scripted.ready.id}`;
    this.engineAddress = pulumi.output(where.gateway);
  }

  exec(name: string, program: readonly string[], scripts: ServerScripts, opts?: pulumi.CustomResourceOptions): pulumi.CustomResource {
    return this.scripted.exec(name, program, scripts, opts);
  }
}
