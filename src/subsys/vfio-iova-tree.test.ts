import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { IovaIntervals } from "./vfio-iova-tree.js";

/** Naive model: the intervals as a plain array, scanned in full for every query. */
type Iv = [number, number, number];
function naiveOverlap(m: Iv[], s: number, e: number): Iv | undefined {
  let best: Iv | undefined;
  for (const iv of m) if (iv[0] < e && s < iv[1] && (best === undefined || iv[0] < best[0])) best = iv;
  return best;
}

describe("IovaIntervals agrees with a naive scan of every interval", () => {
  test("random insert / remove / find / collect with tiny blocks so splits, merges and empty blocks run", () => {
    const op = fc.record({
      kind: fc.constantFrom(
        "insert",
        "insert",
        "insert",
        "remove",
        "remove",
        "removeMissing",
        "find",
        "collect",
      ),
      start: fc.integer({ min: 0, max: 120 }),
      len: fc.integer({ min: 1, max: 4 }),
      pick: fc.nat(),
    });
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 40, maxLength: 160 }),
        fc.constantFrom(2, 4, 8, 16),
        (ops, cap) => {
          const t = new IovaIntervals({ blockCapacity: cap });
          let m: Iv[] = [];
          let slot = 0;
          for (let k = 0; k < ops.length; k++) {
            const o = ops[k];
            // Grow for the first half, shrink in the second: blocks split, then empty and merge.
            const kind = k >= ops.length / 2 && o.kind === "insert" ? "remove" : o.kind;
            const s = o.start;
            const e = o.start + o.len;
            if (kind === "insert") {
              if (naiveOverlap(m, s, e)) expect(() => t.insert(s, e, slot)).toThrow(RangeError);
              else {
                t.insert(s, e, slot);
                m.push([s, e, slot]);
                m.sort((a, b) => a[0] - b[0]);
              }
              slot++;
            } else if (kind === "remove" && m.length > 0) {
              const iv = m[o.pick % m.length];
              expect(t.remove(iv[0])).toBe(iv[2]);
              m = m.filter((x) => x !== iv);
            } else if (kind === "removeMissing") {
              if (!m.some((x) => x[0] === s)) expect(t.remove(s)).toBe(-1);
            } else if (kind === "find") {
              const want = naiveOverlap(m, s, e);
              expect(t.findOverlap(s, e)).toBe(want !== undefined);
              if (want) expect([t.foundStart, t.foundEnd, t.foundSlot]).toEqual(want);
              const c = naiveOverlap(m, s, s + 1);
              expect(t.findContaining(s)).toBe(c !== undefined);
            } else if (kind === "collect") {
              const out: number[] = [];
              const n = t.collect(s, e, out);
              const want = m.filter((x) => x[0] < e && s < x[1]).map((x) => x[2]);
              expect(out).toEqual(want);
              expect(n).toBe(want.length);
            }
            t.checkValid();
            expect(t.length).toBe(m.length);
          }
          expect(t.toArray()).toEqual(m);
        },
      ),
      fcRuns(100),
    );
  });

  test("fixed cases: touching intervals do not overlap; a bad interval or capacity is refused with nothing changed", () => {
    const t = new IovaIntervals({ blockCapacity: 2 });
    t.insert(0x2000, 0x3000, 1);
    t.insert(0x1000, 0x2000, 0); // ends where the first starts: no overlap
    t.insert(0x3000, 0x5000, 2); // the block of 2 splits
    t.checkValid();
    expect(t.findOverlap(0x0, 0x1000)).toBe(false);
    expect(t.findOverlap(0x5000, 0x6000)).toBe(false);
    expect(t.findOverlap(0x4fff, 0x5000)).toBe(true);
    expect([t.foundStart, t.foundEnd, t.foundSlot]).toEqual([0x3000, 0x5000, 2]);
    expect(() => t.insert(0x2fff, 0x3001, 9)).toThrow(/overlaps \[8192, 12288\)/);
    expect(() => t.insert(0x8000, 0x8000, 9)).toThrow(/empty or reversed/);
    expect(t.toArray()).toEqual([
      [0x1000, 0x2000, 0],
      [0x2000, 0x3000, 1],
      [0x3000, 0x5000, 2],
    ]);
    expect(t.remove(0x2800)).toBe(-1);
    expect(t.length).toBe(3);
    expect(() => new IovaIntervals({ blockCapacity: 1 })).toThrow(RangeError);
  });

  test("blocks split when full and merge into a neighbour when under a quarter full", () => {
    const P = 0x1000;
    const keys = (t: IovaIntervals) => t.toArray().map((x) => x[0] / P);
    const build = () => {
      const t = new IovaIntervals({ blockCapacity: 8 });
      for (let k = 0; k < 16; k++) t.insert(k * P, (k + 1) * P, k);
      // By hand: 0..7 fill block A; inserting 8 splits A into A[0..3] and B[4..7] and appends 8 to
      // B; 9..11 fill B; 12 splits B into B[4..7] and C[8..11]; 12..15 go to C.
      t.checkValid();
      expect(t.blockCount).toBe(3);
      return t;
    };
    // Removing 4, 5, 6 leaves B holding 1 (< 8 / 4); C (8) has no room, A (4) has: B joins A.
    const t = build();
    for (const k of [4, 5]) t.remove(k * P);
    expect(t.blockCount).toBe(3);
    expect(t.remove(6 * P)).toBe(6);
    expect(t.blockCount).toBe(2);
    expect(keys(t)).toEqual([0, 1, 2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    t.checkValid();
    // A then shrinks to 1 with no room in C and nothing before it: it stays, then empties and goes.
    for (const k of [0, 1, 2, 3]) t.remove(k * P);
    expect(t.blockCount).toBe(2);
    t.remove(7 * P);
    expect(t.blockCount).toBe(1);
    t.checkValid();
    // Removing 0, 1, 2 leaves A holding 1; the next block B (4) has room: B joins A.
    const u = build();
    for (const k of [0, 1, 2]) u.remove(k * P);
    expect(u.blockCount).toBe(2);
    expect(keys(u)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    u.checkValid();
  });
});
