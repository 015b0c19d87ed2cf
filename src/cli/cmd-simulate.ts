/**
 * `phyr simulate <scenario>`: runs one named consumer scenario of subsys/ (the range-list design
 * and today's kernel on the same simulated workload; model numbers, not this machine's) and
 * prints its metrics side by side. Before anything is built, the size is checked against the
 * scenario's limits and its memory estimate against a budget (default: three quarters of the
 * memory available now; `--max-memory`); a run is then done in a worker thread while the main
 * thread draws progress after the first second and stops the run if the process's memory passes
 * the budget.
 */

import { freemem } from "node:os";
import { Worker } from "node:worker_threads";
import { SingleBar } from "cli-progress";
import type { ScenarioSummary } from "../analyze/index.js";
import { formatBytes } from "../core/index.js";
import { formatTable } from "../report/index.js";
import {
  planScenario,
  runScenario,
  SCENARIOS,
  type ScenarioPlan,
  ScenarioSizeError,
  scenarioLimits,
} from "../scenarios/index.js";
import { CliFailure, type CliIo, EXIT_OK, paintFor, UsageError } from "./io.js";
import {
  jsonDocument,
  SCENARIO_LIST_SCHEMA,
  SCENARIO_SCHEMA,
  type ScenarioJson,
  type ScenarioListJson,
} from "./json.js";
import { workerExecArgv, workerFile } from "./workers.js";

/** Share of the memory available now (MemAvailable, os.freemem) that a run may use by default. */
export const DEFAULT_BUDGET_SHARE = 0.75;
/** A run that takes longer than this shows progress. */
const PROGRESS_AFTER_MS = 1000;
/** How often the main thread samples memory and redraws. */
const TICK_MS = 100;

/**
 * Runs every scenario at its small default size (`phyr report --scenarios`: model numbers).
 * @param seed seed of every run.
 * @returns one summary per scenario, in {@link SCENARIOS} order.
 */
export function runAllScenarios(seed: number): ScenarioSummary[] {
  return SCENARIOS.map((s) => runScenario(s.name, { seed }));
}

/** Options of {@link runSimulate}. */
export interface SimulateCommand {
  name?: string;
  seed: number;
  size?: number;
  /** Memory budget in bytes (default {@link DEFAULT_BUDGET_SHARE} of the available memory). */
  maxMemory?: number;
  json: boolean;
}

/**
 * Prints the scenario list, or runs one scenario.
 * @param io streams.
 * @param o scenario name (undefined: list them), seed, size, memory budget, JSON output.
 * @returns exit code 0.
 * @throws UsageError for an unknown scenario name (listing the known ones), a size the scenario
 *   cannot take, or an estimate above the budget; CliFailure when the run passes the budget.
 */
export async function runSimulate(io: CliIo, o: SimulateCommand): Promise<number> {
  if (o.name === undefined) {
    printList(io, o.json);
    return EXIT_OK;
  }
  const name = o.name;
  if (!SCENARIOS.some((s) => s.name === name)) {
    throw new UsageError(
      `scenario ${JSON.stringify(name)} is invalid: expected one of ${SCENARIOS.map((s) => s.name).join(", ")}`,
    );
  }
  let plan: ScenarioPlan;
  try {
    plan = planScenario(name, o.size);
  } catch (e) {
    // A size the scenario cannot take is bad command-line input (exit 2), said about --size.
    if (e instanceof ScenarioSizeError) throw new UsageError(`--size for ${name}: ${e.message}`);
    throw e;
  }
  const budget = o.maxMemory ?? Math.floor(freemem() * DEFAULT_BUDGET_SHARE);
  const budgetWhy =
    o.maxMemory === undefined
      ? `${Math.round(DEFAULT_BUDGET_SHARE * 100)}% of the memory available now`
      : "--max-memory";
  if (plan.memoryBytes > budget) {
    throw new UsageError(
      `--size ${formatBytes(plan.size)} for ${name} needs about ${formatBytes(plan.memoryBytes)} of memory (estimate), more than the budget of ${formatBytes(budget)} (${budgetWhy}): give a smaller --size, or --max-memory to allow more`,
    );
  }
  io.stderr.write(
    `phyr: ${name} at ${formatBytes(plan.size)}: estimate ${formatBytes(plan.memoryBytes)} of memory, ${fmtSeconds(plan.seconds)} (budget ${formatBytes(budget)})\n`,
  );
  const t0 = performance.now();
  const r = await runWatched(io, name, o.seed, plan, budget);
  const seconds = (performance.now() - t0) / 1000;
  // getrusage ru_maxrss (kilobytes on Linux): the kernel's peak RSS of this process.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  io.stderr.write(`phyr: done in ${fmtSeconds(seconds)}, peak memory ${formatBytes(peakRssBytes)}\n`);
  if (o.json) {
    const doc: ScenarioJson = {
      schema: SCENARIO_SCHEMA,
      ...r,
      estimate: { memoryBytes: plan.memoryBytes, seconds: plan.seconds },
      measured: { peakRssBytes, seconds },
    };
    io.stdout.write(jsonDocument(doc));
    return EXIT_OK;
  }
  const paint = paintFor(io.stdout, io.env);
  const keys = [...new Set([...Object.keys(r.design), ...Object.keys(r.baseline)])];
  const lines = [
    paint.bold(`${r.name} (model; seed ${r.seed}, size ${formatBytes(r.size)})`),
    r.description,
    "",
    ...formatTable(
      ["metric", "design", "baseline", "baseline / design"],
      keys.map((k) => [
        k,
        r.design[k] ?? "-",
        r.baseline[k] ?? "-",
        k in r.ratios ? `${fmtRatio(r.ratios[k])}x` : "-",
      ]),
      { paint, align: ["left", "right", "right", "right"] },
    ),
    ...r.notes.map((n) => paint.dim(`note: ${n}`)),
  ];
  io.stdout.write(`${lines.join("\n")}\n`);
  return EXIT_OK;
}

