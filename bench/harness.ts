/**
 * Benchmark harness. Every `bench/*.bench.ts` file exports `suite: BenchSuite`; `main.ts` finds
 * them, runs each (full or `--quick`) and prints every comparison as a ratio measured in the same
 * run: the design against the kernel's current way (baseline) and against the limit.
 */
import { measure } from "mitata";

/** One printed line: a measured quantity, optionally compared to a reference in the same run. */
export interface BenchRow {
  /** What was measured, e.g. "build compact from 16M PFNs". */
  name: string;
  /** The value (ns per op for timings, or a size / count). */
  value: number;
  /** Unit of `value`: "ns", "B", "B/entry", "entries", "ops"... */
  unit: string;
  /** Optional comparison: `ratio = note's reference / value` as the suite defines it. */
  ratio?: {
    against: string;
    value: number;
    want?: string;
    ok?: boolean;
    /** Paired rounds: `value` is the median of the per-round ratios, lo-hi their range. */
    spread?: { rounds: number; lo: number; hi: number };
  };
}

/**
 * The ratio of paired rounds: the median of `ratios` (one per round, both sides measured back to
 * back) with their range, so a row shows how stable it is. O(n log n).
 * @throws RangeError for no rounds
 */
export function pairedRatio(ratios: readonly number[]): {
  value: number;
  spread: { rounds: number; lo: number; hi: number };
} {
  if (ratios.length === 0) throw new RangeError("paired ratio of 0 rounds is invalid: expected >= 1 round");
  return {
    value: median(ratios),
    spread: { rounds: ratios.length, lo: Math.min(...ratios), hi: Math.max(...ratios) },
  };
}

/** `rounds lo-hi` as printed after a ratio (two decimals below 100, none above). O(1). */
export function fmtSpread(s: { rounds: number; lo: number; hi: number }): string {
  const f = (x: number) => x.toFixed(x >= 100 ? 0 : 2);
  return `${s.rounds} rounds ${f(s.lo)}-${f(s.hi)}x`;
}

/** Options every suite receives. */
export interface BenchOptions {
  /** Small inputs and short sampling so the whole quick bench stays under 60 s. */
  quick: boolean;
}

/** A group of measurements. */
export interface BenchSuite {
  name: string;
  run(opts: BenchOptions): Promise<BenchRow[]>;
}

/**
 * Median time of `fn` in nanoseconds, via mitata's sampler (warm-up, GC between batches).
 * `fn` must return something so the work is not optimised away.
 */
export async function timeNs(fn: () => unknown, opts: BenchOptions & { heavy?: boolean }): Promise<number> {
  const stats = await measure(fn, {
    min_cpu_time: opts.quick ? 50e6 : opts.heavy ? 400e6 : 300e6,
    max_samples: opts.heavy ? 30 : 1e4,
    min_samples: opts.heavy ? 3 : 8,
    warmup_samples: opts.heavy ? 1 : 4,
    batch_unroll: 1,
  });
  return stats.p50;
}

/** Median of `xs` (the mean of the middle two for an even count). O(n log n); `xs` is not changed. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Paired rounds of `fn` against `ref`, for rows that are noisy on a shared machine: each round
 * collects garbage first (node runs with --expose-gc), calls both once (warm-up), then times `fn`
 * and `ref` back to back with {@link timeNs}; a round's ratio is ref / fn, so load that hits one
 * round hits both sides. O(rounds x sampling time).
 * @param opts bench options; `rounds` (default 7, quick 3); `heavy` / `refHeavy` as for timeNs.
 * @returns the medians of each side and the per-round ratios.
 */
export async function pairedNs(
  fn: () => unknown,
  ref: () => unknown,
  opts: BenchOptions & { rounds?: number; heavy?: boolean; refHeavy?: boolean },
): Promise<{ ns: number; refNs: number; ratios: number[] }> {
  const rounds = opts.rounds ?? (opts.quick ? 3 : 7);
  const a: number[] = [];
  const b: number[] = [];
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let r = 0; r < rounds; r++) {
    gc?.();
    fn();
    ref();
    a.push(await timeNs(fn, { quick: opts.quick, heavy: opts.heavy }));
    b.push(await timeNs(ref, { quick: opts.quick, heavy: opts.refHeavy }));
  }
  return { ns: median(a), refNs: median(b), ratios: b.map((x, i) => x / a[i]) };
}

/**
 * Row whose ratio is `refNs / ns` (or, from paired rounds, the median of `ratios` with their
 * spread), checked against `min` when given.
 */
function ratioRow(
  name: string,
  ns: number,
  against: string,
  refNs: number,
  want?: string,
  min?: number,
  ratios?: readonly number[],
): BenchRow {
  const r = ratios ? pairedRatio(ratios) : { value: refNs / ns };
  return {
    name,
    value: ns,
    unit: "ns",
    ratio: { against, ...r, want, ok: min === undefined ? undefined : r.value >= min },
  };
}

/** Row for "X is R times faster than Y": ratio = baselineNs / ns. */
export function speedRow(
  name: string,
  ns: number,
  against: string,
  baselineNs: number,
  want?: number,
  ratios?: readonly number[],
): BenchRow {
  return ratioRow(
    name,
    ns,
    against,
    baselineNs,
    want === undefined ? undefined : `>= ${want}x`,
    want,
    ratios,
  );
}

/** Row for "X runs at R of Y's throughput" (ratio = limitNs / ns, 1.0 = as fast as the limit). */
export function fractionRow(
  name: string,
  ns: number,
  against: string,
  limitNs: number,
  wantFraction?: number,
): BenchRow {
  const want = wantFraction === undefined ? undefined : `>= ${wantFraction}`;
  return ratioRow(name, ns, against, limitNs, want, wantFraction);
}

/** Formats a duration in ns for humans. */
export function fmtNs(ns: number): string {
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(2)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/**
 * Rows whose ratio missed its target (`ratio.ok === false`). O(rows).
 * @param suites the rows of every suite run.
 * @returns how many targets were not met.
 */
export function targetsMissed(suites: readonly { rows: readonly BenchRow[] }[]): number {
  let n = 0;
  for (const s of suites) for (const r of s.rows) if (r.ratio?.ok === false) n++;
  return n;
}

/**
 * The runner's exit code: 2 when `--only` matched no suite (a usage error), 1 when a target was
 * not met, 0 otherwise.
 * @param o suites run, whether `--only` was given, targets missed.
 * @returns the exit code.
 */
export function benchExitCode(o: { suitesRun: number; only: boolean; missed: number }): number {
  if (o.only && o.suitesRun === 0) return 2;
  return o.missed > 0 ? 1 : 0;
}
