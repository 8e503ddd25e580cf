// The GitHub workflow cannot run here; this checks what it would do: its
// triggers, its set-up, and that it previews and deploys the stack the README
// documents, with the CLI matching the SDK.
import * as fs from "fs";
import * as path from "path";
import { Context, field, runs } from "../fixtures/githubExpression";

// js-yaml comes with @pulumi/pulumi (no type declarations of its own here).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { load(text: string): unknown };

const root = path.join(__dirname, "..", "..");

interface Step {
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  if?: string;
  "runs-on": string;
  environment?: unknown;
  steps: Step[];
}
interface Workflow {
  on: Record<string, { branches?: string[] }>;
  permissions: Record<string, string>;
  env: Record<string, string>;
  jobs: Record<string, Job>;
}

const workflow = yaml.load(fs.readFileSync(path.join(root, ".github/workflows/pulumi.yml"), "utf8")) as Workflow;
// The job that works on the stack: the one with Pulumi's action.
const [stackJobName, stackJob] = Object.entries(workflow.jobs).find(([, j]) => j.steps.some((s) => s.uses?.startsWith("pulumi/actions@")))!;
const steps = stackJob.steps;
const pulumiSteps = steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
const preview = pulumiSteps.find((s) => s.with?.command === "preview")!;
const up = pulumiSteps.find((s) => s.with?.command === "up")!;
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

describe(".github/workflows/pulumi.yml", () => {
  test("runs on pull requests to main and on pushes to main, one job on the stack", () => {
    expect(workflow.on).toEqual({ pull_request: { branches: ["main"] }, push: { branches: ["main"] } });
    expect(Object.values(workflow.jobs).filter((j) => j.steps.some((s) => s.uses?.startsWith("pulumi/actions@")))).toHaveLength(1);
    expect(workflow.permissions).toMatchObject({ "pull-requests": "write" });
  });

  test("sets the project up as on a fresh runner: checkout, Node 20, npm ci, then Pulumi", () => {
    const order = (pred: (s: Step) => boolean) => steps.findIndex(pred);
    const checkout = order((s) => s.uses?.startsWith("actions/checkout@") ?? false);
    const node = order((s) => s.uses?.startsWith("actions/setup-node@") ?? false);
    const ci = order((s) => s.run === "npm ci");
    expect([checkout, node, ci].every((i) => i >= 0)).toBe(true);
    expect(checkout).toBeLessThan(node);
    expect(node).toBeLessThan(ci);
    expect(String(steps[node].with?.["node-version"])).toBe("20");
    for (const s of pulumiSteps) expect(steps.indexOf(s)).toBeGreaterThan(ci);
  });

  test("installs the CLI of the @pulumi/pulumi version npm ci installed (pinned exactly in package.json)", () => {
    const sdk = steps.find((s) => s.id === "sdk")!;
    expect(sdk.run).toContain("require('@pulumi/pulumi/package.json').version");
    expect(require(path.join(root, "package.json")).dependencies["@pulumi/pulumi"]).toMatch(/^\d+\.\d+\.\d+$/);
    for (const s of pulumiSteps) expect(s.with?.["pulumi-version"]).toBe("${{ steps.sdk.outputs.version }}");
  });

  test("a pull request gets the preview as a comment; a push to main runs up, on the same stack", () => {
    expect(preview.if).toBe("github.event_name == 'pull_request'");
    expect(preview.with).toMatchObject({ command: "preview", diff: true, "comment-on-pr": true });
    expect(up.if).toContain("github.event_name == 'push'");
    expect(up.with?.["stack-name"]).toBe(preview.with?.["stack-name"]);
    expect(pulumiSteps).toHaveLength(2);
  });

  test("the preview it runs is the one the README documents", () => {
    const command = `pulumi preview --stack ${preview.with?.["stack-name"]} --diff`;
    expect(readme).toContain(`scripts/with-toolchain.sh ${command}`);
  });

  test("backend and passphrase come from repository secrets", () => {
    expect(workflow.env).toEqual({
      PULUMI_BACKEND_URL: "${{ secrets.PULUMI_BACKEND_URL }}",
      PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
    });
  });

  // Which jobs run, and where, for each kind of event, with the lab's
  // self-hosted runner configured (PULUMI_RUNNER). A fork's pull request is
  // anyone's code: it must never run on that runner, whose Docker engine is
  // root on the lab's host.
  describe("who runs on the lab's self-hosted runner", () => {
    const LAB = "lab-runner";
    const REPO = "example/mail-system";
    const event = (name: "push" | "pull_request", head?: string | null): Context => ({
      github: {
        event_name: name,
        ref: name === "push" ? "refs/heads/main" : "refs/pull/7/merge",
        repository: REPO,
        event: name === "pull_request" ? { pull_request: { head: { repo: head === null ? null : { full_name: head ?? REPO } } } } : {},
      },
      vars: { PULUMI_RUNNER: LAB },
    });
    /** The jobs that run for `ctx`, each with the runner it asks for. */
    const jobsFor = (ctx: Context) =>
      Object.entries(workflow.jobs)
        .filter(([, j]) => runs(j.if, ctx))
        .map(([name, j]) => ({ name, runner: field(j["runs-on"], ctx), job: j }));
    const stepsFor = (job: Job, ctx: Context) => job.steps.filter((s) => runs(s.if, ctx));

    test("a pull request from a fork runs nothing there, nor one whose fork was deleted", () => {
      for (const ctx of [event("pull_request", "someone/mail-system"), event("pull_request", "SOMEONE/Mail-System"), event("pull_request", null)]) {
        const jobs = jobsFor(ctx);
        expect(jobs.map((j) => j.runner)).not.toContain(LAB);
        expect(jobs.map((j) => j.name)).not.toContain(stackJobName);
        // What runs instead is on a GitHub-hosted machine and never touches the stack.
        for (const j of jobs) {
          expect(j.runner).toBe("ubuntu-latest");
          expect(JSON.stringify(j.job)).not.toMatch(/pulumi\/actions|secrets\./);
        }
      }
    });

    test("a pull request from a branch of the repository gets the preview there", () => {
      const ctx = event("pull_request");
      const jobs = jobsFor(ctx);
      const stack = jobs.find((j) => j.name === stackJobName)!;
      expect(stack.runner).toBe(LAB);
      expect(stepsFor(stack.job, ctx).filter((s) => s.uses?.startsWith("pulumi/actions@")).map((s) => s.with?.command)).toEqual(["preview"]);
    });

    test("a push to main deploys there, and nothing else runs", () => {
      const ctx = event("push");
      const jobs = jobsFor(ctx);
      expect(jobs.map((j) => [j.name, j.runner])).toEqual([[stackJobName, LAB]]);
      expect(stepsFor(stackJob, ctx).filter((s) => s.uses?.startsWith("pulumi/actions@")).map((s) => s.with?.command)).toEqual(["up"]);
    });

    test("it never runs a pull request's code with the base repository's rights (no pull_request_target, workflow_run)", () => {
      const text = fs.readFileSync(path.join(root, ".github/workflows/pulumi.yml"), "utf8");
      expect(Object.keys(workflow.on)).not.toEqual(expect.arrayContaining(["pull_request_target"]));
      expect(Object.keys(workflow.on)).not.toEqual(expect.arrayContaining(["workflow_run"]));
      expect(text).not.toMatch(/^\s*(pull_request_target|workflow_run)\s*:/m);
    });
  });

  test("the README says fork pull requests never reach the lab's runner", () => {
    expect(readme).toMatch(/head\.repo\.full_name == github\.repository/);
  });
});
