import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PageRuns, RunFlag, RunKind } from "./page-runs.js";

/** Runs of `rows` ([first page index, pages, kind]) from virtual page `vpn0` of a range of `span` pages. */
function runsOf(vpn0: number, span: number, rows: [number, number, number][]): PageRuns {
  const r = new PageRuns(vpn0 * 4096, (vpn0 + span) * 4096, 1);
  let present = 0;
  for (const [at, n, kind] of rows) {
    r.push((vpn0 + at) * 4096, 1000 + vpn0 + at, n, RunFlag.PRESENT, kind);
    present += n;
  }
  r.presentPages = present;
  r.unmappedPages = span - present;
  return r;
}

describe("PageRuns.appendRuns", () => {
  it("appends every column of another list after its own runs, growing once (property vs push)", () => {
    const rowsArb = fc
      .array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 4 })), { maxLength: 40 })
      .map((xs) => {
        let at = 0;
        return xs.map(([n, kind]): [number, number, number] => {
          const row: [number, number, number] = [at, n, kind];
          at += n + 1;
          return row;
        });
      });
    fc.assert(
      fc.property(rowsArb, rowsArb, (a, b) => {
        const left = runsOf(0, 256, a);
        const right = runsOf(256, 256, b);
        const joined = new PageRuns(0, 512 * 4096, 1);
        joined.appendRuns(left);
        joined.appendRuns(right);
        joined.presentPages = left.presentPages + right.presentPages;
        joined.unmappedPages = left.unmappedPages + right.unmappedPages;
        joined.checkValid();
        const model = new PageRuns(0, 512 * 4096, 1);
        for (const r of [left, right])
          for (let i = 0; i < r.count; i++) model.push(r.va[i], r.pfn[i], r.npages[i], r.flags[i], r.kind[i]);
        expect(joined.count).toBe(model.count);
        for (const col of ["va", "pfn", "npages", "flags", "kind"] as const)
          expect(Array.from(joined[col].subarray(0, joined.count))).toEqual(
            Array.from(model[col].subarray(0, model.count)),
          );
      }),
      fcRuns(100),
    );
  });

  it("leaves the appended list unchanged and copies only its first `count` runs", () => {
    const src = runsOf(0, 16, [[0, 2, RunKind.THP]]);
    src.reserve(10);
    src.va[5] = 123; // capacity past count: not copied
    const dst = new PageRuns(0, 16 * 4096);
    dst.appendRuns(src);
    expect(dst.count).toBe(1);
    expect(dst.kind[0]).toBe(RunKind.THP);
    expect(src.count).toBe(1);
    expect(dst.va[5]).toBe(0);
  });
});
