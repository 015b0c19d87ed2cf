/**
 * Benchmark harness. Every `bench/*.bench.ts` file exports `suite: BenchSuite`; `main.ts` finds
 * them, runs each (full or `--quick`) and prints every comparison as a ratio measured in the same
 * run: the design against the kernel's current way (baseline) and against the limit. Every ratio
 * says how stable it is: a timing ratio comes from paired rounds ({@link pairedRuns} or
 * {@link pairedNs}; printed `[N rounds lo-hi]`, the ratio is the median and targets judge it), a
 * ratio of counts or sizes is exact (`[exact count]`, `[exact size]`); the {@link BenchRatio} type
 * admits nothing else.
 */
import { measure } from "mitata";

/** The range of per-round ratios of paired rounds. */
export interface Spread {
  /** Timed rounds (warm-up rounds not counted). */
  rounds: number;
  /** Smallest and largest per-round ratio. */
  lo: number;
  hi: number;
}

/**
 * What makes a ratio exact: a ratio of two counts (entries, leaves, calls) or of two sizes
 * (bytes), which the same inputs reproduce bit for bit, so rounds would only repeat it.
 */
export type Exact = "count" | "size";

/**
 * A row's comparison: `value` as the suite defines it (e.g. reference / measured). Every ratio
 * says how stable it is: a timing ratio carries the `spread` of its paired rounds (`value` is
 * their median, and `ok` judges the median), a ratio of counts or sizes is `exact`.
 */
export type BenchRatio = {
  against: string;
  value: number;
  want?: string;
  ok?: boolean;
} & ({ spread: Spread; exact?: undefined } | { exact: Exact; spread?: undefined });

/** One printed line: a measured quantity, optionally compared to a reference in the same run. */
export interface BenchRow {
  /** What was measured, e.g. "build compact from 16M PFNs". */
  name: string;
  /** The value (ns per op for timings, or a size / count). */
  value: number;
  /** Unit of `value`: "ns", "B", "B/entry", "entries", "ops"... */
  unit: string;
  /** Optional comparison with a reference measured or counted in the same run. */
  ratio?: BenchRatio;
}

/**
 * The ratio of paired rounds: the median of `ratios` (one per round, both sides measured back to
 * back) with their range, so a row shows how stable it is. O(n log n).
 * @throws RangeError for no rounds, or a round whose ratio is not a finite number (e.g. a side
 *   that measured 0 ns), naming the round and the value.
 */
export function pairedRatio(ratios: readonly number[]): { value: number; spread: Spread } {
  if (ratios.length === 0) throw new RangeError("paired ratio of 0 rounds is invalid: expected >= 1 round");
  const bad = ratios.findIndex((r) => !Number.isFinite(r));
  if (bad >= 0)
    throw new RangeError(
      `paired ratio of round ${bad} is ${ratios[bad]}: expected a finite number (did a side measure 0 ns?)`,
    );
  return {
    value: median(ratios),
    spread: { rounds: ratios.length, lo: Math.min(...ratios), hi: Math.max(...ratios) },
  };
}

/** A ratio as printed: two decimals below 100, none from 100 up. O(1). */
export function fmtRatioValue(x: number): string {
  return x.toFixed(Math.abs(x) >= 100 ? 0 : 2);
}

/**
 * `rounds lo-hi` as printed after a ratio (two decimals below 100, none above; "lo to hi" when
 * lo is negative, so the minus sign is not read as the dash). O(1).
 */
export function fmtSpread(s: Spread): string {
  const sep = s.lo < 0 ? " to " : "-";
  return `${s.rounds} rounds ${fmtRatioValue(s.lo)}${sep}${fmtRatioValue(s.hi)}x`;
}

/**
 * A ratio as printed: `1.23x [7 rounds 1.10-1.40x] vs against (want >= 1x)  ok`, or with
 * `[exact count]` / `[exact size]` for an exact one; `BELOW TARGET` when `ok` is false. O(1).
 */
export function fmtRatio(r: BenchRatio): string {
  const how = r.spread ? fmtSpread(r.spread) : `exact ${r.exact}`;
  const mark = r.ok === undefined ? "" : r.ok ? "  ok" : "  BELOW TARGET";
  return `${fmtRatioValue(r.value)}x [${how}] vs ${r.against}${r.want ? ` (want ${r.want})` : ""}${mark}`;
}

/** A row as printed by `npm run bench`: name, value with its unit, then its ratio if any. O(1). */
export function fmtRow(r: BenchRow): string {
  const v =
    r.unit === "ns"
      ? fmtNs(r.value)
      : `${Number.isInteger(r.value) ? r.value : r.value.toFixed(2)} ${r.unit}`;
  const line = `  ${r.name.padEnd(58)} ${v.padStart(14)}`;
  return r.ratio ? `${line}  ${fmtRatio(r.ratio)}` : line;
}

