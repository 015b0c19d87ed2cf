/**
 * The CLI's outside world, passed in so `main(argv, io)` runs in-process in tests: output streams,
 * environment, working directory; colour and progress decisions; exit codes and error classes.
 */

import { fstatSync, writeSync } from "node:fs";
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
  /** Limits on input work raised or lowered with `--limit NAME=N` (see {@link LIMIT_NAMES}). */
  limits?: CliLimits;
}

/** The limits `--limit NAME=N` sets: the snapshot loader's and the P2P matrix's. */
export interface CliLimits {
  maxLineBytes?: number;
  maxTotalBytes?: number;
  maxProcesses?: number;
  maxVmas?: number;
  maxRuns?: number;
  maxP2pCells?: number;
}

/** Names `--limit` accepts. */
export const LIMIT_NAMES: readonly (keyof CliLimits)[] = [
  "maxLineBytes",
  "maxTotalBytes",
  "maxProcesses",
  "maxVmas",
  "maxRuns",
  "maxP2pCells",
];

/**
 * Parses one `--limit NAME=N` into `into`. O(1).
 * @param text the option's value, e.g. "maxVmas=8000000".
 * @param into the limits so far (updated).
 * @returns `into`.
 * @throws UsageError naming the value and the reason (unknown name, not a positive integer).
 */
export function parseLimit(text: string, into: CliLimits): CliLimits {
  const m = /^([A-Za-z0-9]+)=(\d{1,16})$/.exec(text);
  const name = m?.[1] as keyof CliLimits | undefined;
  if (!m || name === undefined || !LIMIT_NAMES.includes(name))
    throw new UsageError(
      `--limit ${JSON.stringify(text)} is invalid: expected NAME=N with NAME one of ${LIMIT_NAMES.join(", ")}`,
    );
  const n = Number(m[2]);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--limit ${JSON.stringify(text)} is invalid: ${m[2]} is not a positive integer`);
  into[name] = n;
  return into;
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
 * Standard output (or error) as a {@link CliStream} that writes whole or fails. When the
 * descriptor is a regular file or a character device (`> out.json`, `> /dev/full`), each write is
 * a synchronous write(2) loop over short writes, and a failure (ENOSPC, EIO, EFBIG) throws a
 * {@link CliFailure} naming it, so the command stops with exit 1 instead of leaving a cut
 * document behind with exit 0. Pipes and terminals keep Node's own stream (its errors arrive as
 * events; see main.ts). O(bytes) per write.
 * @param fd 1 or 2.
 * @param stream Node's stream for the descriptor.
 * @param name what to call it in errors ("standard output").
 * @returns the stream to pass to main().
 */
export function wholeWriteStream(fd: number, stream: NodeJS.WriteStream, name: string): CliStream {
  let regular = false;
  try {
    const st = fstatSync(fd);
    regular = (st.isFile() || st.isCharacterDevice()) && stream.isTTY !== true;
  } catch {
    regular = false;
  }
  if (!regular) return stream;
  return {
    isTTY: false,
    write(text: string) {
      const b = Buffer.from(text, "utf8");
      try {
        for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
      } catch (e) {
        throw new CliFailure(`cannot write to ${name}: ${(e as Error).message}`);
      }
      return true;
    },
  };
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

/** Seconds between the plain progress lines written when stderr is not a terminal. */
export const PROGRESS_LINE_SECONDS = 10;

/**
 * Progress as plain lines (`phyr: reading memory (MiB) 120/4,096 (2%)`), at most one every
 * `intervalMs` and none before the first interval has passed, so short runs print nothing and
 * long ones (a large pagemap read into a log file or a pipe) show they are moving. O(1) per update.
 * @param stream where the lines go (stderr).
 * @param intervalMs least time between lines.
 * @param now clock in milliseconds (tests pass a fake one).
 * @returns the reporter.
 */
export function lineProgress(
  stream: CliStream,
  intervalMs = PROGRESS_LINE_SECONDS * 1000,
  now: () => number = Date.now,
): Progress {
  let what = "";
  let total = 0;
  let last = 0;
  return {
    start(t, w) {
      what = w;
      total = t;
      last = now();
    },
    update(done) {
      const t = now();
      if (t - last < intervalMs) return;
      last = t;
      const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
      stream.write(
        `phyr: ${what} ${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")} (${pct}%)\n`,
      );
    },
    stop() {},
  };
}

/**
 * A cli-progress bar on stderr when stderr is a TTY; otherwise {@link lineProgress} lines on
 * stderr every few seconds of a long read (when `lines`).
 * @param io the CLI's streams.
 * @param lines plain lines when stderr is not a TTY (false: nothing then).
 * @returns the reporter.
 */
export function progressFor(io: CliIo, lines = true): Progress {
  if (io.stderr.isTTY !== true) return lines ? lineProgress(io.stderr) : noProgress;
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