function printList(io: CliIo, json: boolean): void {
  const rows = SCENARIOS.map((s) => {
    const l = scenarioLimits(s.name);
    if (!l) throw new Error(`scenario ${s.name} has no size limits`);
    return { ...s, l };
  });
  if (json) {
    const doc: ScenarioListJson = {
      schema: SCENARIO_LIST_SCHEMA,
      scenarios: rows.map(({ name, description, fullSize, l }) => ({
        name,
        description,
        defaultSize: l.defaultSize,
        unit: l.unit,
        maxSize: l.maxSize,
        fullSize,
      })),
    };
    io.stdout.write(jsonDocument(doc));
    return;
  }
  io.stdout.write(
    `${formatTable(
      ["scenario", "default size", "size unit", "bench size", "description"],
      rows.map((s) => [
        s.name,
        formatBytes(s.l.defaultSize),
        formatBytes(s.l.unit),
        formatBytes(s.fullSize),
        s.description,
      ]),
      { maxWidth: 200 },
    ).join("\n")}\n` +
      "Model numbers (a simulated machine). --size takes these units (8M, 64 GiB); the memory a size needs is estimated and checked before a run.\n",
  );
}

/**
 * Runs the scenario in a worker, drawing progress after the first second and stopping it when the
 * process's resident memory passes the budget (sampled every 100 ms). Without the compiled worker
 * (tests on the TypeScript sources) the run is inline.
 * @param io streams (progress goes to stderr).
 * @param name scenario name; @param seed its seed.
 * @param plan the checked size and its estimates.
 * @param budget bytes of resident memory the process may reach.
 * @returns the scenario's result.
 * @throws CliFailure when the budget is passed (the worker is terminated) or the run fails.
 */
export function runWatched(
  io: CliIo,
  name: string,
  seed: number,
  plan: ScenarioPlan,
  budget: number,
): Promise<ReturnType<typeof runScenario>> {
  const file = workerFile("simulate-worker.js");
  if (!file) return Promise.resolve(runScenario(name, { seed, size: plan.size }));
  return new Promise((resolve, reject) => {
    const worker = new Worker(file, {
      workerData: { name, seed, size: plan.size },
      execArgv: workerExecArgv(),
    });
    const t0 = performance.now();
    const progress = progressLine(io, plan);
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      progress.stop();
      fn();
    };
    const timer = setInterval(() => {
      const rss = process.memoryUsage.rss();
      if (rss > budget) {
        void worker.terminate();
        finish(() =>
          reject(
            new CliFailure(
              `${name} stopped at ${formatBytes(rss)} of memory, above the budget of ${formatBytes(budget)} (the estimate was ${formatBytes(plan.memoryBytes)}): give a smaller --size, or --max-memory to allow more`,
            ),
          ),
        );
        return;
      }
      const ms = performance.now() - t0;
      if (ms >= PROGRESS_AFTER_MS) progress.update(ms / 1000, rss);
    }, TICK_MS);
    worker.on(
      "message",
      (m: { result?: ReturnType<typeof runScenario>; error?: { name: string; message: string } }) => {
        finish(() => {
          if (m.result) resolve(m.result);
          else {
            const e = m.error ?? { name: "Error", message: "the scenario worker sent nothing" };
            reject(
              e.name === "ScenarioSizeError"
                ? new UsageError(`--size for ${name}: ${e.message}`)
                : new CliFailure(`${name} failed: ${e.name}: ${e.message}`),
            );
          }
        });
      },
    );
    worker.on("error", (e) => finish(() => reject(new CliFailure(`${name} failed: ${e.message}`))));
    worker.on("exit", (code) =>
      finish(() => reject(new CliFailure(`${name} failed: the scenario worker exited with code ${code}`))),
    );
  });
}

/** Progress of a run: a bar of elapsed against estimated seconds on a TTY, else one plain line. */
function progressLine(io: CliIo, plan: ScenarioPlan): { update(s: number, rss: number): void; stop(): void } {
  if (io.stderr.isTTY !== true) {
    let said = false;
    return {
      update(s) {
        if (said) return;
        said = true;
        io.stderr.write(
          `phyr: still running after ${fmtSeconds(s)} (estimated ${fmtSeconds(plan.seconds)}) ...\n`,
        );
      },
      stop() {},
    };
  }
  let bar: SingleBar | undefined;
  return {
    update(s, rss) {
      const total = Math.max(plan.seconds, s);
      const payload = { mem: formatBytes(rss), est: formatBytes(plan.memoryBytes) };
      if (!bar) {
        bar = new SingleBar({
          format: "simulating [{bar}] {value}s of ~{total}s (estimated) | memory {mem} of ~{est}",
          stream: io.stderr as NodeJS.WritableStream,
          clearOnComplete: true,
          hideCursor: true,
          formatValue: (v) => String(Math.round(v)),
        });
        bar.start(total, s, payload);
      }
      bar.setTotal(total);
      bar.update(s, payload);
    },
    stop() {
      bar?.stop();
    },
  };
}

function fmtSeconds(s: number): string {
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

function fmtRatio(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(2);
}
