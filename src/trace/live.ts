/**
 * Live tracing (Node, root): saves the tracing settings, enables the dma:, iommu: and swiotlb:
 * events, reads `trace_pipe` for a number of seconds, and puts every setting back, also when the
 * window is cut short by SIGINT / SIGTERM or an error. Reads a tracefs directory given as
 * `tracefs` (tests pass a fake tree); by default the mounted one, and when none is mounted it
 * mounts tracefs on a private temporary directory and unmounts it afterwards.
 *
 * What is saved and restored (kernel/trace/trace.c, kernel/trace/trace_events.c files):
 * `tracing_on`, `current_tracer` (set to `nop` meanwhile, so function tracing cannot flood the
 * pipe), `buffer_size_kb` (raised to {@link LIVE_BUFFER_KB} per CPU; a never-expanded buffer reads
 * `7 (expanded: 1408)` and is restored to its expanded size, since enabling any event expands it),
 * and the `enable` file of every event of the traced systems. The ring buffer is cleared at the
 * start (writing `trace`), so events from before the window are not counted.
 */

import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  constants as FS,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TraceReader } from "./parse.js";
import type { ParsedTrace } from "./parse-types.js";

/** The event systems the live window enables. */
export const LIVE_SYSTEMS: readonly string[] = ["dma", "iommu", "swiotlb"];
/** Ring-buffer size per CPU during the window, in KiB. */
export const LIVE_BUFFER_KB = 8192;
/** Where tracefs is usually mounted, in the order they are tried. */
export const TRACEFS_MOUNTS: readonly string[] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** Tracing could not start: no tracefs, or not allowed (not root). `code` says which. */
export class TraceAccessError extends Error {
  override name = "TraceAccessError";
  constructor(
    readonly code: "NO_TRACEFS" | "NOT_ROOT",
    message: string,
  ) {
    super(message);
  }
}

/** Options of {@link readLiveTrace}. */
export interface LiveTraceOptions {
  /** Length of the window in seconds (> 0, at most 3600). */
  seconds: number;
  /** tracefs directory; default: the mounted one (see the module comment). */
  tracefs?: string;
  /** Ends the window early (the settings are restored as usual). */
  signal?: AbortSignal;
  /** Poll interval of the non-blocking trace_pipe reads, ms (default 50). */
  pollMs?: number;
}

/** The window's events plus how it went. */
export interface LiveTrace {
  trace: ParsedTrace;
  /** The tracefs directory used (a temporary mount point when phyr mounted it). */
  tracefs: string;
  /** Seconds the window really lasted. */
  seconds: number;
  /** `SIGINT`/`SIGTERM`/`abort` when the window was cut short, else "". */
  interrupted: string;
  /** The events enabled (`system:event`). */
  enabled: string[];
}

interface Saved {
  files: [path: string, value: string][];
}

function read(path: string): string {
  return readFileSync(path, "utf8").trim();
}

/** buffer_size_kb reads `N` or `N (expanded: M)`: the size to write back. */
export function bufferSizeToRestore(text: string): string {
  const m = /\(expanded:\s*(\d+)\)/.exec(text);
  if (m !== null) return m[1];
  const n = /^(\d+)/.exec(text.trim());
  if (n === null)
    throw new RangeError(`buffer_size_kb ${JSON.stringify(text)} is invalid: expected a number of KiB`);
  return n[1];
}

