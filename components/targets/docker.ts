// "Where": a server as a container on a Docker engine. A server component
// says what it needs (a ServerSpec); this places it: an image built FROM the
// configurable base image with the spec's debian packages, a container on the
// lab network at a fixed address with the rendered files uploaded before it
// starts (their owners set by the entrypoint from an uploaded table). The
// image's entrypoint runs the daemons (the container is the service manager),
// so a changed file replaces the container.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { FILES_DIR } from "../render/template";
import { RenderedFile } from "../render/types";
import { checkFiles } from "./hostScripts";
import { PlacedServer, ServerScripts, ServerSpec, ServerTarget } from "./server";

/** Where servers go: a Docker network of the lab, and naming. */
export interface DockerPlacement {
  /** Name of the lab's Docker network. */
  readonly network: pulumi.Input<string>;
  /** The network's gateway: the Docker host's (and so the engine's) address on it. */
  readonly gateway: pulumi.Input<string>;
  /** Prefix of every Docker object's name, e.g. "mail-system-dev". */
  readonly namePrefix: string;
  /** Base image passed to every Dockerfile as BASE_IMAGE. */
  readonly baseImage: string;
  /** DNS servers the containers resolve with (the lab's BIND). */
  readonly dnsServers?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Build contexts (absolute paths) replacing files/<role> for some roles,
   * e.g. { db: "/path/to/mysql8" }. Such an image must do what files/<role>'s
   * does: accept the PACKAGES build argument (it may ignore it), run its
   * daemons from its entrypoint with the uploaded files (giving each file
   * listed in /etc/mail-system/ownership, if uploaded, its owner and group),
   * and provide /usr/local/sbin/<role>-healthcheck; a db image must also let
   * `mysql` log in as root over the unix socket and read server.cnf's
   * bind-address.
   */
  readonly imageContexts?: Readonly<Record<string, string>>;
}

/** The Docker label that marks every object of a stack (tests and cleanup find them by it). */
export const STACK_LABEL = "mail-system.stack";

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

  constructor(
    name: string,
    spec: ServerSpec,
    where: DockerPlacement & { readonly address: pulumi.Input<string> },
    private readonly parent: pulumi.Resource,
  ) {
    const base = `${where.namePrefix}-${spec.role}`;
    const labels = [{ label: STACK_LABEL, value: where.namePrefix }];

    this.image = new docker.Image(
      `${name}-image`,
      {
        imageName: `${base}:latest`,
        build: {
          context: where.imageContexts?.[spec.role] ?? path.join(FILES_DIR, spec.role),
          args: { BASE_IMAGE: where.baseImage, PACKAGES: spec.packages.debian.flat().join(" ") },
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
    this.volumes = (spec.dataDirectories ?? []).map(
      (dir, i) =>
        new docker.Volume(
          `${name}-data-${i}`,
          { name: `${base}-${dir.replace(/^\/+/, "").replace(/[^A-Za-z0-9]+/g, "-")}`, labels },
          { parent, retainOnDelete },
        ),
    );

    const env = Object.entries(spec.healthEnv?.debian ?? {}).map(([k, v]) => `${k}=${v}`);
    this.container = new docker.Container(
      name,
      {
        name: base,
        hostname: spec.role,
        image: this.image.repoDigest,
        networksAdvanced: [{ name: where.network, ipv4Address: where.address }],
        dns: where.dnsServers,
        envs: env,
        uploads: pulumi.output(spec.files({ family: "debian", container: true })).apply((files) => containerUploads(files).map(toUpload)),
        volumes: this.volumes.map((v, i) => ({ volumeName: v.name, containerPath: spec.dataDirectories![i] })),
        healthcheck: {
          tests: ["CMD", `/usr/local/sbin/${spec.role}-healthcheck`],
          interval: "5s",
          timeout: "5s",
          startPeriod: "2s",
          retries: 6,
        },
        restart: "unless-stopped",
        wait: true,
        waitTimeout: 180,
        labels,
      },
      { parent, dependsOn: [imageTag] },
    );
    this.location = this.container.name;
    this.address = pulumi.output(where.address);
    // Known once the container is healthy (wait: true).
    this.readyId = this.container.id;
    this.engineAddress = pulumi.output(where.gateway);
  }

  exec(name: string, program: readonly string[], scripts: ServerScripts, opts?: pulumi.CustomResourceOptions): pulumi.CustomResource {
    return dockerExec(name, this.container.name, program, scripts, { parent: this.parent, ...opts });
  }
}

/**
 * Where a container finds the owners of its uploaded files. Uploads carry
 * none: @pulumi/docker resolves owner and group names on the deployer's
 * machine, where accounts such as postfix or bind do not exist (or have
 * other ids), so the image's entrypoint sets them from this table by name.
 */
export const OWNERSHIP_FILE = "/etc/mail-system/ownership";

/**
 * The uploads of a container: each rendered file with its mode and no owner
 * (root's until the entrypoint runs), plus the ownership table when a file
 * belongs to an account other than root.
 */
export function containerUploads(files: readonly RenderedFile[]): RenderedFile[] {
  checkFiles(files);
  const owned = files.filter((f) => f.owner !== "root" || f.group !== "root");
  if (owned.length === 0) return [...files];
  const table = owned.map((f) => `${f.owner} ${f.group} ${f.path}\n`).join("");
  return [...files, { path: OWNERSHIP_FILE, content: table, owner: "root", group: "root", mode: "0644" }];
}

function toUpload(f: RenderedFile): docker.types.input.ContainerUpload {
  const content = f.secret ? pulumi.secret(f.content) : f.content;
  return { file: f.path, content, permissions: f.mode };
}

/**
 * A command run in a server's container through `docker exec`, with its
 * input on stdin: `apply` on create and update, `revert` on delete (and
 * before a replacement `replaceOn` asks for). Used to run SQL with the
 * database server's own client.
 */
function dockerExec(
  name: string,
  container: pulumi.Input<string>,
  program: readonly string[],
  scripts: ServerScripts,
  opts: pulumi.CustomResourceOptions,
): command.local.Command {
  const exec = `docker exec -i "$CONTAINER" ${program.map((a) => `'${a}'`).join(" ")}`;
  return new command.local.Command(
    name,
    {
      create: `printf '%s\\n' "$APPLY" | ${exec}`,
      ...(scripts.revert !== undefined ? { delete: `printf '%s\\n' "$REVERT" | ${exec}` } : {}),
      environment: {
        CONTAINER: container,
        APPLY: scripts.apply,
        ...(scripts.revert !== undefined ? { REVERT: scripts.revert } : {}),
      },
      ...(scripts.replaceOn ? { triggers: scripts.replaceOn } : {}),
    },
    opts,
  );
}
