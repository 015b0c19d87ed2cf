/**
 * The worker thread of capture-workers.ts: opens its own live source over the roots in workerData,
 * then reads one process at a time as the main thread hands them out (`{ job, pid }`): its smaps
 * and every VMA's runs, posted back as plain data (`{ job, read }`, the runs lines' bytes moved,
 * not copied). `{ quit: true }` closes the source and ends the thread. It loads only the linux/
 * readers (about half the start-up of the report/analyze worker, which loads the analysis too).
 */

import { parentPort, workerData } from "node:worker_threads";
import { type ProcessRead, readProcessWhole } from "../linux/capture-read.js";
import { liveSource } from "../linux/source.js";

/** What the main thread sends: a process to read, or the end. */
export type CaptureJob = { job: number; pid: number } | { quit: true };

/** What this thread sends back: the process read (in job order on the main thread). */
export interface CaptureDone {
  job: number;
  read: ProcessRead;
}

const roots = workerData as { procRoot: string; sysRoot: string };
const src = liveSource({ procRoot: roots.procRoot, sysRoot: roots.sysRoot });

parentPort?.on("message", (m: CaptureJob) => {
  if ("quit" in m) {
    src.close();
    parentPort?.close();
    return;
  }
  const { read, transfer } = readProcessWhole(src, m.pid);
  parentPort?.postMessage({ job: m.job, read } satisfies CaptureDone, transfer);
});
