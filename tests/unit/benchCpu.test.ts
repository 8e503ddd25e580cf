// The bench's CPU accounting (bench/cpu.ts): per-message arithmetic, what
// is reported when a container's time cannot be read, and the machine's
// busy time moving with work done.
import { cpuPerMessage, cpuSample, formatCpu } from "../../bench/cpu";

const role = (container: string) => container.replace(/^.*-/, "");

describe("bench CPU per message", () => {
  test("divides each difference by the messages delivered", () => {
    const c = cpuPerMessage(
      { machineMs: 1_000, containers: { "x-mail": 200, "x-db": 50, "x-dns": undefined } },
      { machineMs: 31_000, containers: { "x-mail": 21_200, "x-db": 3_050, "x-dns": 7 } },
      3_000,
    );
    expect(c.machine).toBe(10);
    expect(c.containers).toEqual({ "x-mail": 7, "x-db": 1, "x-dns": undefined });
    expect(formatCpu(c, role)).toBe("10.0 ms (mail 7.0, db 1.0, dns n/a)");
  });

  test("nothing delivered gives no figure rather than infinity", () => {
    const c = cpuPerMessage({ machineMs: 0, containers: { "x-mail": 1 } }, { machineMs: 500, containers: { "x-mail": 9 } }, 0);
    expect(c.machine).toBeNaN();
    expect(c.containers["x-mail"]).toBeUndefined();
    expect(formatCpu(undefined, role)).toBe("n/a");
  });

  test("the machine's busy time grows with work done", async () => {
    const a = await cpuSample([]);
    const until = Date.now() + 300;
    let spin = 0;
    while (Date.now() < until) spin++;
    const b = await cpuSample([]);
    expect(spin).toBeGreaterThan(0);
    // /proc/stat counts in hundredths of a second: 300 ms of one busy core shows as at least 200.
    expect(b.machineMs - a.machineMs).toBeGreaterThanOrEqual(200);
    expect(b.containers).toEqual({});
  });
});
