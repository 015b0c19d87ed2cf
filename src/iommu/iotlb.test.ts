import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { Iotlb } from "./iotlb.js";

interface E {
  page: number;
  shift: number;
  base: number;
  prot: number;
}

/** Naive model: per set an array in recency order (least recent first). */
class NaiveTlb {
  sets: E[][];
  hits = 0;
  misses = 0;
  constructor(
    readonly nsets: number,
    readonly ways: number,
  ) {
    this.sets = Array.from({ length: nsets }, () => []);
  }
  lookup(iova: number): number {
    for (let k = 12; k < 64; k++) {
      const size = 2 ** k;
      const set = this.sets[Math.floor(iova / size) % this.nsets];
      const i = set.findIndex((e) => e.shift === k && e.page === iova - (iova % size));
      if (i >= 0) {
        const [e] = set.splice(i, 1);
        set.push(e);
        this.hits++;
        return e.base + (iova - e.page);
      }
    }
    this.misses++;
    return -1;
  }
  fill(page: number, size: number, base: number, prot: number): void {
    const set = this.sets[Math.floor(page / size) % this.nsets];
    if (set.length === this.ways) set.shift();
    set.push({ page, shift: Math.log2(size), base, prot });
  }
  invalidate(start: number, end: number): void {
    for (const s of this.sets) {
      for (let i = s.length - 1; i >= 0; i--)
        if (s[i].page <= end && s[i].page + 2 ** s[i].shift - 1 >= start) s.splice(i, 1);
    }
  }
  reach(): number {
    return this.sets.flat().reduce((a, e) => a + 2 ** e.shift, 0);
  }
}

describe("Iotlb agrees with a naive LRU model", () => {
  test("random lookups, fills and invalidations", () => {
    const op = fc.record({
      kind: fc.constantFrom("lookup", "lookup", "fill", "inval"),
      page: fc.integer({ min: 0, max: 63 }),
      shift: fc.constantFrom(12, 12, 21, 30),
      len: fc.integer({ min: 1, max: 8 }),
    });
    fc.assert(
      fc.property(
        fc.constantFrom([4, 2], [8, 4], [6, 1], [4, 4]),
        fc.array(op, { maxLength: 120 }),
        ([entries, ways], ops) => {
          const t = new Iotlb({ entries, ways });
          const m = new NaiveTlb(entries / ways, ways);
          for (const o of ops) {
            const size = 2 ** o.shift;
            const iova = o.page * size;
            if (o.kind === "lookup") {
              const want = m.lookup(iova + 7);
              const hit = t.lookup(iova + 7);
              expect(hit ? t.lastPhys : -1).toBe(want);
            } else if (o.kind === "fill") {
              // fill only what is not cached, as the domain does after a miss
              if (m.lookup(iova) < 0) {
                m.misses--;
                t.lookup(iova);
                t.misses--;
                m.fill(iova, size, 0x100000000 + o.page * size, 3);
                t.fill(iova, size, 0x100000000 + o.page * size, 3);
              } else {
                m.hits--;
                t.lookup(iova);
                t.hits--;
              }
            } else {
              m.invalidate(iova, iova + o.len * 4096 - 1);
              t.invalidateRange(iova, iova + o.len * 4096 - 1);
            }
            t.checkValid();
            expect(t.hits).toBe(m.hits);
            expect(t.misses).toBe(m.misses);
            expect(t.reach).toBe(m.reach());
          }
        },
      ),
      fcRuns(200),
    );
  });

  test("bad geometry throws a RangeError naming the value", () => {
    expect(() => new Iotlb({ entries: 10, ways: 4 })).toThrow(/entries 10 is invalid/);
    expect(() => new Iotlb({ entries: 8, ways: 0 })).toThrow(RangeError);
    expect(() => new Iotlb({ entries: -8 })).toThrow(/IOTLB entries -8/);
  });
});
