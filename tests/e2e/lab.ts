// Helpers for end-to-end tests: real processes, real Docker, throwaway stacks
// that are always destroyed.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { LocalWorkspace, Stack, ConfigMap } from "@pulumi/pulumi/automation";
import { DEFAULT_LIMITS, MailLimits, MAX_LIMIT } from "../../components/render/mailGuard";

const run = promisify(execFile);

/** Runs a command and returns its stdout; rejects with its stderr on failure. */
export async function sh(file: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export const docker = (...args: string[]): Promise<string> => sh("docker", args);

/** A container's log: Postfix writes to stdout, Dovecot to stderr. */
export function containerLog(name: string, since?: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("docker", ["logs", ...(since ? ["--since", since] : []), name], { maxBuffer: 1 << 28 }, (e, out, err) => (e ? reject(e) : resolve(out + err))),
  );
}

/** The IPv4 subnets every Docker network on this engine uses. */
async function dockerSubnets(): Promise<Set<string>> {
  const ids = (await docker("network", "ls", "-q")).split("\n").filter(Boolean);
  const out = await docker("network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", ...ids);
  return new Set(out.split(/\s+/).filter(Boolean));
}

/** A random 10.213.N.0/24 that no Docker network uses, so tests never collide with a lab. */
export async function freeSubnet(): Promise<string> {
  const used = await dockerSubnets();
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = `10.213.${1 + Math.floor(Math.random() * 254)}.0/24`;
    if (!used.has(candidate)) return candidate;
  }
  throw new Error("no free 10.213.N.0/24 subnet after 50 tries");
}

/** A short unique name for a throwaway stack and its Docker objects. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

/**
 * Filtering thresholds for a lab: this host, the lab network's gateway, has
 * no reverse DNS and its HELO name does not resolve, nor do the test senders'
 * domains, so ordinary mail from it scores about 5 (RDNS_NONE,
 * HFILTER_HOSTNAME_UNKNOWN, ...), near Rspamd's junk default (6), and a
 * clearly spammy message about 16. Thresholds with a margin either side.
 */
export const LAB_FILTERING = { junkScore: 8, rejectScore: 30 } as const;

/**
 * The Docker target's settings for a throwaway stack: a subnet of its own
 * (`net` is its first three octets), the three addresses, its name prefix,
 * and its mail volume removed on destroy (a test leaves nothing behind).
 */
export function dockerLab(name: string, net: string): PlainConfig {
  return {
    "mail-system:subnet": `${net}.0/24`,
    "mail-system:dnsAddress": `${net}.7`,
    "mail-system:dbAddress": `${net}.5`,
    "mail-system:mailAddress": `${net}.6`,
    "mail-system:namePrefix": name,
    "mail-system:purgeMailOnDestroy": true,
    "mail-system:filtering": LAB_FILTERING,
    ...(process.env.BASE_IMAGE ? { "mail-system:baseImage": process.env.BASE_IMAGE } : {}),
  };
}

/**
 * Limits no test load reaches: the load and fault tests send thousands of
 * messages a minute from one address (this host), and the bad-client battery
 * fails hundreds of logins from it; the defaults would rightly throttle and
 * ban it. The limits themselves are tested with low values
 * (badClients.test.ts).
 */
export const LOAD_LIMITS: MailLimits = {
  ...DEFAULT_LIMITS,
  smtpConnectionsPerMinute: MAX_LIMIT,
  smtpMessagesPerMinute: MAX_LIMIT,
  smtpConnectionsAtOnce: MAX_LIMIT,
  submissionRecipientsPerHour: MAX_LIMIT,
  authFailures: MAX_LIMIT,
};
/** LOAD_LIMITS as stack configuration. */
export const LOAD_TEST_LIMITS: PlainConfig = { "mail-system:limits": LOAD_LIMITS };

/** Stack configuration as plain values: lists and objects become path-style keys (`key[0].field`). */
export type PlainConfig = Record<string, unknown>;

/** Flattens plain values into the path-style ConfigMap that `setAllConfig(..., true)` writes as YAML lists and maps. */
export function toPathConfig(config: PlainConfig): ConfigMap {
  const out: ConfigMap = {};
  const walk = (key: string, value: unknown): void => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(`${key}[${i}]`, v));
    else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(`${key}.${k}`, v);
    } else out[key] = { value: String(value) };
  };
  for (const [k, v] of Object.entries(config)) walk(k, v);
  return out;
}

/**
 * Creates a stack of the program in `workDir` on a private file backend, runs
 * `body`, then destroys the stack and removes it whatever happened.
 */
export async function withStack(
  workDir: string,
  stackName: string,
  config: PlainConfig,
  body: (stack: Stack) => Promise<void>,
): Promise<void> {
  const backend = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-state-"));
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName, workDir },
    { envVars: { PULUMI_BACKEND_URL: `file://${backend}` } },
  );
  try {
    await stack.setAllConfig(toPathConfig(config), true);
    await body(stack);
  } finally {
    try {
      await stack.destroy({ onOutput: log });
    } finally {
      await stack.workspace.removeStack(stackName).catch(() => undefined);
      fs.rmSync(path.join(workDir, `Pulumi.${stackName}.yaml`), { force: true });
      fs.rmSync(backend, { recursive: true, force: true });
    }
  }
}

/**
 * Runs `body` with a throwaway TypeScript program of `source` (its index.ts)
 * in a temporary directory: the project's runtime options
 * (tsconfig.pulumi.json), dependencies and node_modules. Removed afterwards.
 */
export async function withProgram(name: string, source: string, body: (dir: string) => Promise<void>): Promise<void> {
  const root = path.join(__dirname, "..", "..");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mail-system-${name}-`));
  try {
    const project = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n    tsconfig: tsconfig.pulumi.json\n`);
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, private: true, main: "index.ts", dependencies: project.dependencies }));
    fs.writeFileSync(path.join(dir, "tsconfig.pulumi.json"), JSON.stringify({ extends: path.join(root, "tsconfig.pulumi.json"), include: ["index.ts"] }));
    fs.writeFileSync(path.join(dir, "index.ts"), source);
    fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
    await body(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Pulumi's progress output, shown only when E2E_VERBOSE is set. */
export function log(line: string): void {
  if (process.env.E2E_VERBOSE) process.stdout.write(line);
}

/** Kinds of change a preview reports other than "same". */
export function changesOf(summary: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(summary).filter(([kind, n]) => kind !== "same" && (n ?? 0) > 0),
  ) as Record<string, number>;
}

/** Replaces the given top-level keys of the stack's configuration (a list shrinks, unlike path-style sets). */
export async function replaceConfig(stack: Stack, config: PlainConfig): Promise<void> {
  for (const key of Object.keys(config)) await stack.removeConfig(key);
  await stack.setAllConfig(toPathConfig(config), true);
}
