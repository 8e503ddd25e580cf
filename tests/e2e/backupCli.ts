// `npm run backup -- <command> --stack <stack>` as a user runs it: the
// script itself (scripts/backup.ts), with the stack's backend, from the
// project's directory. Resolves with its exit code and output.
import { execFile } from "child_process";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";

const root = path.join(__dirname, "..", "..");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function backupCli(stack: Stack, args: string[]): Promise<CliResult> {
  const env = { ...process.env, ...(stack.workspace as LocalWorkspace).envVars };
  return new Promise((resolve) => {
    execFile(
      "npx",
      ["ts-node", "--transpile-only", "scripts/backup.ts", ...args, "--stack", stack.name],
      { cwd: root, env, timeout: 5 * 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
