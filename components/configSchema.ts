// The kinds of stack configuration key (string, boolean, list, object): each
// pairs what Pulumi.yaml declares (type, default, description) with how the
// program reads the stack's value, so unset values, defaults, types and
// "is required" are handled the same way for every key.

/** The project's name: the namespace of its keys ("mail-system:users"). */
export const PROJECT = "mail-system";

/** Reports a problem with the key being read, or with a part of it (e.g. "[1].email", ".dns.port"). */
export type Report = (message: string, part?: string) => void;

export interface ReadContext {
  /** The stack's name (some defaults derive from it). */
  readonly stack: string;
}

/** A key's entry in Pulumi.yaml's `config:` section. */
export interface KeyDeclaration {
  readonly type: "string" | "boolean" | "array" | "object";
  readonly items?: { readonly type: "string" | "object" };
  /** The default; a key without one must be set. */
  readonly default?: string | boolean | readonly never[] | Readonly<Record<string, never>>;
  readonly description: string;
}

export interface ConfigKey<T> extends KeyDeclaration {
  /** The key is read only with this target; with the other it is neither checked nor used. */
  readonly target?: "docker" | "ssh";
  /**
   * The stack's value (undefined when unset) as the program uses it, or
   * undefined when it is unusable, after reporting why.
   */
  read(value: unknown, report: Report, context: ReadContext): T | undefined;
}

interface Common {
  readonly description: string;
  readonly target?: "docker" | "ssh";
}

type Parse<In, T> = (value: In, report: Report, context: ReadContext) => T | undefined;

const unset = (value: unknown) => value === undefined || value === null;

/**
 * A string, trimmed. Unset or "" means the default (a key without one is
 * required), unless `keepsEmpty`: then "" is a value of its own.
 */
export function stringKey<T>(
  decl: Common & { readonly default?: string; readonly keepsEmpty?: boolean },
  parse: Parse<string, T>,
): ConfigKey<T> {
  const { keepsEmpty, ...declared } = decl;
  return {
    type: "string",
    ...declared,
    read(value, report, context) {
      const v = unset(value) || (value === "" && !keepsEmpty) ? decl.default : value;
      if (v === undefined) return void report("is required");
      if (typeof v !== "string") return void report(`must be a string, not ${JSON.stringify(v)}`);
      return parse(v.trim(), report, context);
    },
  };
}

/** true or false (the CLI passes "true" and "false"); unset or "" means the default. */
export function booleanKey(decl: Common & { readonly default: boolean }): ConfigKey<boolean> {
  return {
    type: "boolean",
    ...decl,
    read(value, report) {
      if (unset(value) || value === "") return decl.default;
      if (value === true || value === "true") return true;
      if (value === false || value === "false") return false;
      return void report(`must be true or false, not ${JSON.stringify(value)}`);
    },
  };
}

/** A list; `shape` says what a required one holds. */
export function listKey<T>(
  decl: Common & { readonly items: "string" | "object"; readonly default?: readonly never[]; readonly shape?: string },
  parse: Parse<readonly unknown[], T>,
): ConfigKey<T> {
  const { items, shape, ...declared } = decl;
  return {
    type: "array",
    items: { type: items },
    ...declared,
    read(value, report, context) {
      const v = unset(value) ? decl.default : value;
      if (v === undefined) return void report(shape ? `is required: ${shape}` : "is required");
      if (!Array.isArray(v)) return void report("must be a list");
      return parse(v, report, context);
    },
  };
}

/** An object of named fields. */
export function objectKey<T>(
  decl: Common & { readonly default: Readonly<Record<string, never>>; readonly shape: string },
  parse: Parse<Readonly<Record<string, unknown>>, T>,
): ConfigKey<T> {
  const { shape, ...declared } = decl;
  return {
    type: "object",
    ...declared,
    read(value, report, context) {
      const v = unset(value) ? decl.default : value;
      if (typeof v !== "object" || v === null || Array.isArray(v)) return void report(`must be an object: ${shape}`);
      return parse(v as Record<string, unknown>, report, context);
    },
  };
}
