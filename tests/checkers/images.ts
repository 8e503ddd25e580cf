// The project's image of each role and its servers, for the checker tests
// (and the bench's plain-docker baseline). buildImage builds files/image with
// the role's PACKAGES and DEBCONF, as DockerTarget does; runWithFiles runs a
// daemon's own checker on rendered files in a throwaway container of it;
// ServerContainer starts a server as the program does
// (components/targets/docker.ts and scripted.ts): the supervisor as PID 1
// with the manifest of the role's real units, confined to the role's
// capabilities with no-new-privileges, then the program's own scripts
// through `docker exec`, script on stdin: packages (in the image, only the
// spec's `prepare`), files, each unit (its check, enable, restart), health.
import { execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { BASE_IMAGE } from "../../components/baseImage";
import { NAMED_CAPABILITIES, NAMED_SERVICES } from "../../components/bindServer";
import { MAIL_CAPABILITIES, MAIL_DEBCONF, MAIL_IMAGE_WARMUP, MAIL_PREPARE, MAIL_SERVICES } from "../../components/mailServer";
import { DB_CAPABILITIES, DB_PREPARE, DB_SERVICES } from "../../components/mysqlServer";
import { imagePackages, PACKAGES } from "../../components/packages";
import { FILES_DIR } from "../../components/render/template";
import { RenderedFile } from "../../components/render/types";
import { IMAGE_CONTEXT, NO_NEW_PRIVILEGES } from "../../components/targets/docker";
import {
  containerCommand,
  filesDigest,
  filesScript,
  healthScript,
  healthcheckPath,
  packagesScript,
  Phase,
  SERVICES_MANIFEST,
  serviceScript,
  servicesManifest,
  SUPERVISOR_PATH,
} from "../../components/targets/hostScripts";
import { healthcheckFile } from "../../components/targets/scripted";
import { Capability, DEFAULT_HEALTH, ServiceSpec } from "../../components/targets/server";

const run = promisify(execFile);
const built = new Map<string, Promise<string>>();

export type Role = keyof typeof PACKAGES;

/** What a role's spec says besides its files, from the components themselves. */
export interface RoleSpec {
  readonly services: readonly ServiceSpec[];
  readonly capabilities: readonly Capability[];
  readonly prepare?: { readonly apply: string; readonly revert: string };
  readonly debconf?: readonly string[];
  readonly imageWarmup?: string;
}

export const ROLE_SPECS: Readonly<Record<Role, RoleSpec>> = {
  dns: { services: NAMED_SERVICES, capabilities: NAMED_CAPABILITIES },
  db: { services: DB_SERVICES, capabilities: DB_CAPABILITIES, prepare: DB_PREPARE },
  mail: { services: MAIL_SERVICES, capabilities: MAIL_CAPABILITIES, prepare: MAIL_PREPARE, debconf: MAIL_DEBCONF, imageWarmup: MAIL_IMAGE_WARMUP },
};

/** The build arguments DockerTarget passes for a role: the base image, its Debian packages and debconf answers, its warm-up. */
export function imageBuildArgs(role: Role, baseImage: string): string[] {
  return [
    "--build-arg", `BASE_IMAGE=${baseImage}`,
    "--build-arg", `PACKAGES=${imagePackages(role)}`,
    "--build-arg", `DEBCONF=${(ROLE_SPECS[role].debconf ?? []).join("\n")}`,
    ...(ROLE_SPECS[role].imageWarmup ? ["--build-arg", `WARMUP=${ROLE_SPECS[role].imageWarmup}`] : []),
  ];
}

/** Builds a role's image from files/image once per test run (Docker's layer cache makes re-runs fast); returns the tag. */
export function buildImage(role: Role): Promise<string> {
  let image = built.get(role);
  if (!image) {
    const tag = `mail-system-check-${role}:latest`;
    const base = process.env.BASE_IMAGE ?? BASE_IMAGE;
    image = run("docker", ["build", "-q", ...imageBuildArgs(role, base), "-t", tag, IMAGE_CONTEXT], {
      timeout: 15 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    }).then(() => tag);
    built.set(role, image);
  }
  return image;
}

export interface CheckResult {
  readonly code: number;
  readonly output: string;
}

/**
 * Runs `script` (sh) in a throwaway container of `image` with `files` written
 * at their paths, owners and modes first. Never throws on a non-zero exit:
 * the caller asserts on `code` and `output` (stdout and stderr together).
 */
export async function runWithFiles(image: string, files: readonly RenderedFile[], script: string): Promise<CheckResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-check-"));
  try {
    const install: string[] = [];
    files.forEach((f, i) => {
      fs.writeFileSync(path.join(dir, String(i)), f.content);
      install.push(
        `mkdir -p '${path.posix.dirname(f.path)}'`,
        `install -o '${f.owner}' -g '${f.group}' -m '${f.mode}' /rendered/${i} '${f.path}'`,
      );
    });
    const body = [...install, script].join("\n");
    try {
      const { stdout, stderr } = await run(
        "docker",
        ["run", "--rm", "--network", "none", "-v", `${dir}:/rendered:ro`, "--entrypoint", "sh", image, "-c", `exec 2>&1\n${body}`],
        { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      );
      return { code: 0, output: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === "number" ? e.code : -1, output: (e.stdout ?? "") + (e.stderr ?? "") };
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a command with `input` on stdin; never throws on a non-zero exit (code -1: killed at the timeout). */
function runWithInput(file: string, args: readonly string[], input: string | Buffer, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    p.stdout.on("data", (d) => (output += d));
    p.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
    p.stdin.end(input);
  });
}

async function docker(args: readonly string[], timeout = 60_000): Promise<CheckResult> {
  try {
    const { stdout, stderr } = await run("docker", [...args], { timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message?: string };
    return { code: typeof e.code === "number" ? e.code : -1, output: (e.stdout ?? "") + (e.stderr ?? "") || (e.message ?? "") };
  }
}

async function dockerOk(args: readonly string[], timeout = 60_000): Promise<string> {
  const r = await docker(args, timeout);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (${r.code}): ${r.output}`);
  return r.output;
}

/** A ustar archive of regular files owned by root (Docker makes the missing parents), for `docker cp -a -`. */
function tarOfRootFiles(files: readonly { path: string; content: string; mode: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    const body = Buffer.from(f.content, "utf8");
    const h = Buffer.alloc(512);
    const put = (s: string, at: number, len: number) => h.write(s, at, len, "ascii");
    const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";
    put(f.path.replace(/^\//, ""), 0, 100);
    put(octal(parseInt(f.mode, 8), 8), 100, 8);
    put(octal(0, 8), 108, 8);
    put(octal(0, 8), 116, 8);
    put(octal(body.length, 12), 124, 12);
    put(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
    put("        ", 148, 8); // the checksum is computed with this field as spaces
    put("0", 156, 1);
    put("ustar\u000000", 257, 8);
    const sum = h.reduce((a, b) => a + b, 0);
    put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** How a server's container is made (DockerServer's settings that a test or the bench chooses). */
export interface ServerOptions {
  /** Default mail-system-check-<role>-<pid>-<time>. */
  readonly name?: string;
  /** A network's name, "none" (the default) or "container:<name>" (sharing its network namespace). */
  readonly network?: string;
  readonly ip?: string;
  /** The DNS server the container resolves with. */
  readonly dns?: string;
  /** The container's environment and the health check's (DockerTarget gives both the spec's healthEnv). */
  readonly env?: Readonly<Record<string, string>>;
  /** -v arguments: volumes, or a test's own staging directory. */
  readonly volumes?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Docker's own health check of the container (the role's, with DEFAULT_HEALTH) and DockerServer's restart policy. */
  readonly dockerHealth?: boolean;
  /** The units the container runs (its manifest), when not the role's own (e.g. the mail server's web server alone). */
  readonly services?: readonly ServiceSpec[];
}

/** A server's container, made and set up as DockerTarget and ScriptedServer do. */
export class ServerContainer {
  private constructor(
    readonly role: Role,
    readonly name: string,
    private readonly env: Readonly<Record<string, string>>,
    readonly services: readonly ServiceSpec[],
  ) {}

  /** What the files steps wrote last (the early set and the rest): the units' steps carry the digests of what each reads. */
  private written: readonly RenderedFile[] = [];
  private writtenEarly: readonly RenderedFile[] = [];

  /**
   * Creates the container from `image` with the supervisor as its entrypoint
   * and the manifest of the role's units uploaded (as DockerServer does), and
   * starts it: nothing runs in it yet but the supervisor.
   */
  static async create(image: string, role: Role, options: ServerOptions = {}): Promise<ServerContainer> {
    const name = options.name ?? `mail-system-check-${role}-${process.pid}-${Date.now().toString(36)}`;
    const network = options.network ?? "none";
    const env = options.env ?? {};
    const args = ["create", "--name", name, "--entrypoint", SUPERVISOR_PATH, "--network", network];
    // Confined as DockerServer confines it: the role's capabilities only, no new privileges.
    args.push("--cap-drop", "ALL", ...ROLE_SPECS[role].capabilities.flatMap((c) => ["--cap-add", c]), "--security-opt", NO_NEW_PRIVILEGES);
    // (A container in another's network namespace has that one's hostname.)
    if (!network.startsWith("container:")) args.push("--hostname", role);
    if (options.ip) args.push("--ip", options.ip);
    if (options.dns) args.push("--dns", options.dns);
    for (const [k, v] of Object.entries(env)) args.push("--env", `${k}=${v}`);
    for (const v of options.volumes ?? []) args.push("--volume", v);
    for (const [k, v] of Object.entries(options.labels ?? {})) args.push("--label", `${k}=${v}`);
    if (options.dockerHealth) {
      const h = DEFAULT_HEALTH;
      args.push(
        "--health-cmd", healthcheckPath(role), "--health-interval", `${h.intervalSeconds}s`,
        "--health-timeout", `${h.timeoutSeconds}s`, "--health-retries", String(h.retries), "--restart", "unless-stopped",
      );
    }
    await dockerOk([...args, image]);
    const services = options.services ?? ROLE_SPECS[role].services;
    const server = new ServerContainer(role, name, env, services);
    try {
      const archive = tarOfRootFiles([
        { path: SUPERVISOR_PATH, content: fs.readFileSync(path.join(FILES_DIR, "common", "supervisor.sh"), "utf8"), mode: "0755" },
        { path: SERVICES_MANIFEST, content: servicesManifest(services), mode: "0644" },
      ]);
      const cp = await runWithInput("docker", ["cp", "-a", "-", `${name}:/`], archive, process.env, 60_000);
      if (cp.code !== 0) throw new Error(`docker cp into ${name} failed: ${cp.output}`);
      await dockerOk(["start", name]);
    } catch (e) {
      await server.remove();
      throw e;
    }
    return server;
  }

  /** Runs one of the program's phased scripts in the container exactly as DockerServer does (containerCommand, script on stdin). */
  script(script: string, phase: Phase = "create", timeoutMs = 300_000): Promise<CheckResult> {
    return runWithInput("sh", ["-c", containerCommand(phase)], script, { ...process.env, CONTAINER: this.name }, timeoutMs);
  }

  /** The packages step: the image has every package, so this answers debconf and runs the spec's `prepare`. */
  packages(): Promise<CheckResult> {
    const spec = ROLE_SPECS[this.role];
    return this.script(
      packagesScript(this.role, "debian", PACKAGES[this.role].debian, {
        ...(spec.debconf ? { debconf: spec.debconf } : {}),
        ...(spec.prepare ? { prepare: spec.prepare } : {}),
      }),
    );
  }

  /** The files step: the rendered files and the role's health check, with their owners, groups and modes. */
  writeFiles(files: readonly RenderedFile[]): Promise<CheckResult> {
    this.written = [...files, healthcheckFile(this.role)];
    return this.script(filesScript(this.role, this.written));
  }

  /** The early files step (ServerSpec.earlyFiles): the files the early units read, written before the others. */
  writeEarlyFiles(files: readonly RenderedFile[]): Promise<CheckResult> {
    this.writtenEarly = files;
    return this.script(filesScript(this.role, files, "early"));
  }

  /**
   * Each unit's step in order, with the digest of the files it reads among
   * those last written, as ScriptedServer runs it: made (`create`: check,
   * enable, restart) or updated (`update`: started if stopped, reloaded or
   * restarted if a file it reads changed). `which`: every unit, the early
   * ones only, or the others. Stops at the first that fails and returns its
   * result.
   */
  async startServices(phase: "create" | "update" = "create", which: "all" | "early" | "late" = "all"): Promise<CheckResult> {
    let output = "";
    const chosen = this.services.filter((s) => which === "all" || (which === "early") === (s.early ?? false));
    for (const service of chosen) {
      const digest = filesDigest([...this.writtenEarly, ...this.written].filter((file) => service.reads(file.path)));
      const r = await this.script(serviceScript(this.role, service, "debian", digest), phase);
      output += r.output;
      if (r.code !== 0) return { code: r.code, output };
    }
    return { code: 0, output };
  }

  /** The health step: waits (at most `seconds`) for the role's health check to pass. */
  health(seconds = DEFAULT_HEALTH.deploySeconds): Promise<CheckResult> {
    return this.script(healthScript(this.role, this.env, seconds));
  }

  /**
   * Sets the server up as ScriptedServer does: packages; with `early`, its
   * files, then the early units and, at the same time, the other files
   * (`files` may still be on their way: the program's wait for the
   * database); the other units; health. Returns the seconds it took.
   */
  async setUp(files: readonly RenderedFile[] | Promise<readonly RenderedFile[]>, healthSeconds = 60, early?: readonly RenderedFile[]): Promise<number> {
    const t0 = Date.now();
    const step = async (name: string, body: () => Promise<CheckResult>) => {
      const r = await body();
      if (r.code !== 0) throw new Error(`${this.name}: the ${name} step failed (${r.code}):\n${r.output}\n--- container log:\n${await this.logs()}`);
    };
    await step("packages", () => this.packages());
    if (early) await step("early files", () => this.writeEarlyFiles(early));
    await Promise.all([
      ...(early ? [step("early services", () => this.startServices("create", "early"))] : []),
      step("files", async () => this.writeFiles(await files)),
    ]);
    await step("services", () => this.startServices("create", early ? "late" : "all"));
    await step("health", () => this.health(healthSeconds));
    return (Date.now() - t0) / 1000;
  }

  /** A bash script as root in the container (a test's own probe, not a step of the program), stderr with stdout. */
  exec(script: string, timeoutMs = 60_000): Promise<CheckResult> {
    return docker(["exec", this.name, "bash", "-c", `exec 2>&1\n${script}`], timeoutMs);
  }

  /** The container's log: the supervisor's and the daemons' output. */
  async logs(): Promise<string> {
    return (await docker(["logs", this.name])).output;
  }

  async remove(): Promise<void> {
    await docker(["rm", "-f", "-v", this.name]);
  }
}

/** A server of `role` from its image, set up with `files` and healthy; removed again if that fails. */
export async function startServer(role: Role, files: readonly RenderedFile[], options: ServerOptions = {}): Promise<ServerContainer> {
  const server = await ServerContainer.create(await buildImage(role), role, options);
  try {
    await server.setUp(files);
  } catch (e) {
    await server.remove();
    throw e;
  }
  return server;
}
