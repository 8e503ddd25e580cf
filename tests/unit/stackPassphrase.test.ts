// The lab passphrase (scripts/env.sh's default) only for the dev stack and the
// tests' throwaway stacks: env.sh's exports, and the program's refusal.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isThrowawayBackend, LAB_PASSPHRASE, LAB_PASSPHRASE_MARKER, labPassphraseProblem } from "../../components/stackPassphrase";

const ENV_SH = path.join(__dirname, "..", "..", "scripts", "env.sh");

/** Sources scripts/env.sh in a clean bash with `env` and returns the two variables it may set. */
function sourced(env: Record<string, string>): { passphrase: string; marker: string } {
  const out = execFileSync(
    "bash",
    ["-c", `set -eu; . "$1"; printf '%s\\n%s\\n' "\${PULUMI_CONFIG_PASSPHRASE-<unset>}" "\${${LAB_PASSPHRASE_MARKER}-<unset>}"`, "bash", ENV_SH],
    { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir(), ...env }, encoding: "utf8" },
  );
  const [passphrase, marker] = out.split("\n");
  return { passphrase, marker };
}

describe("scripts/env.sh", () => {
  test("with no passphrase given: the lab's, and the marker", () => {
    expect(sourced({})).toEqual({ passphrase: LAB_PASSPHRASE, marker: "1" });
  });
  test("a passphrase given is kept, without the marker", () => {
    expect(sourced({ PULUMI_CONFIG_PASSPHRASE: "mine" })).toEqual({ passphrase: "mine", marker: "<unset>" });
  });
  test("a passphrase file given: no passphrase set, no marker", () => {
    expect(sourced({ PULUMI_CONFIG_PASSPHRASE_FILE: "/x/pass" })).toEqual({ passphrase: "<unset>", marker: "<unset>" });
  });
});

describe("labPassphraseProblem", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "passphrase-test-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const lab = { PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE, [LAB_PASSPHRASE_MARKER]: "1" };
  const throwaway = `file://${tmp}/mail-system-state-aB3xY9`;

  test("refuses another stack on env.sh's default, saying how to set a passphrase", () => {
    const problem = labPassphraseProblem("prod", lab, tmp);
    expect(problem).toContain('stack "prod" would keep its secrets under the published lab passphrase "mail-system-dev-lab"');
    expect(problem).toContain("export PULUMI_CONFIG_PASSPHRASE_FILE=");
    expect(problem).toContain("export PULUMI_CONFIG_PASSPHRASE=");
    expect(problem).toContain("pulumi stack change-secrets-provider passphrase --stack prod");
    // Also with the project's own backend, or any other.
    expect(labPassphraseProblem("prod", { ...lab, PULUMI_BACKEND_URL: "file:///home/u/state" }, tmp)).toBe(problem);
    // A test's name on a backend that is not a throwaway one is no test stack.
    expect(labPassphraseProblem("ms-lq2x3k9a1", { ...lab, PULUMI_BACKEND_URL: `file://${tmp}/elsewhere` }, tmp)).toBeDefined();
  });

  test.each<[string, string, NodeJS.ProcessEnv]>([
    ["the dev stack on the lab passphrase", "dev", lab],
    ["a tests' throwaway stack (withStack's backend)", "ms-lq2x3k9a1", { ...lab, PULUMI_BACKEND_URL: throwaway }],
    ["bench's throwaway stack", "msbw-lq2x3k9a", { ...lab, PULUMI_BACKEND_URL: `${throwaway}/` }],
    ["any stack with a passphrase of the user's", "prod", { PULUMI_CONFIG_PASSPHRASE: "mine" }],
    ["any stack with a passphrase file", "prod", { PULUMI_CONFIG_PASSPHRASE_FILE: "/x/pass" }],
    ["the lab passphrase set by the user, not by env.sh", "prod", { PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE }],
    ["env.sh's marker left over, the passphrase since changed", "prod", { ...lab, PULUMI_CONFIG_PASSPHRASE: "mine" }],
  ])("allows %s", (_, stack, env) => {
    expect(labPassphraseProblem(stack, env, tmp)).toBeUndefined();
  });
});

describe("isThrowawayBackend", () => {
  test.each<[string | undefined, boolean]>([
    [`file://${os.tmpdir()}/mail-system-state-Ab12Cd`, true],
    [`file://${os.tmpdir()}/mail-system-state-Ab12Cd/`, true],
    [`file://${os.tmpdir()}/mail-system-state-Ab12Cd/../x`, false],
    [`file://${os.tmpdir()}/mail-system-state-`, false],
    [`file://${os.tmpdir()}/x/mail-system-state-Ab12Cd`, false],
    [`file:///home/u/mail-system-state-Ab12Cd`, false],
    ["s3://bucket/mail-system-state-Ab12Cd", false],
    [undefined, false],
  ])("%s: %s", (url, expected) => {
    expect(isThrowawayBackend(url)).toBe(expected);
  });
});
