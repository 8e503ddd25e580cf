// Our provider plugins (toolchain/providers) stand in for the official ones
// at one version each; setup refuses to install them for any other version
// the npm packages ask for, instead of relabelling them.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const root = path.join(__dirname, "..", "..");
const env = fs.readFileSync(path.join(root, "toolchain", "versions.env"), "utf8");
const setting = (key: string) => new RegExp(`^${key}="([^"]*)"$`, "m").exec(env)?.[1] ?? "";
const providers = setting("PROVIDERS").split(" ");
const standins = new Map(setting("STANDIN_VERSIONS").split(" ").map((pair) => pair.split("=") as [string, string]));

/** Runs setup's check_standin NAME VERSION (setup sourced for its functions only). */
function checkStandin(name: string, version: string) {
  return spawnSync("bash", ["-c", `. scripts/setup.sh && check_standin "$1" "$2"`, "check", name, version], {
    cwd: root,
    encoding: "utf8",
  });
}

test("every plugin the program uses has a stand-in, a version, and an npm package", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  expect([...standins.keys()].sort()).toEqual([...providers].sort());
  for (const name of providers) {
    expect(fs.existsSync(path.join(root, "toolchain", "providers", name, "main.go"))).toBe(true);
    expect(Object.keys(pkg.dependencies)).toContain(`@pulumi/${name}`);
  }
  // No stand-in is left for a plugin the program no longer uses. `shared` is
  // the Go module the stand-ins share (their go.mod replaces it), not a plugin.
  expect(providers).not.toContain("shared");
  const dirs = fs.readdirSync(path.join(root, "toolchain", "providers")).filter((d) => d !== "shared");
  expect(dirs.sort()).toEqual([...providers].sort());
  expect(fs.existsSync(path.join(root, "toolchain", "providers", "shared", "go.mod"))).toBe(true);
});

test.each(providers)("the %s stand-in implements the version its installed npm package asks for", (name) => {
  const wanted = JSON.parse(fs.readFileSync(path.join(root, "node_modules", "@pulumi", name, "package.json"), "utf8")).pulumi.version;
  expect(standins.get(name)).toBe(wanted);
  expect(checkStandin(name, wanted).status).toBe(0);
});

test("setup refuses a version the stand-in does not implement, saying what to do", () => {
  const r = checkStandin("docker", "5.3.0");
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`asks for plugin docker 5.3.0, but our stand-in (toolchain/providers/docker) implements ${standins.get("docker")}`);
  expect(r.stderr).toContain("STANDIN_VERSIONS");
  const unknown = checkStandin("mysql", "3.3.2");
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toContain("implements no version");
});

test("sourcing setup runs none of its steps", () => {
  const out = execFileSync("bash", ["-c", ". scripts/setup.sh && echo sourced"], { cwd: root, encoding: "utf8" });
  expect(out).toBe("sourced\n");
});