/** Options every suite receives. */
export interface BenchOptions {
  /** Small inputs and short sampling so the whole quick bench stays under about 90 s. */
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
  return { ns: median(a), refNs: median(b), ratios: roundRatios(b, a) };
}

/**
 * CPU time of this process so far, user + system, in ns (process.cpuUsage: microsecond
 * resolution; counts every thread, so V8's background GC and compiler threads too). O(1).
 */
export function cpuNowNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/**
 * Cost of a stretch of main-thread work from its two clocks: the lesser of its process CPU time
 * and its wall-clock time. Each is an upper bound of the main thread's own CPU time, which Node 20
 * cannot read precisely: process CPU adds V8's helper threads (parallel and concurrent GC,
 * background compiles), wall-clock time adds the
 * time spent waiting for a CPU on a loaded machine. The lesser is the closer bound either way. O(1).
 */
export function sampleNs(cpuNs: number, wallNs: number): number {
  return Math.min(cpuNs, wallNs);
}

/**
 * A stopwatch started now: each call of the returned function gives the main-thread ns since
 * ({@link sampleNs} of the process CPU time and the wall time elapsed). O(1) per call.
 */
export function stopwatch(): () => number {
  const c0 = cpuNowNs();
  const w0 = performance.now();
  return () => sampleNs(cpuNowNs() - c0, (performance.now() - w0) * 1e6);
}

/** How {@link pairedRuns} samples. */
export interface PairedRunsOptions {
  /** Timed rounds (>= 1): each times every function once. */
  rounds: number;
  /**
   * Untimed rounds first (default 2), so every function runs optimised code: in each, every
   * function is called until it used `warmSampleNs` (at least once).
   */
  warm?: number;
  /** Least time of one warm-up sample (default 20 ms: enough calls for V8 to optimise). */
  warmSampleNs?: number;
  /**
   * Least time of one timed sample (default 1 ms): the last warm-up round sets how many calls
   * a sample makes, so a fast function is timed far above the clock's microsecond resolution and
   * one of a millisecond or more once per sample, right after the GC (repeating an allocating
   * function inside a sample would time the collection of its own garbage).
   */
  minSampleNs?: number;
  /**
   * Objects kept alive until sampling ends, e.g. a cursor over the measured list: a GC runs before
   * every sample, and with no object of a class alive V8 drops its hidden class and deoptimises the
   * code built on it (the dma identity map+unmap went from 15 µs to 110-530 µs a call without a
   * live cursor). A program that maps buffers holds such objects, so live ones are the steady state.
   */
  hold?: readonly unknown[];
}

/** {@link PairedRunsOptions.hold} of every running {@link pairedRuns}, so each stays reachable. */
const holding = new Set<readonly unknown[]>();

/**
 * Paired rounds of `fns` (the loop every heavy or multi-way comparison uses; light two-way ones
 * may use {@link pairedNs}). Every round times each function once, in an order rotated by one
 * each round, each sample after a full GC outside the timing (so the garbage of earlier samples is
 * not collected inside a timed one) and timed as the lesser of its process CPU time and its wall
 * time ({@link sampleNs}: the main thread's cost, without the time spent waiting for a CPU on a
 * shared 2-core machine). A ratio is then taken per round ({@link pairedRatio}: median and
 * range), so load that comes and goes hits both sides of a round alike. Each function's last output stays alive until its
 * next output replaces it, as in a program that holds its lists: with no PhyrList alive at a GC,
 * V8 drops the classes' hidden maps and deoptimises the code built on them, a cost a live program
 * does not pay on every call. Needs node --expose-gc (the bench script passes it).
 * O(warm x sum of max(cost, warmSampleNs) + rounds x sum of max(cost, minSampleNs)).
 * @returns ns per call ({@link sampleNs}), one array per function, one entry per timed round.
 * @throws RangeError for no functions or a bad rounds / warm / minSampleNs (naming the value);
 *   Error without --expose-gc.
 */
