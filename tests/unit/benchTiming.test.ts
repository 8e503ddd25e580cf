// The bench's Pulumi timing (bench/steadyState.ts): until the engine's summary,
// not the Automation API's reads after the command.
import { EngineEvent } from "@pulumi/pulumi/automation";
import { timedToSummary } from "../../bench/steadyState";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const summary = { sequence: 1, timestamp: 0, summaryEvent: { maybeCorrupt: false, durationSeconds: 0, resourceChanges: {}, policyPacks: {} } } as EngineEvent;

test("the time runs to the summary event; what the call does after it counts only in total", async () => {
  const r = await timedToSummary(async (onEvent) => {
    await wait(100);
    onEvent({ sequence: 0, timestamp: 0, stdoutEvent: { message: "x", color: "never" } } as EngineEvent);
    onEvent(summary);
    await wait(400);
    return "done";
  });
  expect(r.value).toBe("done");
  expect(r.seconds).toBeGreaterThanOrEqual(0.09);
  expect(r.total - r.seconds).toBeGreaterThanOrEqual(0.39);
});

test("an operation without a summary is an error, not a time", async () => {
  await expect(timedToSummary(async () => "x")).rejects.toThrow("the operation sent no summary event");
});
