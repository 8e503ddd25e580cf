// The baseline of the steady-state loop (issue: "no-change preview at most
// 1.5x that of a one-resource TypeScript program in the same toolchain"): a
// program of one RandomString, run by the same CLI, language host and
// node_modules with the project's own runtime options (tsconfig.pulumi.json:
// transpile-only, through swc), on a throwaway stack of its own.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { log, withStack } from "../tests/e2e/lab";
import { ROOT } from "./common";

const PROGRAM = `import * as random from "@pulumi/random";
export const value = new random.RandomString("one", { length: 8 }).result;
`;

/** Runs `body` with the one-resource program deployed; removes stack and program afterwards. */
export async function withOneResourceProgram(stackName: string, body: (stack: Stack) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-system-one-resource-"));
  try {
    const project = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: one-resource\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n    tsconfig: tsconfig.pulumi.json\n");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "one-resource", private: true, main: "index.ts", dependencies: project.dependencies }));
    fs.writeFileSync(path.join(dir, "tsconfig.pulumi.json"), JSON.stringify({ extends: path.join(ROOT, "tsconfig.pulumi.json"), include: ["index.ts"] }));
    fs.writeFileSync(path.join(dir, "index.ts"), PROGRAM);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    await withStack(dir, stackName, {}, async (stack) => {
      await stack.up({ onOutput: log });
      await body(stack);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
