// The baseline of the steady-state loop (issue: "no-change preview at most
// 1.5x that of a one-resource TypeScript program in the same toolchain"): a
// program of one RandomString, run by the same CLI, language host and
// node_modules with the project's own runtime options (tsconfig.pulumi.json:
// transpile-only, through swc), on a throwaway stack of its own.
import { Stack } from "@pulumi/pulumi/automation";
import { log, withProgram, withStack } from "../tests/e2e/lab";

const PROGRAM = `import * as random from "@pulumi/random";
export const value = new random.RandomString("one", { length: 8 }).result;
`;

/** Runs `body` with the one-resource program deployed; removes stack and program afterwards. */
export async function withOneResourceProgram(stackName: string, body: (stack: Stack) => Promise<void>): Promise<void> {
  await withProgram("one-resource", PROGRAM, (dir) =>
    withStack(dir, stackName, {}, async (stack) => {
      await stack.up({ onOutput: log });
      await body(stack);
    }),
  );
}
