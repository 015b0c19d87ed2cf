import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import {
  checkRuns,
  countPages,
  mergeContiguousRuns,
  RUN_KIND_MIXED,
  runHistogram,
  runsToList,
} from "./runs.js";
import type { RunsInput } from "./types.js";

const runsOf = (rows: [number, number, number][]): RunsInput => ({
  count: rows.length,
  va: rows.map((r) => r[0]),
  pfn: rows.map((r) => r[1]),
  npages: rows.map((r) => r[2]),
});

/** Random runs in VA order with random gaps (tiny sizes so merges happen). */
const runsArb = fc
  .array(
    fc.tuple(
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: 1, max: 40 }),
    ),
    { maxLength: 30 },
  )
  .map((rows) => {
    let va = 0x400000;
    return runsOf(
      rows.map(([gap, pfn, n]) => {
        va += gap * 4096;
        const r: [number, number, number] = [va, pfn, n];
        va += n * 4096;
        return r;
      }),
    );
  });

/** Reference model: every page as (va, pfn). */
function pagesOf(r: RunsInput): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < r.count; i++)
    for (let k = 0; k < r.npages[i]; k++) out.push([r.va[i] + k * 4096, r.pfn[i] + k]);
  return out;
}

describe("runs", () => {
  it("mergeContiguousRuns keeps every page and leaves no VA+PFN-contiguous neighbours (property vs page model)", () => {
    fc.assert(
      fc.property(runsArb, (r) => {
        const m = mergeContiguousRuns(r);
        checkRuns(m);
        expect(pagesOf(m)).toEqual(pagesOf(r));
        for (let i = 1; i < m.count; i++) {
          const contiguous =
            m.va[i] === m.va[i - 1] + m.npages[i - 1] * 4096 && m.pfn[i] === m.pfn[i - 1] + m.npages[i - 1];
          expect(contiguous).toBe(false);
        }
        // Naive run count: a page starts a run unless it continues the previous page in VA and PFN.
        const pages = pagesOf(r);
        let naive = 0;
        pages.forEach(([va, pfn], i) => {
          if (i === 0 || va !== pages[i - 1][0] + 4096 || pfn !== pages[i - 1][1] + 1) naive++;
        });
        expect(m.count).toBe(naive);
        expect(countPages(m)).toBe(pages.length);
      }),
      fcRuns(200),
    );
  });

  it("runHistogram buckets runs by floor(log2(pages)) (property vs naive)", () => {
    fc.assert(
      fc.property(runsArb, (r) => {
        const h = runHistogram(r);
        const runs: number[] = [];
        const bytes: number[] = [];
        for (let i = 0; i < r.count; i++) {
          let k = 0;
          while (2 ** (k + 1) <= r.npages[i]) k++;
          while (runs.length <= k) {
            runs.push(0);
            bytes.push(0);
          }
          runs[k]++;
          bytes[k] += r.npages[i] * 4096;
        }
        expect(h).toEqual({ runs, bytes });
      }),
      fcRuns(200),
    );
  });

  it("runHistogram fixed cases: 1, 3, 4, 512 pages", () => {
    expect(
      runHistogram(
        runsOf([
          [0, 0, 1],
          [0x10000, 9, 3],
          [0x100000, 100, 4],
          [0x1000000, 512, 512],
        ]),
      ),
    ).toEqual({
      runs: [1, 1, 1, 0, 0, 0, 0, 0, 0, 1],
      bytes: [4096, 12288, 16384, 0, 0, 0, 0, 0, 0, 2097152],
    });
  });

  it("runsToList gives one entry per run with the run's physical range", () => {
    const l = runsToList(
      runsOf([
        [0x1000, 5, 2],
        [0x5000, 100, 1],
      ]),
    );
    l.checkValid();
    expect(l.toArray()).toEqual([
      { addr: 0x5000, len: 0x2000, flags: 0, provider: 0 },
      { addr: 0x64000, len: 0x1000, flags: 0, provider: 0 },
    ]);
  });

  it.each([
    [runsOf([[0x1001, 0, 1]]), /run 0 va 0x1001 is invalid: not page aligned/],
    [
      runsOf([
        [0x2000, 0, 2],
        [0x2000, 9, 1],
      ]),
      /run 1 va 0x2000 is invalid: it overlaps or precedes the previous run/,
    ],
    [runsOf([[0, 2 ** 40, 1]]), /run 0 pfn 1099511627776 is invalid: expected an integer below 2\^40/],
    [runsOf([[0, 1, 0]]), /run 0 npages 0x0 is invalid/],
    [runsOf([[Number.NaN, 1, 1]]), /run 0 va NaN is invalid/],
    [{ count: 2, va: [0], pfn: [0], npages: [1] }, /runs count 2 is invalid/],
    [runsOf([[0, 1.5, 1]]), /run 0 pfn 1.5 is invalid/],
    [runsOf([[0, 1, 2.5]]), /run 0 npages 2.5 is invalid/],
    [runsOf([[2 ** 52, 1, 1]]), /run 0 va 0x10000000000000 is invalid: expected an integer below 2\^52/],
    [runsOf([[0, 2 ** 40 - 1, 2]]), /run 0 pfn 0xffffffffff\+2 pages is invalid: beyond 2\^52/],
    [runsOf([[0, 1, Number.POSITIVE_INFINITY]]), /run 0 npages Infinity is invalid/],
    [runsOf([[0, -1, 1]]), /run 0 pfn -1 is invalid/],
  ])("checkRuns rejects malformed runs with a RangeError naming the value (%#)", (r, msg) => {
    expect(() => checkRuns(r)).toThrow(RangeError);
    expect(() => checkRuns(r)).toThrow(msg);
  });

  it("checkRuns accepts exactly the runs a per-field check accepts (property vs naive)", () => {
    /** Naive model: every rule checked field by field. */
    const valid = (r: RunsInput): boolean => {
      let end = 0;
      for (let i = 0; i < r.count; i++) {
        const [va, pfn, np] = [r.va[i], r.pfn[i], r.npages[i]];
        if (!Number.isInteger(va) || va < 0 || va >= 2 ** 52 || va % 4096 !== 0 || va < end) return false;
        if (!Number.isInteger(pfn) || pfn < 0 || pfn >= 2 ** 40) return false;
        if (!Number.isInteger(np) || np < 1 || np > 2 ** 52 || pfn + np > 2 ** 40) return false;
        end = va + np * 4096;
      }
      return true;
    };
    const field = fc.oneof(
      fc.integer({ min: 0, max: 64 }),
      fc.constantFrom(-1, 0.5, 2 ** 40 - 1, 2 ** 40, 2 ** 52, Number.NaN, Number.POSITIVE_INFINITY),
    );
    const rowArb = fc.tuple(fc.integer({ min: 0, max: 8 }), fc.boolean(), field, field);
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 6 }), (rows) => {
        let va = 0;
        const runs = runsOf(
          rows.map(([gap, misalign, pfn, np]) => {
            va += gap * 4096 - (gap === 0 && va > 0 ? 4096 : 0);
            const row: [number, number, number] = [misalign ? va + 1 : va, pfn, np];
            va += 4096 * (Number.isFinite(np) && np > 0 && np < 64 ? np : 1);
            return row;
          }),
        );
        let threw = false;
        try {
          checkRuns(runs);
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          threw = true;
        }
        expect(threw).toBe(!valid(runs));
      }),
      fcRuns(300),
    );
  });

  it("mergeContiguousRuns keeps a merged run's kind when its parts agree and marks it mixed otherwise; merging twice changes nothing", () => {
    const runs = {
      ...runsOf([
        [0x1000, 10, 1],
        [0x2000, 11, 1],
        [0x3000, 12, 2],
        [0x5000, 14, 1],
        [0x9000, 40, 1],
      ]),
      kind: [1, 1, 2, 2, 3],
    };
    const m = mergeContiguousRuns(runs);
    expect(m.count).toBe(2);
    expect(Array.from(m.npages.subarray(0, 2))).toEqual([5, 1]);
    expect(Array.from(m.kind.subarray(0, 2))).toEqual([RUN_KIND_MIXED, 3]);
    const again = mergeContiguousRuns(m);
    expect(again.count).toBe(2);
    expect(Array.from(again.kind.subarray(0, 2))).toEqual([RUN_KIND_MIXED, 3]);
    expect(Array.from(mergeContiguousRuns(runsOf([[0, 1, 1]])).kind)).toEqual([0]);
  });
});
