/**
 * `phyr capture -o F`: writes a snapshot of the live machine (linux/ capture), for `--snapshot F`
 * on another machine or later.
 */

import { resolve } from "node:path";
import { capture } from "../linux/index.js";
import { CliFailure, type CliIo, EXIT_OK, progressFor } from "./io.js";

/** Options of {@link runCapture}. */
export interface CaptureCommand {
  out: string;
  /** Empty: every process. */
  pids: number[];
  anonymize: boolean;
  /** Gzip the file (default: when the name ends in .gz). */
  gzip?: boolean;
  json: boolean;
}

/**
 * Captures the live machine to a snapshot file.
 * @returns exit code 0.
 * @throws CliFailure when the file cannot be written or the machine cannot be read.
 */
export async function runCapture(io: CliIo, o: CaptureCommand): Promise<number> {
  const out = resolve(io.cwd ?? process.cwd(), o.out);
  const progress = progressFor(io);
  let started = false;
  let result: Awaited<ReturnType<typeof capture>>;
  try {
    result = await capture({
      out,
      pids: o.pids.length > 0 ? o.pids : "all",
      anonymize: o.anonymize,
      gzip: o.gzip ?? out.endsWith(".gz"),
      procRoot: io.env.PHYR_PROC_ROOT || "/proc",
      sysRoot: io.env.PHYR_SYS_ROOT || "/sys",
      onProgress: (done, total) => {
        if (!started) progress.start(total, "capturing");
        started = true;
        progress.update(done);
      },
    });
  } catch (e) {
    throw new CliFailure(`cannot capture to ${out}: ${(e as Error).message}`);
  } finally {
    progress.stop();
  }
  if (o.json) io.stdout.write(`${JSON.stringify({ file: out, ...result }, null, 2)}\n`);
  else {
    io.stdout.write(
      `Captured ${result.processes} processes, ${result.vmas} VMAs, ${result.runs} runs (${result.bytes} bytes uncompressed) to ${out}\n`,
    );
    if (result.skippedProcesses > 0 || result.vmaErrors > 0) {
      io.stdout.write(`${result.skippedProcesses} processes skipped, ${result.vmaErrors} VMAs unreadable\n`);
    }
  }
  return EXIT_OK;
}
