// Every output property of every resource is a promise that @pulumi/pulumi
// wraps in `debuggablePromise` (runtime/debuggable.js), which reads
// `new Error().stack` at once so that PULUMI_DEBUG_PROMISE_LEAKS can print
// where a leaked promise was made. Reading it runs Error.prepareStackTrace,
// which ts-node's source-map-support makes map every frame back to its
// source: about a thousand stacks per run of this program, which nothing
// prints unless that variable is set, and most of a no-change preview's time
// beyond loading the SDK (bench/README.md). Should the SDK move that file,
// nothing is skipped: slower, the same output.
const SDK_DEBUG_FILE = /[\\/]@pulumi[\\/]pulumi[\\/]runtime[\\/]debuggable\.js$/;

type PrepareStackTrace = (error: Error, stack: NodeJS.CallSite[]) => unknown;

/**
 * Gives the stacks of the SDK's promise-leak bookkeeping a fixed line
 * instead of formatting them, unless `PULUMI_DEBUG_PROMISE_LEAKS` is set;
 * every other stack (thrown errors', the resources' source positions) is
 * formatted as before, by the formatter installed before this call.
 */
export function skipPromiseLeakStacks(env: NodeJS.ProcessEnv): void {
  if (env.PULUMI_DEBUG_PROMISE_LEAKS) return;
  const formatted = Error.prepareStackTrace as PrepareStackTrace | undefined;
  const skipping: PrepareStackTrace = (error, stack) =>
    stack.length > 0 && SDK_DEBUG_FILE.test(stack[0].getFileName() ?? "")
      ? "Error: promise made here (set PULUMI_DEBUG_PROMISE_LEAKS for the stack)"
      : formatted
        ? formatted(error, stack)
        : `${Error.prototype.toString.call(error)}${stack.map((f) => `\n    at ${f}`).join("")}`;
  Error.prepareStackTrace = skipping;
}
