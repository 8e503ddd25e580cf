// "Where": a server as a container on a Docker engine. A server component
// says what it needs (a ServerDefinition: image context in files/, rendered
// files with owners and modes, health check, data volumes); this places it:
// an image built FROM the configurable base image, a container on the lab
// network at a fixed address with the files uploaded before it starts.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { FILES_DIR } from "../render/template";
import { RenderedFile } from "../render/types";

/** What a server needs, independent of where it runs. */
export interface ServerDefinition {
  /** The server's role; files/<role> is its image's build context unless `imageContext` says otherwise. */
  readonly role: string;
  /** Absolute path of the image's build context (a directory with a Dockerfile). */
  readonly imageContext?: string;
  /** Rendered configuration files, written before the server starts. */
  readonly files: pulumi.Input<RenderedFile[]>;
  /** Plain (non-secret) environment for the server's entrypoint. */
  readonly env?: pulumi.Input<string>[];
  /** Command that succeeds when the server is ready to serve. */
  readonly healthcheck: string[];
  /** Directories whose data must outlive the container (kept in named volumes). */
  readonly dataDirectories?: readonly string[];
  /** Seconds to wait for the health check to pass on start (default 180). */
  readonly startTimeout?: number;
}

/** Where servers go: a Docker network of the lab, and naming. */
export interface DockerPlacement {
  /** Name of the lab's Docker network. */
  readonly network: pulumi.Input<string>;
  /** Prefix of every Docker object's name, e.g. "mail-system-dev". */
  readonly namePrefix: string;
  /** Base image passed to every Dockerfile as BASE_IMAGE. */
  readonly baseImage: string;
  /** DNS servers the containers resolve with (the lab's BIND). */
  readonly dnsServers?: pulumi.Input<pulumi.Input<string>[]>;
}

/** The Docker label that marks every object of a stack (tests and cleanup find them by it). */
export const STACK_LABEL = "mail-system.stack";

/** The resources that place one server in a container. */
export class DockerServer {
  readonly image: docker.Image;
  readonly container: docker.Container;
  readonly volumes: docker.Volume[];
  /** The container's name, for `docker exec`. */
  readonly containerName: pulumi.Output<string>;

  constructor(
    name: string,
    def: ServerDefinition,
    where: DockerPlacement & { readonly address: pulumi.Input<string> },
    parent: pulumi.Resource,
  ) {
    const base = `${where.namePrefix}-${def.role}`;
    const labels = [{ label: STACK_LABEL, value: where.namePrefix }];

    this.image = new docker.Image(
      `${name}-image`,
      {
        imageName: `${base}:latest`,
        build: { context: def.imageContext ?? path.join(FILES_DIR, def.role), args: { BASE_IMAGE: where.baseImage } },
        skipPush: true,
      },
      { parent },
    );

    // docker.Image never deletes its tag (as documented); this removes it when
    // the stack is destroyed, after the container that uses it is gone.
    const imageTag = new command.local.Command(
      `${name}-image-tag`,
      {
        delete: `docker image inspect "$IMAGE" >/dev/null 2>&1 || exit 0; docker image rm "$IMAGE" >/dev/null`,
        environment: { IMAGE: this.image.imageName },
      },
      { parent },
    );

    this.volumes = (def.dataDirectories ?? []).map(
      (dir, i) =>
        new docker.Volume(
          `${name}-data-${i}`,
          { name: `${base}-${dir.replace(/^\/+/, "").replace(/[^A-Za-z0-9]+/g, "-")}`, labels },
          { parent },
        ),
    );

    this.container = new docker.Container(
      name,
      {
        name: base,
        hostname: def.role,
        image: this.image.repoDigest,
        networksAdvanced: [{ name: where.network, ipv4Address: where.address }],
        dns: where.dnsServers,
        envs: def.env,
        uploads: pulumi.output(def.files).apply((files) => files.map(toUpload)),
        volumes: this.volumes.map((v, i) => ({ volumeName: v.name, containerPath: def.dataDirectories![i] })),
        healthcheck: {
          tests: ["CMD", ...def.healthcheck],
          interval: "5s",
          timeout: "5s",
          startPeriod: "2s",
          retries: 6,
        },
        restart: "unless-stopped",
        wait: true,
        waitTimeout: def.startTimeout ?? 180,
        labels,
      },
      { parent, dependsOn: [imageTag] },
    );
    this.containerName = this.container.name;
  }
}

function toUpload(f: RenderedFile): docker.types.input.ContainerUpload {
  const content = f.secret ? pulumi.secret(f.content) : f.content;
  return { file: f.path, content, owner: f.owner, group: f.group, permissions: f.mode };
}

/**
 * A command run in a server's container through `docker exec`, with its
 * input on stdin: `apply` on create and update, `revert` on delete. Used to
 * run SQL with the database server's own client.
 */
export function dockerExec(
  name: string,
  container: pulumi.Input<string>,
  program: string[],
  scripts: { readonly apply: pulumi.Input<string>; readonly revert?: pulumi.Input<string> },
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
    },
    opts,
  );
}
