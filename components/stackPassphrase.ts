// The published lab passphrase is for the dev lab and the tests' throwaway
// stacks only. scripts/env.sh sets it when no passphrase is given, and marks
// that it did (LAB_PASSPHRASE_MARKER); the program, which alone knows its
// stack for certain, refuses any other stack that runs on it. Pure, so the
// refusal and the allowed cases are unit-tested.
import * as os from "os";
import * as path from "path";

/** The dev lab's documented passphrase (README "State and secrets"). */
export const LAB_PASSPHRASE = "mail-system-dev-lab";
/** Set to 1 by scripts/env.sh when it put LAB_PASSPHRASE in PULUMI_CONFIG_PASSPHRASE. */
export const LAB_PASSPHRASE_MARKER = "MAIL_SYSTEM_LAB_PASSPHRASE";
/** The stacks that may use the lab passphrase, besides the tests' throwaway stacks. */
export const LAB_STACKS: readonly string[] = ["dev"];

/**
 * Whether the state backend is a throwaway one of the tests: withStack
 * (tests/e2e/lab.ts, which the tests and bench/ use) gives each stack a fresh
 * file backend `mail-system-state-XXXXXX` in the temporary directory and
 * deletes it afterwards, so nothing encrypted with the lab passphrase stays.
 */
export function isThrowawayBackend(backendUrl: string | undefined, tmpdir: string = os.tmpdir()): boolean {
  if (!backendUrl?.startsWith("file://")) return false;
  const dir = path.resolve(backendUrl.slice("file://".length));
  return path.dirname(dir) === path.resolve(tmpdir) && /^mail-system-state-[A-Za-z0-9]{6}$/.test(path.basename(dir));
}

/**
 * Why `stack` must not run, or undefined: it runs on the lab passphrase that
 * scripts/env.sh set by default (its marker set and the passphrase still
 * the lab's) and is neither a lab stack nor a tests' throwaway stack. A
 * passphrase the user set, even the lab's, is their choice and never refused.
 */
export function labPassphraseProblem(stack: string, env: NodeJS.ProcessEnv, tmpdir: string = os.tmpdir()): string | undefined {
  if (env[LAB_PASSPHRASE_MARKER] !== "1" || env.PULUMI_CONFIG_PASSPHRASE !== LAB_PASSPHRASE) return undefined;
  if (LAB_STACKS.includes(stack) || isThrowawayBackend(env.PULUMI_BACKEND_URL, tmpdir)) return undefined;
  return [
    `stack "${stack}" would keep its secrets under the published lab passphrase "${LAB_PASSPHRASE}",`,
    `which scripts/env.sh sets only for the ${LAB_STACKS.map((s) => `"${s}"`).join(", ")} stack and the tests' throwaway stacks:`,
    "anyone who can read the state could decrypt them. Set your own passphrase first, e.g.",
    "  export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/mail-system/passphrase   (a file holding it, mode 0600)",
    "or",
    "  export PULUMI_CONFIG_PASSPHRASE='<your passphrase>'",
    "then run the command again. (A stack created under the lab passphrase keeps it until you re-key it",
    `with \`pulumi stack change-secrets-provider passphrase --stack ${stack}\`.)`,
  ].join("\n");
}
