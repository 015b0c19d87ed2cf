/**
 * Building phyr's reference machine (src/machine/README.md), as `phyr` does whenever it falls back
 * to it: the first build in a fresh process (cold: the code is not yet optimised, as in the CLI),
 * the median of repeated builds, and opening it as a source plus reading every process's VMAs and
 * runs (what `phyr report` reads). Target: well under 1 s; the rows compare against a 1 s budget
 * (ratio = budget / time, want >= 2, i.e. at most half a second).
 */
import { referenceSource } from "../src/linux/index.js";
import { referenceMachine } from "../src/machine/index.js";
import { type BenchRow, type BenchSuite, fractionRow, timeNs } from "./harness.js";

const BUDGET_NS = 1e9;

function readAll(): number {
  const src = referenceSource();
  let runs = 0;
  for (const p of src.processes()) {
    for (const v of src.vmas(p.pid)) runs += src.runs(p.pid, v.start, v.end).count;
  }
  return runs;
}

export const suite: BenchSuite = {
  name: "machine",
  async run(opts) {
    const t0 = performance.now();
    const first = referenceMachine();
    const coldNs = (performance.now() - t0) * 1e6;
    const rows: BenchRow[] = [
      fractionRow("reference machine: first build in this process (cold)", coldNs, "1 s budget", BUDGET_NS),
    ];
    if (first.processes.length === 0) throw new Error("reference machine has no processes");
    const buildNs = await timeNs(() => referenceMachine().processes.length, { ...opts, heavy: true });
    rows.push(fractionRow("reference machine: build (median)", buildNs, "1 s budget", BUDGET_NS, 2));
    const readNs = await timeNs(readAll, { ...opts, heavy: true });
    rows.push(
      fractionRow(
        "reference machine: build + read every VMA's runs (median)",
        readNs,
        "1 s budget",
        BUDGET_NS,
        2,
      ),
    );
    return rows;
  },
};
