// Shared by the benchmark scripts: where the project is, a clock, and the
// plain-docker helpers. Benchmarks reuse the end-to-end tests' lab helpers
// (throwaway stacks, free subnets, unique names) so they touch only Docker
// objects they created.
import { spawn } from "child_process";
import * as path from "path";
import { docker, sh } from "../tests/e2e/lab";

export { docker, sh };

/** The project's root. */
export const ROOT = path.join(__dirname, "..");

/**
 * The directory whose Pulumi program is measured: the project itself unless
 * BENCH_PROGRAM_DIR names a copy (e.g. a snapshot while the tree is being edited).
 */
export const PROGRAM_DIR = process.env.BENCH_PROGRAM_DIR ?? ROOT;

/** Seconds since `t0` (a performance.now() value), to 0.1 s. */
export function since(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

/** Runs `body` and returns its result with how long it took in seconds. */
export async function timed<T>(body: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await body();
  return { seconds: since(t0), value };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Progress on stderr, so stdout stays the table. */
export function note(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Polls `probe` every `everyMs` until it returns true; false when `timeoutMs` passes first. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    if (await probe().catch(() => false)) return true;
    await sleep(everyMs);
  }
  return false;
}

/** Runs docker with `input` on stdin. */
export function dockerWithInput(args: string[], input: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("error", reject);
    p.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args.join(" ")}: ${err}`))));
    p.stdin.end(input);
  });
}
