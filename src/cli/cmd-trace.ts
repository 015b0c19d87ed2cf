/**
 * `phyr trace`: the kernel's own record of its DMA decisions (tracefs text from `--file`, stdin with
 * `--file -`, or a live window with `--seconds N` as root), summarised per device: what the kernel
 * did (traced) beside what the phyr design would have built for the same physical ranges (model).
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { terminalSafe } from "../report/index.js";
import { formatTable } from "../report/table.js";
import { TRACE_COLUMNS, traceSectionData } from "../report/trace-section.js";
import { type ParsedTrace, parseTrace, summarizeTrace, type TraceSummary } from "../trace/index.js";
import { readLiveTrace, TraceAccessError } from "../trace/live.js";
import { CliFailure, type CliIo, EXIT_OK, paintFor, UsageError } from "./io.js";
import { jsonDocument, TRACE_SCHEMA, type TraceJson } from "./json.js";

/** Options of {@link runTrace}. */
export interface TraceCommand {
  file?: string;
  seconds?: number;
  tracefs?: string;
  json?: boolean;
}

/** Bidi controls (and the Arabic letter mark) that reorder terminal text: shown as `\uXXXX`. */
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Untrusted text (device names) for the terminal: control characters and bidi controls escaped. O(n). */
export function traceText(s: string): string {
  return terminalSafe(s).replace(BIDI, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * The terminal text of a summary. O(devices).
 * @param s the summary.
 * @param origin what was read (a file path, `stdin`, or the live window).
 * @param io for colour.
 * @returns lines (no trailing newline).
 */
export function renderTraceSummary(s: TraceSummary, origin: string, io: CliIo): string[] {
  const paint = paintFor(io.stdout, io.env);
  const data = traceSectionData(s);
  const out = [paint.bold(`phyr trace — ${traceText(origin)}`), data.counts, data.message];
  for (const d of data.devices) {
    out.push("", paint.bold(traceText(d.title)));
    out.push(
      ...formatTable([...TRACE_COLUMNS], d.rows, {
        align: ["left", "right", "right"],
        paint,
        maxWidth: 60,
      }),
    );
    if (d.attribution !== "") out.push(paint.dim(d.attribution));
  }
  if (data.notes.length > 0) out.push("");
  for (const note of data.notes) out.push(paint.dim(`note: ${note}`));
  return out;
}

/**
 * The tracefs text of a file's contents: the text itself, or the `trace` field of a kernel-lab
 * record (lab/fixtures/*.json, a JSON object whose `trace` is the raw tracefs text). O(n).
 */
export function traceTextOf(contents: string): string {
  if (!contents.trimStart().startsWith("{")) return contents;
  try {
    const v = JSON.parse(contents) as { trace?: unknown };
    if (typeof v?.trace === "string") return v.trace;
  } catch {
    // not JSON: parsed as tracefs text below, which names the first line it cannot read
  }
  return contents;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Reads and parses a trace file (`-` reads stdin) for `phyr trace --file` and `phyr report
 * --trace`. O(file size).
 * @returns the path read (absolute, or "stdin") and the parsed trace.
 * @throws CliFailure for an unreadable file; ParseError for text that is not tracefs output.
 */
async function readTraceFile(io: CliIo, file: string): Promise<{ path: string; trace: ParsedTrace }> {
  const path = file === "-" ? "stdin" : resolve(io.cwd ?? process.cwd(), file);
  let text: string;
  try {
    text = file === "-" ? await readStdin() : readFileSync(path, "utf8");
  } catch (e) {
    throw new CliFailure(`cannot read trace ${path}: ${(e as Error).message}`);
  }
  return { path, trace: parseTrace(traceTextOf(text), path) };
}

/**
 * Runs `phyr trace`.
 * @returns the exit code (0; failures throw).
 * @throws UsageError unless exactly one of --file / --seconds is given; CliFailure for an
 *   unreadable file, no tracefs or not root; ParseError for a file that is not tracefs text.
 */
export async function runTrace(io: CliIo, o: TraceCommand): Promise<number> {
  if ((o.file === undefined) === (o.seconds === undefined)) {
    throw new UsageError("trace needs exactly one of --file FILE (or - for stdin) and --seconds N");
  }
  if (o.tracefs !== undefined && o.seconds === undefined)
    throw new UsageError("--tracefs goes with --seconds");
  let json: TraceJson;
  let origin: string;
  if (o.file !== undefined) {
    const { path, trace } = await readTraceFile(io, o.file);
    origin = o.file === "-" ? "stdin" : o.file;
    json = {
      schema: TRACE_SCHEMA,
      source: { kind: "file", path },
      parse: {
        lines: trace.lines,
        tracer: trace.tracer,
        entries: trace.entries ?? null,
        malformedFirst: trace.malformedFirst,
      },
      summary: summarizeTrace(trace),
    };
  } else {
    let live: Awaited<ReturnType<typeof readLiveTrace>>;
    try {
      live = await readLiveTrace({ seconds: o.seconds ?? 0, tracefs: o.tracefs });
    } catch (e) {
      if (e instanceof TraceAccessError) throw new CliFailure(e.message);
      throw e;
    }
    const t = live.trace;
    origin = `live, ${live.seconds.toFixed(1)} s${live.interrupted ? ` (cut short by ${live.interrupted})` : ""}, ${live.tracefs}`;
    json = {
      schema: TRACE_SCHEMA,
      source: {
        kind: "live",
        tracefs: live.tracefs,
        seconds: live.seconds,
        interrupted: live.interrupted,
        enabled: live.enabled,
      },
      parse: {
        lines: t.lines,
        tracer: t.tracer,
        entries: t.entries ?? null,
        malformedFirst: t.malformedFirst,
      },
      summary: summarizeTrace(t),
    };
  }
  if (o.json) io.stdout.write(jsonDocument(json));
  else io.stdout.write(`${renderTraceSummary(json.summary, origin, io).join("\n")}\n`);
  return EXIT_OK;
}

function parseSeconds(v: string): number {
  const s = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(s > 0) || s > 3600) {
    throw new UsageError(
      `--seconds ${JSON.stringify(v)} is invalid: expected a number of seconds in (0, 3600]`,
    );
  }
  return s;
}

/**
 * Registers `phyr trace` on the program (program.ts calls this once).
 * @param program the root command.
 * @param io streams.
 * @param setCode receives the exit code.
 */
export function addTraceCommand(program: Command, io: CliIo, setCode: (code: number) => void): void {
  program
    .command("trace")
    .description(
      "summarise the kernel's DMA decisions from tracefs (dma:, iommu:, swiotlb:, nvme: events) per device: kernel (traced) beside the phyr design (model) for the same physical ranges",
    )
    .option(
      "--file <file>",
      "read tracefs text (the trace or trace_pipe format), or a kernel-lab record (its trace field); - reads stdin",
    )
    .option(
      "--seconds <n>",
      "trace live for N seconds (root): enables the events, restores every setting after",
      parseSeconds,
    )
    .option(
      "--tracefs <dir>",
      "tracefs directory for --seconds (default: the mounted one, else a private mount)",
    )
    .option("--json", 'print JSON: { schema: "phyr-trace/1", source, parse, summary }')
    .action(async (o: TraceCommand) => {
      setCode(await runTrace(io, o));
    });
}

/**
 * The summary of a trace file for `phyr report --trace FILE` (`-` reads stdin).
 * @returns the per-device summary.
 * @throws CliFailure for an unreadable file; ParseError for text that is not tracefs output.
 */
export async function readTraceSummary(io: CliIo, file: string): Promise<TraceSummary> {
  return summarizeTrace((await readTraceFile(io, file)).trace);
}
