// The base image is named once, in components/baseImage.ts. The shell side
// (toolchain/versions.env, which setup pulls or makes), the Dockerfiles' ARG
// defaults and the toolchain fixture's Pulumi.yaml cannot import it, so they
// are checked against it here (Pulumi.yaml's default: pulumiYaml.test.ts).
import * as fs from "fs";
import * as path from "path";
import { BASE_IMAGE } from "../../components/baseImage";

const root = path.join(__dirname, "..", "..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");

/** Every file named Dockerfile under `dir` (relative to the project). */
function dockerfiles(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return dockerfiles(rel);
    return e.name === "Dockerfile" ? [rel] : [];
  });
}

test("toolchain/versions.env's BASE_IMAGE and DEBIAN_SUITE are the constant's", () => {
  const env = read("toolchain/versions.env");
  expect(/^BASE_IMAGE=(.*)$/m.exec(env)?.[1]).toBe(BASE_IMAGE);
  // setup.sh makes the image with debootstrap from the tag's suite when it cannot pull it.
  expect(BASE_IMAGE).toMatch(/^debian:[a-z]+(-slim)?$/);
  expect(/^DEBIAN_SUITE=(.*)$/m.exec(env)?.[1]).toBe(BASE_IMAGE.replace(/^debian:/, "").replace(/-slim$/, ""));
});

test("a Dockerfile's default BASE_IMAGE, if it has one, is the constant", () => {
  const files = [...dockerfiles("files"), ...dockerfiles("tests/e2e/fixtures")];
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    for (const m of read(file).matchAll(/^ARG BASE_IMAGE=(\S*)/gm)) expect(`${file}: ${m[1]}`).toBe(`${file}: ${BASE_IMAGE}`);
  }
});

test("the toolchain fixture's baseImage default is the constant", () => {
  expect(read("tests/e2e/fixtures/toolchain/Pulumi.yaml")).toMatch(new RegExp(`baseImage:\\n(?: .*\\n)*? +default: ${BASE_IMAGE}\\n`));
});

test("no other TypeScript file names the base image", () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== "node_modules" && !e.name.startsWith(".")) walk(rel);
      else if (/\.ts$/.test(e.name) && read(rel).includes(BASE_IMAGE)) offenders.push(rel);
    }
  };
  ["components", "bench", "tests/e2e", "tests/checkers"].forEach(walk);
  if (read("index.ts").includes(BASE_IMAGE)) offenders.push("index.ts");
  expect(offenders).toEqual(["components/baseImage.ts"]);
});
