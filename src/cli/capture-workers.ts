/**
 * `phyr capture --workers N`: the processes read on worker threads (capture-thread.ts), the
 * file written by this thread (linux/ captureWith), so it is the same file for any N.
 * Jobs are handed out in capture order, the next to whichever worker is free, but only within a
 * window of 2 x workers processes past the one being written: a writer that falls behind (gzip,
 * a slow disk, one huge process) holds the workers back instead of gathering every finished
 * process in memory. Peak memory: O(largest process's runs x (2 x workers + 1)).
 */

import type { Worker } from "node:worker_threads";
import {
  liveSource,
  type ProcessRead,
  type ProcessReader,
  readProcessesHere,
  residentPagesOfPid,
} from "../linux/index.js";
import type { CaptureDone, CaptureJob } from "./capture-thread.js";
import { autoWorkers, WorkerPool, type WorkerSource, workerFile } from "./workers.js";

/** Processes read or being read, per worker, past the one being written. */
export const WINDOW_PER_WORKER = 2;

/**
 * A reader of the live machine at `how`'s roots on `workers` threads; with one worker, fewer than
 * two processes or no compiled worker module (tests on the TypeScript sources), it reads in this
 * thread (its own source over the same roots). O(1) until called; then O(pages read + runs),
 * spread over the workers.
 * @param how the roots the workers open.
 * @param workers worker threads (>= 1), or "auto": {@link autoWorkers} of the processes' resident
 *   pages (/proc/PID/statm, one small read each).
 */
export function readProcessesOnWorkers(
  how: Extract<WorkerSource, { kind: "live" }>,
  workers: number | "auto",
): ProcessReader {
  return (pids) => {
    const file = workerFile("capture-thread.js");
    const wanted =
      workers === "auto"
        ? autoWorkers(
            pids.reduce((s, pid) => s + residentPagesOfPid(pid, how), 0),
            pids.length,
          )
        : workers;
    const count = Math.min(wanted, pids.length);
    if (count <= 1 || file === undefined) return here(how, pids);
    return new CapturePool(file, how, pids, count);
  };
}

/** In this thread, over a source of its own that is closed when the last process was read or on return(). */
function here(
  how: Extract<WorkerSource, { kind: "live" }>,
  pids: readonly number[],
): AsyncIterator<ProcessRead> {
  const src = liveSource({ procRoot: how.procRoot, sysRoot: how.sysRoot });
  const it = readProcessesHere(src)(pids);
  return {
    next: async () => {
      const r = await it.next();
      if (r.done) src.close();
      return r;
    },
    return: async () => {
      src.close();
      return { done: true, value: undefined };
    },
  };
}

/** The workers and the processes they read, handed back in the order asked (exported for its failure tests). */
export class CapturePool implements AsyncIterator<ProcessRead> {
  private readonly pool: WorkerPool<CaptureDone>;
  private readonly idle: Worker[] = [];
  /** Finished reads not yet taken, by job (index in pids). */
  private readonly done = new Map<number, ProcessRead>();
  private nextGive = 0;
  private nextTake = 0;
  private readonly window: number;
  private failure: Error | undefined;
  private stopped = false;
  private waiting:
    | { resolve: (r: IteratorResult<ProcessRead>) => void; reject: (e: Error) => void }
    | undefined;

  constructor(
    file: string,
    how: WorkerSource,
    private readonly pids: readonly number[],
    count: number,
  ) {
    this.window = WINDOW_PER_WORKER * count;
    // A worker ends only when told to quit; any other exit (whatever its code) leaves a job or
    // the rest of the capture undone, and waiting on it would hang: the pool reports it as a failure.
    this.pool = new WorkerPool<CaptureDone>(
      file,
      how,
      count,
      (w, m) => {
        if (this.stopped) return;
        this.done.set(m.job, m.read);
        this.idle.push(w);
        this.give();
        this.answer();
      },
      (e) => this.fail(e),
    );
    this.idle.push(...this.pool.workers);
    this.give();
  }

  /** Hands jobs to idle workers while they fall within the window; quits idle workers when none are left. */
  private give(): void {
    while (
      this.idle.length > 0 &&
      this.nextGive < this.pids.length &&
      this.nextGive < this.nextTake + this.window
    ) {
      const w = this.idle.pop() as Worker;
      const job = this.nextGive++;
      w.postMessage({ job, pid: this.pids[job] } satisfies CaptureJob);
    }
    if (this.nextGive >= this.pids.length) {
      for (const w of this.idle.splice(0)) this.pool.quit(w, { quit: true } satisfies CaptureJob);
    }
  }

  /** Resolves a waiting next() when the read it waits for is here (or rejects it on a failure). */
  private answer(): void {
    const w = this.waiting;
    if (!w) return;
    if (this.failure) {
      this.waiting = undefined;
      w.reject(this.failure);
      return;
    }
    const r = this.take();
    if (r) {
      this.waiting = undefined;
      w.resolve(r);
    }
  }

  private take(): IteratorResult<ProcessRead> | undefined {
    if (this.nextTake >= this.pids.length) {
      this.stop();
      return { done: true, value: undefined };
    }
    const read = this.done.get(this.nextTake);
    if (read === undefined) return undefined;
    this.done.delete(this.nextTake++);
    this.give();
    return { done: false, value: read };
  }

  private fail(e: Error): void {
    if (this.stopped) return;
    this.failure ??= e;
    this.stop();
    this.answer();
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.done.clear();
    this.pool.terminate();
  }

  /** Processes handed out and not yet taken (being read, or read and waiting): at most the window. */
  get held(): number {
    return this.nextGive - this.nextTake;
  }

  /** The next process, in the order asked. O(1) beyond waiting for it. */
  next(): Promise<IteratorResult<ProcessRead>> {
    if (this.failure) return Promise.reject(this.failure);
    const r = this.take();
    if (r) return Promise.resolve(r);
    if (this.stopped) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Stops the workers (the capture ended early). */
  async return(): Promise<IteratorResult<ProcessRead>> {
    this.stop();
    return { done: true, value: undefined };
  }
}