export function pairedRuns(fns: readonly (() => unknown)[], opts: PairedRunsOptions): number[][] {
  const { rounds, warm = 2, warmSampleNs = 20e6, minSampleNs = 1e6 } = opts;
  if (fns.length === 0) throw new RangeError("paired runs of 0 functions are invalid: expected >= 1");
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new RangeError(`paired runs rounds ${rounds} is invalid: expected an integer >= 1`);
  if (!Number.isInteger(warm) || warm < 0)
    throw new RangeError(`paired runs warm ${warm} is invalid: expected an integer >= 0`);
  // The calls per sample are found in the warm-up rounds: without one, minSampleNs could not hold.
  if (warm === 0 && minSampleNs > 0)
    throw new RangeError(
      `paired runs warm 0 with minSampleNs ${minSampleNs} is invalid: the calls per sample are set in warm-up rounds (give minSampleNs 0)`,
    );
  for (const [k, v] of [
    ["minSampleNs", minSampleNs],
    ["warmSampleNs", warmSampleNs],
  ] as const)
    if (!(v >= 0 && v <= 10e9))
      throw new RangeError(`paired runs ${k} ${v} is invalid: expected 0 <= ns <= 10 s`);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("paired runs need node --expose-gc (a GC before every sample)");
  const out = fns.map(() => [] as number[]);
  const held: unknown[] = fns.map(() => undefined);
  const reps = fns.map(() => 1);
  const hold = opts.hold ?? [];
  holding.add(hold);
  try {
    for (let r = -warm; r < rounds; r++) {
      for (let k = 0; k < fns.length; k++) {
        const j = (k + Math.max(r, 0)) % fns.length;
        const fn = fns[j];
        gc();
        const elapsed = stopwatch();
        if (r < 0) {
          let n = 0;
          let dt = 0;
          do {
            held[j] = fn();
            n++;
            dt = elapsed();
          } while (dt < warmSampleNs);
          reps[j] = Math.max(1, Math.ceil(minSampleNs / (dt / n)));
          continue;
        }
        for (let i = 0; i < reps[j]; i++) held[j] = fn();
        out[j].push(elapsed() / reps[j]);
      }
    }
  } finally {
    held.fill(undefined);
    holding.delete(hold);
  }
  return out;
}

/**
 * Per-round ratios `ref[i] / t[i]` of two sides timed in the same rounds. O(rounds).
 * @throws RangeError when the sides have different round counts.
 */
export function roundRatios(ref: readonly number[], t: readonly number[]): number[] {
  if (ref.length !== t.length)
    throw new RangeError(`round ratios of ${ref.length} and ${t.length} rounds: expected the same count`);
  return t.map((x, i) => ref[i] / x);
}

/**
 * Row of a time `ns` whose ratio is the median of paired `ratios` (with their spread), with an
 * optional target: `want` as printed, and `meets`, which judges the median (no `meets`, no
 * verdict). O(n log n).
 * @throws RangeError as {@link pairedRatio}.
 */
export function pairedRow(
  name: string,
  ns: number,
  against: string,
  ratios: readonly number[],
  want?: string,
  meets?: (median: number) => boolean,
): BenchRow {
  const r = pairedRatio(ratios);
  return { name, value: ns, unit: "ns", ratio: { against, ...r, want, ok: meets?.(r.value) } };
}

/** A `>= min` target for {@link pairedRow}, or none without `min`. O(1). */
function atLeast(min: number | undefined): ((median: number) => boolean) | undefined {
  return min === undefined ? undefined : (v) => v >= min;
}

/**
 * Row for "X is R times faster than Y": `ratios` are the per-round baseline / X times of paired
 * rounds; the printed ratio is their median (judged against `want`) with their range. O(rounds).
 */
export function speedRow(
  name: string,
  ns: number,
  against: string,
  ratios: readonly number[],
  want?: number,
): BenchRow {
  return pairedRow(name, ns, against, ratios, want === undefined ? undefined : `>= ${want}x`, atLeast(want));
}

/**
 * Row for "X runs at R of Y's throughput" (per-round limit / X times; 1.0 = as fast as the limit,
 * or a budget / X time): median judged against `wantFraction`, with the range. O(rounds).
 */
export function fractionRow(
  name: string,
  ns: number,
  against: string,
  ratios: readonly number[],
  wantFraction?: number,
): BenchRow {
  const want = wantFraction === undefined ? undefined : `>= ${wantFraction}`;
  return pairedRow(name, ns, against, ratios, want, atLeast(wantFraction));
}

/**
 * An exact ratio (of two counts or two sizes from the same inputs), optionally with a target:
 * `max` means want `value <= max`, `min` want `value >= min` (strictly above when `strict`). O(1).
 * @throws RangeError when `value` is not finite (e.g. a count divided by 0), naming it.
 */
export function exactRatio(
  against: string,
  value: number,
  exact: Exact,
  target?: { max?: number; min?: number; strict?: boolean },
): BenchRatio {
  if (!Number.isFinite(value))
    throw new RangeError(`exact ratio against ${against} is ${value}: expected a finite number`);
  if (!target) return { against, value, exact };
  if (target.max !== undefined && target.min !== undefined)
    throw new RangeError(`exact ratio against ${against} has both max and min: expected one target`);
  if (target.max !== undefined)
    return { against, value, exact, want: `<= ${target.max}`, ok: value <= target.max };
  if (target.min !== undefined) {
    const ok = target.strict ? value > target.min : value >= target.min;
    return { against, value, exact, want: `${target.strict ? ">" : ">="} ${target.min}`, ok };
  }
  return { against, value, exact };
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
export function targetsMissed(suites: readonly { rows: readonly { ratio?: { ok?: boolean } }[] }[]): number {
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
