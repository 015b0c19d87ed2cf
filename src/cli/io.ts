/**
 * The CLI's outside world, passed in so `main(argv, io)` runs in-process in tests: output streams,
 * environment, working directory; colour and progress decisions; exit codes and error classes.
 */

import { SingleBar } from "cli-progress";
import pc from "picocolors";
import { type Paint, plainPaint } from "../report/index.js";

/** A text sink (process.stdout / process.stderr, or a capture in tests). */
export interface CliStream {
  write(text: string): unknown;
  /** True when the stream is a terminal (colour and progress bars are drawn only then). */
  isTTY?: boolean;
}

/** What the CLI may touch besides the file system. */
export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  env: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths resolve against; default process.cwd(). */
  cwd?: string;
}

/** Exit code: success. */
export const EXIT_OK = 0;
/** Exit code: the command could not do its job (no such pid, unreadable or corrupt input). */
export const EXIT_FAILURE = 1;
/** Exit code: bad command line (syntax, conflicting or missing flags). */
export const EXIT_USAGE = 2;

/** A bad command line (syntax, conflicting flags): exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A command that ran but failed for a stated reason (no such pid, unreadable input): exit code 1. */
export class CliFailure extends Error {
  override name = "CliFailure";
}

/**
 * Colour is used only when the stream is a TTY and NO_COLOR is unset or empty (no-color.org).
 * @param stream the stream that will be written.
 * @param env the environment.
 * @returns the paint functions (plain ones when colour is off).
 */
export function paintFor(stream: CliStream, env: CliIo["env"]): Paint {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  if (noColor || stream.isTTY !== true) return plainPaint;
  const c = pc.createColors(true);
  return { bold: c.bold, dim: c.dim, red: c.red, green: c.green, yellow: c.yellow, cyan: c.cyan };
}

/** A progress reporter: `start(total, what)`, `update(done)`, `stop()`. */
export interface Progress {
  start(total: number, what: string): void;
  update(done: number): void;
  stop(): void;
}

/** A progress reporter that draws nothing (not a TTY, or `--json`). */
export const noProgress: Progress = { start() {}, update() {}, stop() {} };

/**
 * A cli-progress bar on stderr when stderr is a TTY; {@link noProgress} otherwise.
 * @param io the CLI's streams.
 * @returns the reporter.
 */
export function progressFor(io: CliIo): Progress {
  if (io.stderr.isTTY !== true) return noProgress;
  let bar: SingleBar | undefined;
  return {
    start(total, what) {
      bar?.stop();
      bar = new SingleBar({
        format: `${what.padEnd(20).slice(0, 20)} [{bar}] {percentage}% {value}/{total}`,
        stream: io.stderr as NodeJS.WritableStream,
        clearOnComplete: true,
        hideCursor: true,
      });
      bar.start(total, 0);
    },
    update(done) {
      bar?.update(done);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
