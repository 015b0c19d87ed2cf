/**
 * `phyr capture -o F`: writes a snapshot of the live machine (linux/ capture), for `--snapshot F`
 * on another machine or later.
 */

import { resolve } from "node:path";
import { AtomicFile, type CaptureResult, captureWith, TRUNCATION_MARKER } from "../linux/index.js";
import { terminalSafe } from "../report/index.js";
import { planCapture } from "./capture-check.js";
import { readProcessesOnWorkers } from "./capture-workers.js";
import { CliFailure, type CliIo, EXIT_OK, progressFor } from "./io.js";
import { CAPTURE_SCHEMA, type CaptureJson, jsonDocument } from "./json.js";
import { liveRoots } from "./source.js";

/** Options of {@link runCapture}. */
export interface CaptureCommand {
  out: string;
  /** Empty: every process. Names are exact process names (every process of that name). */
  pids: (number | string)[];
  anonymize: boolean;
  /** Gzip the file (default: when the name ends in .gz). */
  gzip?: boolean;
  json: boolean;
  /** Worker threads reading processes (default: autoWorkers() of the processes' resident pages; 1 = in this thread). */
  workers?: number;
}

/**
 * Captures the live machine to a snapshot file.
 * @returns exit code 0.
 * @throws CliFailure when the file cannot be written or the machine cannot be read.
 */
export async function runCapture(io: CliIo, o: CaptureCommand): Promise<number> {
  const out = resolve(io.cwd ?? process.cwd(), o.out);
  try {
    // The directory must take a new file: checked before anything is read; the old file is kept
    // (capture writes a temporary file beside it and renames it over it when whole).
    AtomicFile.open(out).abort();
  } catch (e) {
    const m = (e as Error).message.replace(/, open '.*'$/, "");
    throw new CliFailure(`cannot write snapshot ${out}: ${m}`);
  }
  const plan = planCapture(io.env, o.pids);
  for (const w of plan.warnings) io.stderr.write(`phyr: warning: ${w}\n`);
  const progress = progressFor(io);
  let started = false;
  let result: CaptureResult;
  const { procRoot, sysRoot } = liveRoots(io.env);
  // Workers read processes; this thread names, counts and writes them in order (same file for any N).
  const reader = readProcessesOnWorkers({ kind: "live", procRoot, sysRoot }, o.workers ?? "auto");
  try {
    result = await captureWith(
      {
        out,
        pids: plan.pids.length > 0 ? plan.pids : "all",
        anonymize: o.anonymize,
        gzip: o.gzip ?? out.endsWith(".gz"),
        procRoot,
        sysRoot,
        onProgress: (done, total) => {
          if (!started) progress.start(total, "capturing");
          started = true;
          progress.update(done);
        },
      },
      reader,
    );
  } catch (e) {
    throw new CliFailure(`cannot capture to ${out}: ${(e as Error).message}`);
  } finally {
    progress.stop();
  }
  if (o.json) {
    const doc: CaptureJson = { schema: CAPTURE_SCHEMA, file: out, ...result, warnings: plan.warnings };
    io.stdout.write(jsonDocument(doc));
  } else io.stdout.write(`${captureSummary(result, out).join("\n")}\n`);
  return EXIT_OK;
}

/** Skipped processes named in the text output. */
const SKIPPED_SHOWN = 3;

const count = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

/**
 * The lines `phyr capture` prints: what was written, counts with en-US grouping like the rest of
 * the CLI's output, and what was left out (only when something was).
 * @param r the capture result.
 * @param file the file written.
 * @returns the lines.
 */
export function captureSummary(r: CaptureResult, file: string): string[] {
  const lines = [
    `Captured ${count(r.processes, "process", "processes")}, ${count(r.vmas, "VMA")}, ${count(r.runs, "run")} (${count(r.bytes, "byte")} uncompressed) to ${terminalSafe(file)}`,
  ];
  if (r.skippedProcesses > 0 || r.vmaErrors > 0) {
    lines.push(
      `${count(r.skippedProcesses, "process", "processes")} skipped, ${count(r.vmaErrors, "VMA")} unreadable`,
    );
  }
  if (r.skipped.length > 0) {
    // Name the first few, with the reason (untrusted names made terminal-safe).
    const shown = r.skipped.slice(0, SKIPPED_SHOWN);
    const more = r.skippedProcesses - shown.length;
    lines.push(
      `  skipped: ${shown.map((p) => `${p.pid} ${terminalSafe(p.comm)} (${p.reason})`).join("; ")}${more > 0 ? `; and ${more.toLocaleString("en-US")} more` : ""}`,
    );
  }
  if (r.truncated > 0) {
    lines.push(
      `${count(r.truncated, "string or list entry", "strings or list entries")} cut to fit the snapshot format's limits (cut strings end in "${TRUNCATION_MARKER}")`,
    );
  }
  return lines;
}
