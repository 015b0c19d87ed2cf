/**
 * Buffers analysed on worker threads (node:worker_threads): the main thread plans (process list
 * and VMAs, cheap), each worker opens its own source (the live roots, or the reference machine)
 * and reads and analyses one process at a time, returning plain data; results are put back in
 * plan order, so the output is the one {@link collectBuffers} gives on one thread. Memory stays
 * bounded: a worker holds one process's runs at a time, so peak RSS grows with the largest
 * processes (one per worker), not with their sum.
 */

import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { BufferAnalysis } from "../analyze/index.js";
import type { MachineSource } from "../linux/index.js";
import {
  type BufferOutcome,
  type BufferPlan,
  collectBuffers,
  collectPlanned,
  finishBuffers,
  jobBytes,
  planBuffers,
  planPages,
  type Selection,
  startReading,
} from "./collect.js";
import { CliFailure, type Progress, UsageError } from "./io.js";

/** Progress is counted in MiB of virtual range read (as collect.ts counts it). */
const MiB = 2 ** 20;

/** How a worker opens the machine the main thread reads: the same roots, or the reference machine. */
export type WorkerSource = { kind: "live"; procRoot: string; sysRoot: string } | { kind: "reference" };

/** Most worker threads by default: past this, reads of /proc contend more than they overlap. */
export const MAX_DEFAULT_WORKERS = 8;

/** Default worker count: the CPUs this process may use (os.availableParallelism), at most 8. O(1). */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(MAX_DEFAULT_WORKERS, availableParallelism()));
}

/**
 * Resident pages (4 KiB) of work per worker thread the default asks for: 4 GiB. A worker costs
 * about half a second of CPU to start (its own engine loads and compiles the modules), while
 * reading and analysing fragmented memory costs about a quarter second per GiB; below a few GiB
 * a second thread makes the run slower (measured: `analyze --all` of 25K runs, 1.3 s with one
 * thread, 2.0-2.4 s with two).
 */
export const PAGES_PER_WORKER = 2 ** 20;

/**
 * Worker threads for `pages` resident pages in `jobs` processes when `--workers` is not given: one
 * per {@link PAGES_PER_WORKER} pages, at most one per process and `max`, at least 1. O(1).
 */
export function autoWorkers(pages: number, jobs: number, max = defaultWorkers()): number {
  return Math.max(1, Math.min(max, jobs, Math.floor(pages / PAGES_PER_WORKER)));
}

/** Most workers `--workers` accepts. */
export const MAX_WORKERS = 256;

/**
 * Parses `--workers N`. O(1).
 * @throws UsageError naming the value when it is not an integer in 1..256.
 */
export function parseWorkers(text: string): number {
  const n = /^\d{1,4}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= MAX_WORKERS))
    throw new UsageError(
      `--workers ${JSON.stringify(text)} is invalid: expected an integer from 1 to ${MAX_WORKERS} (1 = in this thread)`,
    );
  return n;
}

/**
 * A worker module: the compiled .js beside this file (absent when run from TypeScript sources).
 * O(1) (one stat).
 * @param name the module's file name (default the report/analyze worker).
 */
export function workerFile(name = "workers-thread.js"): string | undefined {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith(".js")) return undefined;
  const f = here.replace(/workers\.js$/, name);
  return existsSync(f) ? f : undefined;
}

/** A message from a worker: bytes read of its current job, or the job's outcome. */
export type WorkerMessage = { job: number; bytes: number } | { job: number; outcome: BufferOutcome };

/** Node options a worker thread starts with: this process's, less the ones that run code given inline. */
export function workerExecArgv(): string[] {
  return process.execArgv.filter((a) => !/^(--input-type|--eval|-e|--print|-p)\b/.test(a));
}

/**
 * {@link collectBuffers} with the reading and analysis spread over `workers` threads. One worker,
 * one job, a source a worker cannot open (a snapshot: it is in this thread's memory already), or no
 * compiled worker module (tests on the TypeScript sources) run in this thread.
 * O(pages read + runs) work in all, spread over the workers; O(largest runs x workers) memory.
 * @param src the source the main thread plans with.
 * @param how how workers open the same machine (undefined: in this thread).
 * @param workers worker threads (>= 1), or "auto": {@link autoWorkers} of the plan's resident pages.
 * @throws CliFailure as collectBuffers does (the first named process, in plan order, that failed),
 *   or when a worker fails.
 */
