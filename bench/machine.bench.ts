/**
 * Building phyr's reference machine (src/machine/README.md), as `phyr` does whenever it falls back
 * to it: the first build in a fresh process (cold: the code is not yet optimised, as in the CLI),
 * repeated builds, and opening it as a source plus reading every process's VMAs and runs (what
 * `phyr report` reads). Target: well under 1 s; the rows compare against a 1 s budget (ratio =
 * budget / time, want >= 2, i.e. at most half a second).
 *
 * Every time is main-thread time (harness sampleNs: the lesser of process CPU and wall time), in
 * rounds: the cold build once in each of several fresh Node processes (one round each), the warm
 * builds in paired rounds in this process (harness pairedRuns). A row's ratio is the median of
 * the per-round budget / time, with their range.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { referenceSource } from "../src/linux/index.js";
import { referenceMachine } from "../src/machine/index.js";
import { type BenchRow, type BenchSuite, fractionRow, median, pairedRuns, sampleNs } from "./harness.js";

const BUDGET_NS = 1e9;
/** This file runs from dist/bench; the built machine module sits in dist/src/machine. */
const MACHINE_MODULE = pathToFileURL(
  join(dirname(fileURLToPath(import.meta.url)), "..", "src", "machine", "index.js"),
).href;

/** Run in a fresh Node process: import the machine module, then time its first build (CPU and wall ns). */
const COLD_SCRIPT = `
const { referenceMachine } = await import(process.argv[1]);
const c0 = process.cpuUsage();
const w0 = performance.now();
const m = referenceMachine();
const wall = (performance.now() - w0) * 1e6;
const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ cpu: (c.user + c.system) * 1000, wall, processes: m.processes.length }));
`;

/**
 * Main-thread time (harness sampleNs) of the first reference-machine build in each of `rounds`
 * fresh Node processes. O(rounds x (Node start + one build)).
 * @throws Error when a child fails or builds a machine without processes, with its stderr.
 */
function coldBuilds(rounds: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", COLD_SCRIPT, MACHINE_MODULE], {
      encoding: "utf8",
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`cold build child failed (exit ${r.status}): ${r.stderr.trim()}`);
    const res = JSON.parse(r.stdout) as { cpu: number; wall: number; processes: number };
    if (res.processes === 0) throw new Error("reference machine has no processes");
    out.push(sampleNs(res.cpu, res.wall));
  }
  return out;
}

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
    const perRound = (ts: number[]) => ts.map((t) => BUDGET_NS / t);
    const cold = coldBuilds(opts.quick ? 3 : 7);
    const rows: BenchRow[] = [
      fractionRow(
        "reference machine: first build in a fresh process (cold)",
        median(cold),
        "1 s budget",
        perRound(cold),
      ),
    ];
    const [build, read] = pairedRuns([() => referenceMachine().processes.length, readAll], {
      rounds: opts.quick ? 3 : 7,
      warm: 1,
    });
    rows.push(
      fractionRow("reference machine: build", median(build), "1 s budget", perRound(build), 2),
      fractionRow(
        "reference machine: build + read every VMA's runs",
        median(read),
        "1 s budget",
        perRound(read),
        2,
      ),
    );
    return rows;
  },
};
