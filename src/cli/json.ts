/**
 * The `--json` shapes of every command. Each command prints ONE JSON document on stdout (two-space
 * indented) whose `schema` field names its shape and version; a field is never removed or
 * retyped within a version. Each command's `--help` names its schema and top-level fields (a test
 * checks the printed documents against the help text):
 *
 * | command | schema | top-level fields |
 * |---|---|---|
 * | `report`, `analyze` | `phyr-analysis/1` | {@link MachineAnalysis} |
 * | `topo` | `phyr-topo/1` | {@link TopoJson} |
 * | `capture` | `phyr-capture/1` | {@link CaptureJson} |
 * | `simulate` (no name) | `phyr-scenarios/1` | {@link ScenarioListJson} |
 * | `simulate NAME` | `phyr-scenario/1` | {@link ScenarioJson} |
 * | `bench` | `phyr-bench/1` | {@link BenchJson} |
 * | `trace` | `phyr-trace/1` | {@link TraceJson} |
 */

import type { MachineAnalysis, ScenarioSummary } from "../analyze/index.js";
import type { CaptureResult } from "../linux/index.js";
import type { MalformedLine, TraceSummary } from "../trace/index.js";

/** Schema id of `phyr topo --json`. */
export const TOPO_SCHEMA = "phyr-topo/1";
/** Schema id of `phyr capture --json`. */
export const CAPTURE_SCHEMA = "phyr-capture/1";
/** Schema id of `phyr simulate --json` (the list). */
export const SCENARIO_LIST_SCHEMA = "phyr-scenarios/1";
/** Schema id of `phyr simulate NAME --json`. */
export const SCENARIO_SCHEMA = "phyr-scenario/1";
/** Schema id of `phyr bench --json`. */
export const BENCH_SCHEMA = "phyr-bench/1";
/** Schema id of `phyr trace --json`. */
export const TRACE_SCHEMA = "phyr-trace/1";

/** `phyr topo --json`: the machine-level part of the analysis (no buffers, totals or scenarios). */
export type TopoJson = { schema: typeof TOPO_SCHEMA } & Pick<
  MachineAnalysis,
  "origin" | "host" | "access" | "physmap" | "pci" | "iommu" | "p2p"
>;

/**
 * `phyr capture --json`: the file written (absolute path), what went into it, and warnings (e.g.
 * frame numbers hidden: the snapshot holds no physical runs).
 */
export type CaptureJson = { schema: typeof CAPTURE_SCHEMA; file: string; warnings: string[] } & CaptureResult;

/**
 * `phyr simulate --json`: the scenarios, with the size a run uses without --size, the unit sizes
 * must be a multiple of, the largest size, and the size the full bench runs each at (bytes).
 */
export interface ScenarioListJson {
  schema: typeof SCENARIO_LIST_SCHEMA;
  scenarios: {
    name: string;
    description: string;
    defaultSize: number;
    unit: number;
    maxSize: number;
    fullSize: number;
  }[];
}

/**
 * `phyr simulate NAME --json`: one scenario's result (metrics side by side, ratios baseline /
 * design; model numbers), with the estimate made before the run and what the run measured (peak
 * resident memory of the process from getrusage, wall time).
 */
export type ScenarioJson = { schema: typeof SCENARIO_SCHEMA } & ScenarioSummary & {
    estimate: { memoryBytes: number; seconds: number };
    measured: { peakRssBytes: number; seconds: number };
  };

/** One bench row (bench/harness.ts BenchRow). */
export interface BenchRowJson {
  name: string;
  value: number;
  unit: string;
  /**
   * `value` against a reference measured in the same run: from paired rounds (`value` the median
   * of the per-round ratios, `spread` their count and range) or exact (a ratio of counts or sizes).
   */
  ratio?: {
    against: string;
    value: number;
    want?: string;
    ok?: boolean;
    spread?: { rounds: number; lo: number; hi: number };
    exact?: "count" | "size";
  };
}

/** `phyr bench --json`: every suite run, with its rows. */
export interface BenchJson {
  schema: typeof BENCH_SCHEMA;
  suites: { suite: string; rows: BenchRowJson[] }[];
}

/**
 * `phyr trace --json`: where the trace came from (a file, or the live window: tracefs used, seconds,
 * `interrupted` by SIGINT/SIGTERM or "", the events enabled), how it parsed (lines, the `# tracer:`
 * header, `[in buffer, written]` entries or null, the first malformed lines), and the per-device
 * summary, kernel (traced) beside the phyr design (model).
 */
export interface TraceJson {
  schema: typeof TRACE_SCHEMA;
  source:
    | { kind: "file"; path: string }
    | { kind: "live"; tracefs: string; seconds: number; interrupted: string; enabled: string[] };
  parse: { lines: number; tracer: string; entries: [number, number] | null; malformedFirst: MalformedLine[] };
  summary: TraceSummary;
}

/**
 * The one JSON document a command prints: two-space indented, newline-terminated.
 * @param value the document.
 * @returns its text.
 */
export function jsonDocument(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
