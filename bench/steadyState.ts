// Steady-state cost on a deployed stack: a no-change preview, a no-change up,
// and an up that adds one user. Each reports its seconds and the resources
// it touched (anything but "same"), which must be none, none, and only the
// new user's.
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { changesOf, log, PlainConfig, toPathConfig } from "../tests/e2e/lab";

/**
 * Runs an Automation API operation and times it until the engine's summary
 * event: the `pulumi` command's own work. The Automation API's up reads the
 * stack's outputs and its last history entry after the command (two more
 * runs of the CLI, about 1 s here), which `pulumi up` at a shell does not;
 * `total` is the whole call's. Throws when no summary came.
 */
export async function timedToSummary<T>(op: (onEvent: (e: EngineEvent) => void) => Promise<T>): Promise<{ seconds: number; total: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
  let seconds: number | undefined;
  const value = await op((e) => {
    if (e.summaryEvent) seconds = elapsed();
  });
  const total = elapsed();
  if (seconds === undefined) throw new Error("the operation sent no summary event");
  return { seconds, total, value };
}

export interface Step {
  seconds: number;
  /** Kind of change -> count, e.g. { create: 3 }; {} when nothing changed. */
  changes: Record<string, number>;
  /** Names (last part of the URN) of the resources touched, with the operation. */
  touched: string[];
}

const both = (a: (e: EngineEvent) => void, b: (e: EngineEvent) => void) => (e: EngineEvent) => {
  a(e);
  b(e);
};

/** Collects the resources an operation touches from its engine events. */
function touchedCollector(): { onEvent: (e: EngineEvent) => void; touched: string[] } {
  const touched: string[] = [];
  return {
    touched,
    onEvent: (e) => {
      const m = e.resourcePreEvent?.metadata;
      if (m && m.op !== "same" && m.op !== "read") touched.push(`${m.op} ${m.urn.split("::").pop()}`);
    },
  };
}

export async function noChangePreview(stack: Stack): Promise<Step> {
  const c = touchedCollector();
  const r = await timedToSummary((onEvent) => stack.preview({ onOutput: log, onEvent: both(c.onEvent, onEvent) }));
  return { seconds: r.seconds, changes: changesOf(r.value.changeSummary), touched: c.touched };
}

export async function up(stack: Stack): Promise<Step> {
  const c = touchedCollector();
  const r = await timedToSummary((onEvent) => stack.up({ onOutput: log, onEvent: both(c.onEvent, onEvent) }));
  return { seconds: r.seconds, changes: changesOf(r.value.summary.resourceChanges ?? {}), touched: c.touched };
}

/** Adds `email` to the stack's users (config only) and runs `up`. */
export async function addUser(stack: Stack, users: { email: string }[], email: string): Promise<Step> {
  const config: PlainConfig = { "mail-system:users": [...users, { email }] };
  await stack.setAllConfig(toPathConfig(config), true);
  return up(stack);
}
