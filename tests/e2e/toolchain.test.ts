// Proof that the toolchain scripts/setup.sh provides really works: a throwaway
// stack using every provider plugin goes up, previews with no changes and
// is destroyed without leaving anything behind.
import * as crypto from "crypto";
import * as path from "path";
import { BASE_IMAGE } from "../../components/baseImage";
import { changesOf, docker, freeSubnet, log, sh, uniqueName, withProgram, withStack } from "./lab";

jest.setTimeout(20 * 60_000);

const root = path.join(__dirname, "..", "..");
const fixture = path.join(__dirname, "fixtures", "toolchain");

function npmPluginVersion(pkg: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(root, "node_modules", "@pulumi", pkg, "package.json")).pulumi.version;
}

test("the CLI and the provider plugins are at the versions the npm packages declare", async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require(path.join(root, "node_modules", "@pulumi", "pulumi", "package.json")).version;
  expect((await sh("pulumi", ["version"])).trim()).toBe(`v${sdk}`);

  const plugins: { name: string; kind: string; version: string }[] = JSON.parse(
    await sh("pulumi", ["plugin", "ls", "--json"]),
  );
  for (const name of ["command", "docker", "random"]) {
    const versions = plugins
      .filter((p) => p.kind === "resource" && p.name === name)
      .map((p) => p.version.replace(/\+.*$/, "")); // a local build carries +mail-system
    expect({ name, versions }).toEqual({ name, versions: expect.arrayContaining([npmPluginVersion(name)]) });
  }
});

test("a stack using every provider goes up, previews no changes and is destroyed cleanly", async () => {
  const name = uniqueName("tc");
  const subnet = await freeSubnet();
  let volumes: string[] = [];
  try {
    await withStack(
      fixture,
      name,
      {
        "toolchain-proof:prefix": name,
        "toolchain-proof:subnet": subnet,
        "toolchain-proof:baseImage": process.env.BASE_IMAGE ?? BASE_IMAGE,
      },
      async (stack) => {
        const up = await stack.up({ onOutput: log });
        const out = up.outputs;

        // random: the password is a secret; command: it reached the process
        // through the environment.
        const password = out.appPasswordOut.value as string;
        expect(out.appPasswordOut.secret).toBe(true);
        expect(password).toHaveLength(24);
        const digest = crypto.createHash("sha256").update(password).digest("hex");
        expect(out.fingerprintOut.value).toBe(digest.slice(0, 16));

        // docker: the container runs, healthy, at its address on its network.
        const container = out.containerName.value as string;
        const state = await docker("inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", container);
        expect(state.trim()).toBe("running healthy");
        const ip = await docker(
          "inspect",
          "--format",
          `{{(index .NetworkSettings.Networks "${out.networkName.value}").IPAddress}}`,
          container,
        );
        expect(ip.trim()).toBe(subnet.replace(/0\/24$/, "5"));
        expect(out.imageDigest.value).toMatch(/^sha256:[0-9a-f]{64}$/);
        // The data volume (/var/lib/mysql, as DockerServer makes it): destroy must remove it too.
        volumes = (await docker("inspect", "--format", "{{range .Mounts}}{{.Name}} {{end}}", container))
          .split(/\s+/)
          .filter(Boolean);
        expect(volumes).toHaveLength(1);

        // command: the database exists and the app user logs in (on the
        // address the server listens on, over TLS verified with the CA) with SELECT only.
        const grants = await docker(
          "exec", container, "mariadb", "--protocol=tcp", `-h${ip.trim()}`, "-uapp", `-p${password}`,
          "--ssl-ca=/etc/mysql/ssl/ca.pem", "--ssl-verify-server-cert",
          "-N", "-e", "SHOW GRANTS FOR CURRENT_USER; SHOW DATABASES",
        );
        expect(grants).toContain("GRANT SELECT ON `mailserver`.* TO `app`@`%`");
        expect(grants.split("\n")).toContain("mailserver");

        const preview = await stack.preview({ onOutput: log });
        expect(changesOf(preview.changeSummary)).toEqual({});
      },
    );

    expect(await docker("ps", "-a", "-q", "--filter", `label=mail-system.test=${name}`)).toBe("");
    expect(await docker("network", "ls", "-q", "--filter", `name=${name}-net`)).toBe("");
    const remaining = (await docker("volume", "ls", "-q")).split("\n");
    expect(volumes.filter((v) => remaining.includes(v))).toEqual([]);
  } finally {
    // The Image resource never deletes tags (as documented); the test does.
    await docker("rmi", `${name}-db:latest`).catch(() => undefined);
  }
});

test("an error the program throws is reported with its TypeScript lines, the SDK's promise stacks skipped as index.ts does", async () => {
  const source = [
    'import * as random from "@pulumi/random";',
    `import { skipPromiseLeakStacks } from ${JSON.stringify(path.join(root, "components", "promiseStacks"))};`,
    "skipPromiseLeakStacks(process.env);",
    'export const value = new random.RandomString("one", { length: 8 }).result;',
    "function fail(): never {",
    '  throw new Error("deliberate failure");',
    "}",
    "fail();",
  ].join("\n") + "\n";
  let output = "";
  await withProgram("error-program", source, (dir) =>
    withStack(dir, uniqueName("err"), {}, async (stack) => {
      await expect(stack.preview({ onOutput: (line) => (output += line) })).rejects.toThrow();
    }),
  );
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  expect(plain).toContain("Error: deliberate failure");
  expect(plain).toMatch(/at fail \(.*index\.ts:6:9\)/); // the throw, in the TypeScript source
  expect(plain).toMatch(/index\.ts:8:1\)/); // its caller
  // The CLI runs the language host it finds next to itself (scripts/setup.sh), without a warning.
  expect(plain).not.toContain("from $PATH");
});
