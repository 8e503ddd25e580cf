// Pulumi.yaml's `config:` section is what `pulumi config` and the CLI's
// checks see; components/configKeys.ts is what the program reads. They must
// declare the same keys with the same types, defaults and descriptions.
import * as fs from "fs";
import * as path from "path";
import { CONFIG_KEYS } from "../../components/configKeys";
import { PROJECT } from "../../components/configSchema";

// js-yaml comes with @pulumi/pulumi (no type declarations of its own here).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { load(text: string): unknown };

interface Declared {
  type?: string;
  items?: { type?: string };
  default?: unknown;
  description?: string;
}

const project = yaml.load(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.yaml"), "utf8")) as {
  config: Record<string, Declared>;
};
// YAML's folded scalars and the table's concatenated strings wrap differently.
const words = (text: string | undefined) => text?.replace(/\s+/g, " ").trim();

const inYaml = Object.fromEntries(
  Object.entries(project.config).map(([key, d]) => [
    key,
    { type: d.type, items: d.items, default: d.default, description: words(d.description) },
  ]),
);
const inTable = Object.fromEntries(
  Object.entries(CONFIG_KEYS).map(([name, k]) => [
    `${PROJECT}:${name}`,
    { type: k.type, items: k.items, default: k.default, description: words(k.description) },
  ]),
);

test("Pulumi.yaml declares exactly the keys the program reads", () => {
  expect(Object.keys(inYaml).sort()).toEqual(Object.keys(inTable).sort());
});

test.each(Object.keys(inTable))("%s has the same type, default and description in Pulumi.yaml", (key) => {
  expect(inYaml[key]).toEqual(inTable[key]);
});

test("every key has a description", () => {
  for (const d of Object.values(inYaml)) expect(d.description).toMatch(/\S/);
});
