/**
 * The worker thread of workers.ts: opens its own source (the live roots, or the reference
 * machine) from workerData, then reads and analyses one job at a time as the main thread hands
 * them out (`{ job, plan, range, named }`), posting bytes read and then the job's outcome (plain
 * data: the analysis and notes, or the error's message and errno code). `{ quit: true }` closes
 * the source and ends the thread.
 */

import { parentPort, workerData } from "node:worker_threads";
import { liveSource, type MachineSource, plainError } from "../linux/index.js";
import type { VaRange } from "./args.js";
import { type BufferOutcome, bufferOfPlan, type Plan } from "./collect.js";
import { openReferenceSource } from "./source.js";
import type { WorkerMessage, WorkerSource } from "./workers.js";

const how = workerData as WorkerSource;
const src: MachineSource =
  how.kind === "live" ? liveSource({ procRoot: how.procRoot, sysRoot: how.sysRoot }) : openReferenceSource();

/** Posts of bytes read at most this often (ms): progress, not a message per pagemap batch. */
const BYTES_EVERY_MS = 100;

parentPort?.on(
  "message",
  (m: { quit?: boolean; job: number; plan: Plan; range?: VaRange; named: boolean }) => {
    if (m.quit) {
      src.close();
      parentPort?.close();
      return;
    }
    let last = 0;
    const onBytes = (bytes: number) => {
      const now = performance.now();
      if (now - last < BYTES_EVERY_MS) return;
      last = now;
      parentPort?.postMessage({ job: m.job, bytes } satisfies WorkerMessage);
    };
    let outcome: BufferOutcome;
    try {
      outcome = bufferOfPlan(src, m.plan, { range: m.range }, m.named, onBytes);
    } catch (e) {
      outcome = { error: plainError(e) };
    }
    parentPort?.postMessage({ job: m.job, outcome } satisfies WorkerMessage);
  },
);
