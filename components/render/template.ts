// A deliberately small template language for the config templates in files/:
// `{{name}}` is replaced by the value of `name`. Every placeholder must have a
// value and every value must be used, so a typo fails loudly instead of
// rendering a broken config.
import * as fs from "fs";
import * as path from "path";

/** The project's files/ directory, where templates and Dockerfiles live. */
export const FILES_DIR = path.join(__dirname, "..", "..", "files");

export type TemplateValues = Readonly<Record<string, string | number>>;

/** Renders `template` with `values`; throws on a missing or unused value. */
export function fill(template: string, values: TemplateValues, name = "template"): string {
  const used = new Set<string>();
  const out = template.replace(/\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`${name}: no value for {{${key}}}`);
    used.add(key);
    return String(values[key]);
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`${name}: unused values ${unused.join(", ")}`);
  return out;
}

/** Reads files/<relativePath> and fills it. */
export function renderTemplate(relativePath: string, values: TemplateValues): string {
  const text = fs.readFileSync(path.join(FILES_DIR, relativePath), "utf8");
  return fill(text, values, relativePath);
}

/** Single-quotes a value for a POSIX shell. */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `NAME='value'` lines (values single-quoted for a POSIX shell), each ending in a newline: a file a shell sources. */
export function shellAssignments(entries: readonly (readonly [string, string])[]): string {
  return entries.map(([k, v]) => `${k}=${shq(v)}\n`).join("");
}
