// skipPromiseLeakStacks: the SDK's promise-leak bookkeeping gets no formatted
// stack (the preview's largest cost after loading the SDK), every other
// stack is formatted by whatever formatted it before.
import { skipPromiseLeakStacks } from "../../components/promiseStacks";

// The SDK's own module, as its resources use it (internal, hence required by path).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const debuggable: { debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T> } = require("@pulumi/pulumi/runtime/debuggable");

type Prepare = NonNullable<typeof Error.prepareStackTrace>;
/** Sets (or, with undefined, removes) the formatter V8 calls when a stack is read. */
function setFormatter(p: Prepare | undefined): void {
  if (p) Error.prepareStackTrace = p;
  else delete (Error as { prepareStackTrace?: Prepare }).prepareStackTrace;
}
let saved: Prepare | undefined;
beforeEach(() => {
  saved = Error.prepareStackTrace;
});
afterEach(() => setFormatter(saved));

/** The stack the SDK keeps for a promise it wraps. */
async function sdkPromiseStack(): Promise<string> {
  const p = Promise.resolve(1);
  await debuggable.debuggablePromise(p, "test");
  return (p as unknown as { _debugStackTrace: string })._debugStackTrace;
}

/** A formatter that marks what it formatted, standing for source-map-support's. */
const marking: Prepare = (error, stack) => `MARKED ${error.message} ${stack.length}`;

test("the SDK's promise stacks are not formatted; an error of the program's still is, by the previous formatter", async () => {
  Error.prepareStackTrace = marking;
  expect(await sdkPromiseStack()).toMatch(/^MARKED /); // the SDK takes one per promise: what is skipped
  skipPromiseLeakStacks({});
  expect(await sdkPromiseStack()).toBe("Error: promise made here (set PULUMI_DEBUG_PROMISE_LEAKS for the stack)");
  expect(new Error("boom").stack).toMatch(/^MARKED boom [1-9]/);
});

test("without a previous formatter an error gets V8's own format, its frames included", () => {
  setFormatter(undefined);
  const plain = new Error("plain").stack!;
  skipPromiseLeakStacks({});
  const ours = new Error("plain").stack!;
  expect(ours.split("\n")[0]).toBe("Error: plain");
  expect(ours).toContain("promiseStacks.test.ts");
  expect(ours.split("\n")).toHaveLength(plain.split("\n").length);
  expect(new Error().stack!.split("\n")[0]).toBe("Error");
});

test("with PULUMI_DEBUG_PROMISE_LEAKS set, nothing changes: the leak report shows where each promise was made", async () => {
  Error.prepareStackTrace = marking;
  skipPromiseLeakStacks({ PULUMI_DEBUG_PROMISE_LEAKS: "1" });
  expect(Error.prepareStackTrace).toBe(marking);
  expect(await sdkPromiseStack()).toMatch(/^MARKED /);
});
