// The benchmark's table: each figure next to its baseline from the same run,
// printed and written to bench/results.md with the conditions it was measured in.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Row {
  /** What is measured. */
  item: string;
  /** The figure and its baseline, as displayed. */
  value: string;
  baseline: string;
  /** value / baseline (or the check's verdict). */
  ratio: string;
  notes: string;
}

const fmt = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;

export function table(rows: Row[]): string {
  return [
    fmt(["item", "measured", "baseline (same run)", "ratio / check", "notes"]),
    fmt(["---", "---", "---", "---", "---"]),
    ...rows.map((r) => fmt([r.item, r.value, r.baseline, r.ratio, r.notes])),
  ].join("\n");
}

/** The machine and the tree the figures come from. */
export function conditions(): string {
  const git = (...args: string[]) => {
    try {
      return execFileSync("git", args, { encoding: "utf8", cwd: path.join(__dirname, ".."), stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return "unknown";
    }
  };
  const dockerVersion = (() => {
    try {
      return execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8" }).trim();
    } catch {
      return "unknown";
    }
  })();
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Docker ${dockerVersion}`,
    `- load average at the start: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
    `- commit: ${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain").length > 0 ? " (with uncommitted changes)" : ""}`,
  ].join("\n");
}

/** Writes bench/results.md: the table, the conditions, and any further sections. */
export function writeResults(rows: Row[], conditionsText: string, sections: string[]): string {
  const text = [
    "# Benchmark results",
    "",
    "Written by `npm run bench` (bench/run.ts); every figure was measured in the run described here, each next to its baseline from the same run.",
    "",
    conditionsText,
    "",
    table(rows),
    "",
    ...sections,
    "",
  ].join("\n");
  const file = path.join(__dirname, "results.md");
  fs.writeFileSync(file, text);
  return file;
}
