/**
 * The worker thread `phyr simulate` runs a scenario in, so the main thread can draw progress and
 * watch the process's memory while the (synchronous) scenario runs. Receives
 * `{ name, seed, size }` as workerData; posts `{ result }` or `{ error: { name, message } }`.
 */

import { parentPort, workerData } from "node:worker_threads";
import { runScenario } from "../scenarios/index.js";

const w = workerData as { name: string; seed: number; size: number };
try {
  parentPort?.postMessage({ result: runScenario(w.name, { seed: w.seed, size: w.size }) });
} catch (e) {
  const err = e as Error;
  parentPort?.postMessage({ error: { name: err?.name ?? "Error", message: err?.message ?? String(e) } });
}
