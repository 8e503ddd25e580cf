// The stand-in language host (sdk/v3 v3.68.0) reads the project's runtime
// options only as flags, which the 3.248 engine no longer passes:
// toolchain/nodejs/language-host.sh reads them from Pulumi.yaml in the
// directory the engine starts it in and passes them, as the official host
// takes them. And the project's own options: no type check at deploy time,
// the full one in `npm test`.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const root = path.join(__dirname, "..", "..");
const script = path.join(root, "toolchain", "nodejs", "language-host.sh");

/** The arguments the real host gets, one per line, when the engine starts the script in a project with `pulumiYaml`. */
function hostArguments(pulumiYaml: string | undefined, engineArgs: string[]): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "language-host-"));
  try {
    const fake = path.join(dir, "host");
    fs.writeFileSync(fake, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n', { mode: 0o755 });
    if (pulumiYaml !== undefined) fs.writeFileSync(path.join(dir, "Pulumi.yaml"), pulumiYaml);
    const r = spawnSync("sh", [script, fake, ...engineArgs], { cwd: dir, encoding: "utf8" });
    expect(r.status).toBe(0);
    return r.stdout.split("\n").filter(Boolean);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("the runtime options become flags before the engine's arguments, each one argument", () => {
  const yaml = [
    "name: x",
    "runtime:",
    "  name: nodejs",
    "  options:",
    "    typescript: false",
    '    nodeargs: "--max-old-space-size=4096 --trace-warnings"',
    "    tsconfig: tsconfig.deploy.json # a comment",
    "config:",
    "  x:tsconfig:",
    "    tsconfig: not-a-runtime-option",
  ].join("\n");
  expect(hostArguments(yaml, ["127.0.0.1:4242"])).toEqual([
    "-typescript=false",
    "-nodeargs=--max-old-space-size=4096 --trace-warnings",
    "-tsconfig=tsconfig.deploy.json",
    "127.0.0.1:4242",
  ]);
});

test("without options (or without a Pulumi.yaml) the host gets the engine's arguments alone", () => {
  expect(hostArguments("name: x\nruntime: nodejs\n", ["127.0.0.1:4242"])).toEqual(["127.0.0.1:4242"]);
  expect(hostArguments(undefined, ["-tracing", "x", "127.0.0.1:4242"])).toEqual(["-tracing", "x", "127.0.0.1:4242"]);
});

test("the program runs without a type check, transpiled by swc (tsconfig.pulumi.json); tsconfig.json, which npm test checks with, keeps it", () => {
  expect(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")).toMatch(/^runtime:\n  name: nodejs\n  options:\n    typescript: true\n(?:    #.*\n)*    tsconfig: tsconfig\.pulumi\.json$/m);
  const strip = (text: string) => JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));
  const deploy = strip(fs.readFileSync(path.join(root, "tsconfig.pulumi.json"), "utf8"));
  expect(deploy).toEqual({ extends: "./tsconfig.json", compilerOptions: { noCheck: true }, "ts-node": { swc: true } });
  // ts-node's swc transpiler is a dependency of the project, not of the toolchain.
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  expect(pkg.devDependencies["@swc/core"]).toMatch(/^\d+\.\d+\.\d+$/);
  expect(strip(fs.readFileSync(path.join(root, "tsconfig.json"), "utf8")).compilerOptions.noCheck).toBeUndefined();
  expect(fs.readFileSync(path.join(root, "scripts", "test.sh"), "utf8")).toContain("npx tsc --noEmit -p .");
});