function locate(opts: LiveTraceOptions): { dir: string; mounted: boolean } {
  if (opts.tracefs !== undefined) {
    if (!existsSync(join(opts.tracefs, "tracing_on"))) {
      throw new TraceAccessError("NO_TRACEFS", `no tracefs at ${opts.tracefs}: it has no tracing_on file`);
    }
    return { dir: opts.tracefs, mounted: false };
  }
  for (const d of TRACEFS_MOUNTS) if (existsSync(join(d, "tracing_on"))) return { dir: d, mounted: false };
  if (process.getuid?.() !== 0) {
    throw new TraceAccessError(
      "NOT_ROOT",
      "phyr trace --seconds needs root: tracefs is not mounted and only root can mount and write it",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "phyr-tracefs-"));
  const r = spawnSync("mount", ["-t", "tracefs", "nodev", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    rmdirSync(dir);
    throw new TraceAccessError(
      "NO_TRACEFS",
      `no tracefs: not mounted at ${TRACEFS_MOUNTS.join(" or ")}, and mounting it failed (${(r.stderr ?? "").trim() || r.error?.message || `exit ${r.status}`})`,
    );
  }
  return { dir, mounted: true };
}

/** The enable files of the events of `systems` present under `dir/events`. */
function eventEnableFiles(dir: string): { name: string; path: string }[] {
  const out: { name: string; path: string }[] = [];
  for (const sys of LIVE_SYSTEMS) {
    const sd = join(dir, "events", sys);
    if (!existsSync(sd)) continue;
    for (const ev of readdirSync(sd, { withFileTypes: true })) {
      if (!ev.isDirectory()) continue;
      const p = join(sd, ev.name, "enable");
      if (existsSync(p)) out.push({ name: `${sys}:${ev.name}`, path: p });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function write(path: string, value: string): void {
  writeFileSync(path, value);
}

/** Writes every saved value back, in reverse order; returns the failures (never throws). */
function restore(saved: Saved): string[] {
  const failed: string[] = [];
  for (let i = saved.files.length - 1; i >= 0; i--) {
    const [p, v] = saved.files[i];
    try {
      write(p, v);
    } catch (e) {
      failed.push(`${p}: ${(e as Error).message}`);
    }
  }
  return failed;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Traces the DMA API for `seconds` (root). Cost: the window's length; memory O(events).
 * @returns the parsed events of the window and how the window went.
 * @throws TraceAccessError without tracefs or without the right to write it (settings untouched);
 * RangeError for a bad `seconds`; Error naming the files it could not restore.
 */
export async function readLiveTrace(opts: LiveTraceOptions): Promise<LiveTrace> {
  const { seconds } = opts;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
    throw new RangeError(`seconds ${String(seconds)} is invalid: expected a number in (0, 3600]`);
  }
  const { dir, mounted } = locate(opts);
  const on = join(dir, "tracing_on");
  try {
    // Permission probe before anything changes: open for writing without writing.
    closeSync(openSync(on, FS.O_WRONLY));
  } catch (e) {
    if (mounted) unmount(dir);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") {
      throw new TraceAccessError("NOT_ROOT", `phyr trace --seconds needs root: cannot write ${on} (${code})`);
    }
    throw new TraceAccessError("NO_TRACEFS", `no usable tracefs at ${dir}: ${(e as Error).message}`);
  }
  const events = eventEnableFiles(dir);
  const saved: Saved = { files: [] };
  const save = (p: string, value = read(p)) => saved.files.push([p, value]);
  const stop = { why: "" };
  const onSig = (sig: NodeJS.Signals) => () => {
    stop.why = sig;
  };
  const sigint = onSig("SIGINT");
  const sigterm = onSig("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  const reader = new TraceReader();
  const started = Date.now();
  let fd = -1;
  let failed: string[] = [];
  try {
    save(on);
    write(on, "0");
    const tracer = join(dir, "current_tracer");
    save(tracer);
    write(tracer, "nop");
    const buf = join(dir, "buffer_size_kb");
    save(buf, bufferSizeToRestore(read(buf)));
    write(buf, String(LIVE_BUFFER_KB));
    for (const e of events) {
      save(e.path);
      write(e.path, "1");
    }
    write(join(dir, "trace"), "");
    fd = openSync(join(dir, "trace_pipe"), FS.O_RDONLY | FS.O_NONBLOCK);
    write(on, "1");
    const chunk = Buffer.alloc(1 << 16);
    const dec = new TextDecoder();
    const end = started + seconds * 1000;
    while (stop.why === "" && !opts.signal?.aborted) {
      let n = 0;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      }
      if (n > 0) {
        reader.feed(dec.decode(chunk.subarray(0, n), { stream: true }));
        continue;
      }
      if (Date.now() >= end) break;
      await sleep(Math.min(opts.pollMs ?? 50, Math.max(1, end - Date.now())));
    }
    write(on, "0");
    // Drain what the kernel recorded up to the stop.
    for (;;) {
      let n = 0;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      }
      if (n <= 0) break;
      reader.feed(dec.decode(chunk.subarray(0, n), { stream: true }));
    }
    reader.feed(dec.decode());
  } finally {
    if (fd >= 0) closeSync(fd);
    failed = restore(saved);
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
    if (mounted) unmount(dir);
  }
  if (failed.length > 0) throw new Error(`tracing settings not restored: ${failed.join("; ")}`);
  return {
    trace: reader.finish(),
    tracefs: dir,
    seconds: (Date.now() - started) / 1000,
    interrupted: stop.why !== "" ? stop.why : opts.signal?.aborted ? "abort" : "",
    enabled: events.map((e) => e.name),
  };
}

function unmount(dir: string): void {
  spawnSync("umount", [dir]);
  try {
    rmdirSync(dir);
  } catch {
    // left behind when still busy; harmless empty directory in the temp dir
  }
}