export async function collectBuffersOnWorkers(
  src: MachineSource,
  how: WorkerSource | undefined,
  sel: Selection,
  progress: Progress,
  partial: string[],
  workers: number | "auto",
): Promise<BufferAnalysis[]> {
  const file = workerFile();
  if (workers === 1 || how === undefined || file === undefined)
    return collectBuffers(src, sel, progress, partial);
  const plan = planBuffers(src, sel);
  const n = Math.min(
    workers === "auto" ? autoWorkers(planPages(plan), plan.jobs.length) : workers,
    plan.jobs.length,
  );
  if (n <= 1) return collectPlanned(src, plan, sel, progress, partial);
  startReading(progress, plan);
  try {
    const outcomes = await runJobs(file, how, plan, sel, n, (bytes) =>
      progress.update(Math.floor(bytes / MiB)),
    );
    return finishBuffers(plan, outcomes, sel, partial);
  } finally {
    progress.stop();
  }
}

/**
 * Hands jobs out in plan order, the next to whichever worker finishes first; a named process that
 * fails stops handing out more (collectBuffers stops there too). Resolves with the outcomes in plan
 * order: all of them, or up to the first named failure (finishBuffers throws there).
 */
function runJobs(
  file: string,
  how: WorkerSource,
  plan: BufferPlan,
  sel: Selection,
  count: number,
  onBytes: (bytes: number) => void,
): Promise<BufferOutcome[]> {
  const outcomes: BufferOutcome[] = new Array(plan.jobs.length);
  const doing = new Float64Array(plan.jobs.length);
  let finishedBytes = 0;
  let next = 0;
  let done = 0;
  let stopped = false;
  let failedAt = Number.POSITIVE_INFINITY;
  return new Promise((resolve, reject) => {
    const end = (fn: () => void) => {
      if (stopped) return;
      stopped = true;
      pool.terminate();
      fn();
    };
    const give = (w: Worker) => {
      if (next >= plan.jobs.length) {
        pool.quit(w, { quit: true });
        return;
      }
      const k = next++;
      w.postMessage({ job: k, plan: plan.jobs[k], range: sel.range, named: plan.named });
    };
    const pool = new WorkerPool<WorkerMessage>(
      file,
      how,
      count,
      (w, m) => {
        if (stopped) return;
        if ("bytes" in m) {
          doing[m.job] = m.bytes;
          let inFlight = 0;
          for (let k = 0; k < plan.jobs.length; k++) if (outcomes[k] === undefined) inFlight += doing[k];
          onBytes(finishedBytes + inFlight);
          return;
        }
        outcomes[m.job] = m.outcome;
        finishedBytes += jobBytes(plan.jobs[m.job]);
        doing[m.job] = 0;
        done++;
        onBytes(finishedBytes);
        // A named process that failed ends the run once the jobs before it are done
        // (finishBuffers throws for the first failure in plan order); no job is handed out after.
        if ("error" in m.outcome && plan.named) failedAt = Math.min(failedAt, m.job);
        if (failedAt < plan.jobs.length) {
          for (let k = 0; k <= failedAt; k++) if (outcomes[k] === undefined) return;
          return end(() => resolve(outcomes.slice(0, failedAt + 1)));
        }
        if (done === plan.jobs.length) return end(() => resolve(outcomes));
        give(w);
      },
      (e) => end(() => reject(e)),
    );
    for (const w of pool.workers) give(w);
  });
}

/**
 * `count` threads of the worker module `file`, each started with workerData `how` and this
 * process's Node options ({@link workerExecArgv}); shared by runJobs and capture-workers.ts
 * CapturePool. A thread's error, or its exit before it was told to quit (whatever its code: the
 * run would wait for its job for ever), goes to `onFail` as a CliFailure; a caller that stopped
 * ignores the rest. O(count) thread starts.
 */
export class WorkerPool<M> {
  readonly workers: Worker[] = [];
  /** Workers told to quit: their exit is expected. */
  private readonly quitting = new Set<Worker>();

  constructor(
    file: string,
    how: WorkerSource,
    count: number,
    onMessage: (w: Worker, m: M) => void,
    onFail: (e: CliFailure) => void,
  ) {
    const execArgv = workerExecArgv();
    for (let i = 0; i < count; i++) {
      const w = new Worker(file, { workerData: how, execArgv });
      this.workers.push(w);
      w.on("message", (m: M) => onMessage(w, m));
      w.on("error", (e) => onFail(new CliFailure(`a worker thread failed: ${e.message}`)));
      w.on("exit", (code) => {
        if (!this.quitting.has(w))
          onFail(new CliFailure(`a worker thread exited with code ${code} before its job was done`));
      });
    }
  }

  /** Posts `message` (the module's quit message) to `w`; its exit is then expected. O(1). */
  quit(w: Worker, message: unknown): void {
    this.quitting.add(w);
    w.postMessage(message);
  }

  /** Terminates every worker (quit or not). O(count). */
  terminate(): void {
    for (const w of this.workers) void w.terminate();
  }
}
