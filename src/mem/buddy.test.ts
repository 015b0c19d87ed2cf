import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { FreeArea } from "./buddy.js";

/** Naive reference: a set of free frames. */
class NaiveFree {
  readonly free = new Set<number>();
  add(p: number, n: number): void {
    for (let i = 0; i < n; i++) this.free.add(p + i);
  }
  take(p: number, n: number): void {
    for (let i = 0; i < n; i++) {
      expect(this.free.has(p + i)).toBe(true);
      this.free.delete(p + i);
    }
  }
}

function frames(a: FreeArea): Set<number> {
  const s = new Set<number>();
  a.forEachFree((p, n) => {
    for (let i = 0; i < n; i++) s.add(p + i);
  });
  return s;
}

describe("FreeArea (buddy allocator)", () => {
  it("merges buddies on free as __free_one_page does", () => {
    // Hand-computed: 8 frames at pfn 8 (aligned to 8): freeing 8,9 -> order 1 at 8; + 10,11 -> order 2 at 8.
    const a = new FreeArea(0, 1, false);
    a.free(9, 0);
    expect(a.counts()[0]).toBe(1);
    a.free(8, 0);
    expect([...a.sets[1]]).toEqual([8]);
    a.free(10, 1);
    expect([...a.sets[2]]).toEqual([8]);
    a.free(12, 2);
    expect([...a.sets[3]]).toEqual([8]);
    a.checkValid();
  });

  it("splits the smallest fitting block and returns the halves (expand)", () => {
    const a = new FreeArea(0, 1, false);
    a.addRange(0, 1024); // one lazy max-order block
    expect(a.alloc(0)).toBe(0);
    // 1024 -> halves at 512 (o9), 256 (o8), ..., 1 (o0).
    for (let k = 0; k < 10; k++) expect([...a.sets[k]]).toEqual([2 ** k]);
    expect(a.freePages).toBe(1023);
    a.checkValid();
  });

  it("keeps unaligned range edges on the lists and whole max-order blocks lazy", () => {
    const a = new FreeArea(0, 1, false);
    // [3, 3069): the edges [3, 1024) and [2048, 3069) go on the lists, [1024, 2048) stays lazy.
    a.addRange(3, 3066);
    expect(a.lazy).toEqual([1024, 2048]);
    expect(a.freePages).toBe(3066);
    a.checkValid();
  });

  it("agrees with a naive frame set over random alloc/free sequences", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 10 }), fc.nat()), { maxLength: 200 }),
        (steps) => {
          const a = new FreeArea(0, 1, false);
          const ref = new NaiveFree();
          a.addRange(5, 4096 - 5 + 77);
          ref.add(5, 4096 - 5 + 77);
          const held: [number, number][] = [];
          for (const [alloc, order, pick] of steps) {
            if (alloc || held.length === 0) {
              const p = a.alloc(order);
              if (p < 0) {
                // No free naturally aligned block of that order may exist in the reference.
                continue;
              }
              expect(p % 2 ** order).toBe(0);
              ref.take(p, 2 ** order);
              held.push([p, order]);
            } else {
              const [p, o] = held.splice(pick % held.length, 1)[0];
              a.free(p, o);
              ref.add(p, 2 ** o);
            }
            a.checkValid();
            expect(a.freePages).toBe(ref.free.size);
            expect(frames(a)).toEqual(ref.free);
          }
        },
      ),
      fcRuns(60),
    );
  });

  it("removeRange and allocContig take exactly the frames asked for", () => {
    const a = new FreeArea(0, 1, false);
    a.addRange(0, 4 * 262144);
    expect(a.allocContig(262144)).toBe(0);
    expect(a.allocContig(262144)).toBe(262144);
    expect(a.removeRange(2 * 262144, 32768)).toBe(32768);
    expect(a.freePages).toBe(4 * 262144 - 2 * 262144 - 32768);
    a.checkValid();
  });
});
