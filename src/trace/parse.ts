/**
 * Reads tracefs text (the `trace` file with its `#` header, or `trace_pipe` lines) into typed
 * events. The line layout is kernel/trace/trace_output.c trace_print_context():
 *
 * ```
 *            TASK-PID     [CPU] LAT.. SECONDS.MICROS: EVENT: BODY
 *      fio-412     [001] ..... 12.345678: dma_map_phys: 0000:00:04.0 dir=FROM_DEVICE ...
 *      fio-412     (    412) [001] 12.345678: map: IOMMU: iova=0x...       (record-tgid, no irq-info)
 * ```
 *
 * `"%16s-%-7d "` task and pid, an optional `"(%7d) "` tgid, `"[%03d] "` cpu, the optional
 * trace_print_lat_fmt() columns (irqs-off, need-resched, hardirq/softirq, preempt depth and, since
 * 6.x, migrate-disable: 4 or 5 characters), then `" %5lu.%06lu"` (or `" %12llu"` for counter
 * clocks) and `": "`; the event's own TP_printk text follows `"NAME: "` (parse-body.ts reads it).
 * Also read: `CPU:%d [LOST %lu EVENTS]` (ring-buffer overruns, counted in `lost`) and
 * `tracing_mark_write: TEXT` markers (kind `marker`).
 *
 * Lines that look like neither are skipped and counted (`malformed`), never a crash; a text with
 * no trace line at all is refused with a {@link ParseError} naming its first line.
 */

import { ParseError } from "../core/index.js";
import { BodyError, parseBody } from "./parse-body.js";
import { MALFORMED_KEPT, type ParsedTrace, type TraceContext, type TraceEvent } from "./parse-types.js";

export { DMA_TRACE_MAX_ENTRIES } from "./parse-body.js";
export * from "./parse-types.js";

// trace_print_context(): comm-pid, [tgid], [cpu], [lat], timestamp, then "NAME: BODY".
const CONTEXT =
  /^\s*(.*)-(\d+)\s+(?:\(\s*(\d+|-------)\)\s+)?\[(\d+)\]\s+(?:([.a-zA-Z0-9]{4,5})\s+)?(\d+)(?:\.(\d{6}))?:\s(\S+?):(?: (.*))?$/;
// kernel/trace/trace.c print_trace_line() / trace_pipe: "CPU:%d [LOST %lu EVENTS]"
const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]$/;
const TRACER = /^#\s*tracer:\s*(\S+)/;
const ENTRIES = /^#\s*entries-in-buffer\/entries-written:\s*(\d+)\/(\d+)/;

/** The result of reading one line. */
export type LineResult =
  | { type: "event"; event: TraceEvent }
  | { type: "comment" }
  | { type: "blank" }
  | { type: "lost"; count: number }
  | { type: "malformed"; reason: string };

/**
 * Reads one line of tracefs text. Cost: O(line length).
 * @param text the line without its newline.
 * @param lineNo its 1-based line number (kept in the event).
 * @returns what the line is; a malformed line says why.
 */
export function parseTraceLine(text: string, lineNo: number): LineResult {
  const t = text.endsWith("\r") ? text.slice(0, -1) : text;
  if (t.trim() === "") return { type: "blank" };
  if (t.startsWith("#")) return { type: "comment" };
  const lost = LOST.exec(t);
  if (lost !== null) return { type: "lost", count: Number(lost[2]) };
  const m = CONTEXT.exec(t);
  if (m === null)
    return { type: "malformed", reason: "not a trace line (TASK-PID [CPU] TIMESTAMP: EVENT: ...)" };
  const [, task, pid, tgid, cpu, lat, secs, micros, name, body = ""] = m;
  const ts = micros === undefined ? Number(secs) : Number(secs) * 1e6 + Number(micros);
  if (!Number.isSafeInteger(ts)) return { type: "malformed", reason: `timestamp ${secs}: beyond 2^53` };
  const ctx: TraceContext = {
    line: lineNo,
    task: task.trimStart(),
    pid: Number(pid),
    tgid: tgid === undefined || tgid === "-------" ? -1 : Number(tgid),
    cpu: Number(cpu),
    latency: lat ?? "",
    ts,
    name,
  };
  if (name === "tracing_mark_write") return { type: "event", event: { ...ctx, kind: "marker", text: body } };
  try {
    return { type: "event", event: { ...ctx, ...parseBody(name, body) } as TraceEvent };
  } catch (e) {
    if (e instanceof BodyError) return { type: "malformed", reason: `${name}: ${e.message}` };
    throw e;
  }
}

/**
 * Incremental reader for a stream (trace_pipe): feed chunks as they come, then `finish()`.
 * Cost: O(text length) over all feeds; memory O(events).
 */
export class TraceReader {
  private readonly out: ParsedTrace = {
    events: [],
    lines: 0,
    malformed: 0,
    malformedFirst: [],
    lost: 0,
    tracer: "",
    entries: undefined,
  };
  private pending = "";
  private traceLines = 0;
  private firstText = 0;

  /** Feeds a chunk of text (any split, lines may continue in the next chunk). */
  feed(chunk: string): void {
    const text = this.pending + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.pending = text.slice(start);
  }

  /** Lines that were trace events, lost-event notes or header comments (not blank, not malformed). */
  get recognised(): number {
    return this.traceLines;
  }

  /** The 1-based number of the first non-blank line, 0 when none. */
  get firstTextLine(): number {
    return this.firstText;
  }

  /**
   * Ends the stream (a last line without a newline is read) and returns everything read.
   * @returns the parsed trace; the reader must not be fed again.
   */
  finish(): ParsedTrace {
    if (this.pending !== "") this.line(this.pending);
    this.pending = "";
    return this.out;
  }

  private line(text: string): void {
    const n = ++this.out.lines;
    const r = parseTraceLine(text, n);
    if (r.type !== "blank" && this.firstText === 0) this.firstText = n;
    switch (r.type) {
      case "event":
        this.out.events.push(r.event);
        this.traceLines++;
        return;
      case "lost":
        this.out.lost += r.count;
        this.traceLines++;
        return;
      case "comment": {
        const tr = TRACER.exec(text);
        if (tr !== null) this.out.tracer = tr[1];
        const en = ENTRIES.exec(text);
        if (en !== null) this.out.entries = [Number(en[1]), Number(en[2])];
        this.traceLines++;
        return;
      }
      case "malformed":
        this.out.malformed++;
        if (this.out.malformedFirst.length < MALFORMED_KEPT) {
          this.out.malformedFirst.push({ line: n, reason: r.reason });
        }
        return;
      case "blank":
        return;
    }
  }
}

/**
 * Reads a whole tracefs text (`trace` or `trace_pipe` output). Cost: O(text length).
 * @param text the file's contents.
 * @param path where it came from (named in the error).
 * @returns the events, with counts of malformed lines and lost events.
 * @throws ParseError when the text has lines but none of them is tracefs output (names the first line).
 * @example
 * const t = parseTrace("fio-7 [000] ..... 1.000001: map: IOMMU: iova=0x0000000000001000 - 0x0000000000002000 paddr=0x0000000000200000 size=4096\n", "t");
 * t.events[0].kind; // "iommu_map"
 */
export function parseTrace(text: string, path: string): ParsedTrace {
  const r = new TraceReader();
  r.feed(text);
  const first = r.firstTextLine;
  const out = r.finish();
  if (r.recognised === 0 && out.malformed > 0) {
    throw new ParseError(
      path,
      first,
      "not tracefs text: no line has the TASK-PID [CPU] TIMESTAMP: EVENT: layout",
    );
  }
  return out;
}
