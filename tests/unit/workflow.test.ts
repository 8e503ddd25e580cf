// The GitHub workflow cannot run here; this checks what it would do: its
// triggers, its set-up, and that it previews and deploys the stack the README
// documents, with the CLI matching the SDK.
import * as fs from "fs";
import * as path from "path";

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
interface Workflow {
  on: Record<string, { branches?: string[] }>;
  permissions: Record<string, string>;
  env: Record<string, string>;
  jobs: Record<string, { "runs-on": string; steps: Step[] }>;
}

const workflow = yaml.load(fs.readFileSync(path.join(root, ".github/workflows/pulumi.yml"), "utf8")) as Workflow;
const steps = Object.values(workflow.jobs)[0].steps;
const pulumiSteps = steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
const preview = pulumiSteps.find((s) => s.with?.command === "preview")!;
const up = pulumiSteps.find((s) => s.with?.command === "up")!;
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

describe(".github/workflows/pulumi.yml", () => {
  test("runs on pull requests to main and on pushes to main, with one job", () => {
    expect(workflow.on).toEqual({ pull_request: { branches: ["main"] }, push: { branches: ["main"] } });
    expect(Object.keys(workflow.jobs)).toHaveLength(1);
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
});
