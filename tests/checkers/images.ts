// Builds the project's images (files/<role>/Dockerfile) for the checker tests
// and runs a daemon's own checker inside them on rendered files.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { BASE_IMAGE } from "../../components/baseImage";
import { imagePackages, PACKAGES } from "../../components/packages";
import { FILES_DIR } from "../../components/render/template";
import { RenderedFile } from "../../components/render/types";

const run = promisify(execFile);
const built = new Map<string, Promise<string>>();

/** Builds files/<role> once per test run (Docker's layer cache makes re-runs fast); returns the tag. */
export function buildImage(role: keyof typeof PACKAGES): Promise<string> {
  let image = built.get(role);
  if (!image) {
    const tag = `mail-system-check-${role}:latest`;
    const base = process.env.BASE_IMAGE ?? BASE_IMAGE;
    const args = ["--build-arg", `BASE_IMAGE=${base}`, "--build-arg", `PACKAGES=${imagePackages(role)}`];
    image = run("docker", ["build", "-q", ...args, "-t", tag, path.join(FILES_DIR, role)], {
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
