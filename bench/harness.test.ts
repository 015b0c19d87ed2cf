/**
 * The bench harness prints every ratio row with how stable it is: the median of paired rounds
 * with their range, or that it is exact. Fixed cases for the pieces that compute and print that,
 * and for the paired-rounds loop's order, warm-up and GC control.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type BenchRatio,
  type BenchRow,
  exactRatio,
  fmtRatio,
  fmtRow,
  fmtSpread,
  fractionRow,
  pairedRatio,
  pairedRow,
  pairedRuns,
  roundRatios,
  sampleNs,
  speedRow,
  stopwatch,
} from "./harness.js";

describe("pairedRatio", () => {
  it.each([
    [[5], 5, 5, 5],
    [[1, 2, 3], 2, 1, 3],
    [[4, 1], 2.5, 1, 4],
    [[3, 100, 1, 2, 0.5], 2, 0.5, 100],
    [[-0.05, 0.01, 2.3], 0.01, -0.05, 2.3],
  ])("%j -> median %d, range %d-%d", (ratios, value, lo, hi) => {
    expect(pairedRatio(ratios)).toEqual({ value, spread: { rounds: ratios.length, lo, hi } });
  });

  it("does not reorder its input", () => {
    const r = [3, 1, 2];
    pairedRatio(r);
    expect(r).toEqual([3, 1, 2]);
  });

  it.each([
    [[], /0 rounds is invalid/],
    [[1, Number.NaN], /round 1 is NaN: expected a finite number/],
    [[Number.POSITIVE_INFINITY, 2], /round 0 is Infinity: expected a finite number/],
  ])("%j throws a RangeError naming the value", (ratios, message) => {
    expect(() => pairedRatio(ratios)).toThrow(RangeError);
    expect(() => pairedRatio(ratios)).toThrow(message);
  });
});

describe("fmtSpread", () => {
  it.each([
    [{ rounds: 3, lo: 1.43, hi: 2.431 }, "3 rounds 1.43-2.43x"],
    [{ rounds: 7, lo: 29.876, hi: 292.4 }, "7 rounds 29.88-292x"],
    [{ rounds: 5, lo: 6064.2, hi: 43832.9 }, "5 rounds 6064-43833x"],
    [{ rounds: 21, lo: -0.05, hi: 2.3 }, "21 rounds -0.05 to 2.30x"],
  ])("%j -> %s", (s, text) => {
    expect(fmtSpread(s)).toBe(text);
  });
});

describe("fmtRatio", () => {
  const paired: BenchRatio = {
    against: "dma_map_sg per entry",
    value: 2.41,
    spread: { rounds: 3, lo: 1.43, hi: 2.43 },
    want: ">= 1x",
    ok: true,
  };
  it.each<[BenchRatio, string]>([
    [paired, "2.41x [3 rounds 1.43-2.43x] vs dma_map_sg per entry (want >= 1x)  ok"],
    [
      { ...paired, value: 0.9, ok: false },
      "0.90x [3 rounds 1.43-2.43x] vs dma_map_sg per entry (want >= 1x)  BELOW TARGET",
    ],
    [
      { against: "page-at-a-time leaves", value: 512, exact: "count" },
      "512x [exact count] vs page-at-a-time leaves",
    ],
    [
      { against: "brotli-11", value: 1.3, exact: "size", want: "<= 1.25", ok: false },
      "1.30x [exact size] vs brotli-11 (want <= 1.25)  BELOW TARGET",
    ],
  ])("%j -> %s", (r, text) => {
    expect(fmtRatio(r)).toBe(text);
  });

  it("a ratio is either paired or exact (the type has no third kind)", () => {
    // @ts-expect-error: a ratio with neither a spread nor `exact` does not compile.
    const bare: BenchRatio = { against: "x", value: 1 };
    expect(bare.spread).toBeUndefined();
  });
});

describe("fmtRow", () => {
  it.each<[BenchRow, string]>([
    [{ name: "a", value: 1500, unit: "ns" }, `  ${"a".padEnd(58)} ${"1.50 µs".padStart(14)}`],
    [{ name: "b", value: 3.125, unit: "B/run" }, `  ${"b".padEnd(58)} ${"3.13 B/run".padStart(14)}`],
    [
      { name: "c", value: 2, unit: "entries", ratio: exactRatio("page-at-a-time leaves", 262144, "count") },
      `  ${"c".padEnd(58)} ${"2 entries".padStart(14)}  262144x [exact count] vs page-at-a-time leaves`,
    ],
  ])("%j", (row, line) => {
    expect(fmtRow(row)).toBe(line);
  });
});

describe("rows judge their target on the median of the rounds", () => {
  it.each([
    [[0.5, 3, 4], 3, true],
    [[0.5, 2.9, 10], 3, false],
    [[1, 1, 1], 1, true],
  ])("speedRow %j want >= %d -> ok %s", (ratios, want, ok) => {
    const r = speedRow("x", 10, "y", ratios, want).ratio!;
    expect(r.ok).toBe(ok);
    expect(r.want).toBe(`>= ${want}x`);
    expect(r.spread).toEqual({ rounds: 3, lo: Math.min(...ratios), hi: Math.max(...ratios) });
  });

  it("fractionRow with no target has no verdict, and keeps the spread", () => {
    const r = fractionRow("x", 10, "budget", [0.9, 0.97, 0.95]).ratio!;
    expect(r).toMatchObject({ value: 0.95, ok: undefined, want: undefined });
    expect(r.spread?.rounds).toBe(3);
  });

  it.each([
    [[1.5, 1.9, 9], true],
    [[1.5, 2.1, 2.2], false],
  ])("pairedRow %j with an upper target (<= 2x) judges the median -> ok %s", (ratios, ok) => {
    const r = pairedRow("x", 10, "y", ratios, "<= 2x", (m) => m <= 2).ratio!;
    expect(r).toMatchObject({ against: "y", value: ratios[1], want: "<= 2x", ok });
  });
});

describe("exactRatio", () => {
  it.each([
    [0.99, { max: 1.25 }, "<= 1.25", true],
    [1.3, { max: 1.25 }, "<= 1.25", false],
    [1, { min: 1 }, ">= 1", true],
    [1, { min: 1, strict: true }, "> 1", false],
    [30.17, { min: 1, strict: true }, "> 1", true],
  ])("%d with %j -> want %s, ok %s", (value, target, want, ok) => {
    expect(exactRatio("t", value, "size", target)).toEqual({ against: "t", value, exact: "size", want, ok });
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY])("%d throws a RangeError naming it", (v) => {
    expect(() => exactRatio("leaves", v, "count")).toThrow(new RegExp(`against leaves is ${v}`));
  });

  it("refuses two targets at once (max and min) instead of judging one of them", () => {
    expect(() => exactRatio("t", 1, "size", { max: 2, min: 1 })).toThrow(/has both max and min/);
  });
});

describe("sampleNs", () => {
  it.each([
    [5e6, 9e6, 5e6],
    [9e6, 5e6, 5e6],
    [3e6, 3e6, 3e6],
  ])("cpu %d, wall %d -> %d (the closer bound of the main thread's time)", (cpu, wall, ns) => {
    expect(sampleNs(cpu, wall)).toBe(ns);
  });
});

describe("roundRatios", () => {
  it("divides the reference by the measured side round by round", () => {
    expect(roundRatios([10, 20, 30], [5, 5, 10])).toEqual([2, 4, 3]);
  });
  it("throws on sides of different round counts", () => {
    expect(() => roundRatios([1, 2], [1])).toThrow(/2 and 1 rounds/);
  });
});

describe("pairedRuns", () => {
  const g = globalThis as { gc?: () => void };
  const saved = g.gc;
  let log: string[];
  beforeEach(() => {
    log = [];
    g.gc = () => log.push("gc");
  });
  afterEach(() => {
    g.gc = saved;
  });

  it("rotates the order each round and collects garbage before every sample", () => {
    const fns = ["a", "b", "c"].map((n) => () => log.push(n));
    const out = pairedRuns(fns, { rounds: 3, warm: 0, minSampleNs: 0 });
    expect(out.map((a) => a.length)).toEqual([3, 3, 3]);
    expect(log.join(" ")).toBe("gc a gc b gc c gc b gc c gc a gc c gc a gc b");
  });

  /** The calls between two GCs (one sample each), from the log. */
  const samples = () =>
    log
      .join(" ")
      .split("gc")
      .slice(1)
      .map((g) => g.trim().split(" ").filter(Boolean).length);
  /** Busy work for `ns` by the harness's own clock (the lesser of process CPU and wall time). */
  const spin = (ns: number) => {
    const elapsed = stopwatch();
    while (elapsed() < ns);
    return ns;
  };

  it("warms every function up before timing it, then times a slow one once per sample", () => {
    const fns = ["a", "b"].map((n) => () => log.push(n) + spin(2e6));
    pairedRuns(fns, { rounds: 4, warm: 1, warmSampleNs: 5e6, minSampleNs: 1e6 });
    const n = samples();
    expect(n).toHaveLength(2 * (1 + 4));
    // Warm-up: calls of 2 ms until 5 ms were used (3); timed: one call per sample (2 ms >= 1 ms).
    expect(Math.min(n[0], n[1])).toBeGreaterThanOrEqual(2);
    expect(n.slice(2)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it("repeats a fast function within a sample until the sample is long enough to time", () => {
    const out = pairedRuns([() => log.push("f")], {
      rounds: 3,
      warm: 1,
      warmSampleNs: 2e6,
      minSampleNs: 1e6,
    });
    const n = samples();
    for (const k of n) expect(k).toBeGreaterThan(10);
    expect(out[0].every((ns) => ns > 0)).toBe(true);
  });

  it("measures a function that does twice the work at about twice the CPU time (a ratio, not a time)", () => {
    const work = (n: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + Math.sqrt(i)) % 1e9;
      return s;
    };
    const [one, two] = pairedRuns([() => work(2e5), () => work(4e5)], { rounds: 7, minSampleNs: 2e6 });
    const r = pairedRatio(roundRatios(two, one)).value;
    expect(r).toBeGreaterThan(1.3);
    expect(r).toBeLessThan(3);
  });

  it.each([
    [[], { rounds: 1 }, /0 functions/],
    [[() => 1], { rounds: 0 }, /rounds 0 is invalid/],
    [[() => 1], { rounds: 1.5 }, /rounds 1.5 is invalid/],
    [[() => 1], { rounds: 1, warm: -1 }, /warm -1 is invalid/],
    [[() => 1], { rounds: 1, minSampleNs: Number.NaN }, /minSampleNs NaN is invalid/],
    [[() => 1], { rounds: 1, warm: 0 }, /warm 0 with minSampleNs 1000000 is invalid/],
  ])("rejects bad options with a RangeError naming the value (%#)", (fns, o, message) => {
    expect(() => pairedRuns(fns, o)).toThrow(RangeError);
    expect(() => pairedRuns(fns, o)).toThrow(message);
    expect(log).toEqual([]);
  });

  it("needs node --expose-gc", () => {
    g.gc = undefined;
    expect(() => pairedRuns([() => 1], { rounds: 1 })).toThrow(/--expose-gc/);
  });
});
