import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { DmaApiError, IovaExhausted } from "../core/index.js";
import { iommuDmaAllocIova, iommuDmaFreeIova } from "./dma-iova.js";
import { IovaDomain, orderBase2 } from "./iova.js";
import { PGSIZE_X86 } from "./pgsize.js";

/** Naive model: the highest size-aligned start whose pages are all free, scanning every candidate. */
function naiveAlloc(
  used: Uint8Array,
  start: number,
  npages: number,
  limitPfn: number,
  align: number,
): number {
  for (let p = Math.floor((limitPfn + 1 - npages) / align) * align; p >= start; p -= align) {
    let free = true;
    for (let i = 0; i < npages && free; i++) if (used[p + i] !== 0) free = false;
    if (free) return p;
  }
  return -1;
}

describe("IovaDomain.allocIova agrees with a naive highest-fit model", () => {
  test("random alloc / free with size alignment and limits", () => {
    const op = fc.record({
      free: fc.boolean(),
      npages: fc.integer({ min: 1, max: 70 }),
      limit: fc.integer({ min: 0, max: 1023 }),
      pick: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const d = new IovaDomain({ rcache: false });
        const used = new Uint8Array(1024);
        const live: [number, number][] = [];
        for (const o of ops) {
          if (o.free && live.length > 0) {
            const [pfn, n] = live.splice(o.pick % live.length, 1)[0];
            d.freeIova(pfn);
            used.fill(0, pfn, pfn + n);
          } else {
            const align = 2 ** orderBase2(o.npages);
            const want = naiveAlloc(used, 1, o.npages, o.limit, align);
            const got = d.allocIova(o.npages, o.limit, true);
            expect(got).toBe(want);
            if (got >= 0) {
              used.fill(1, got, got + o.npages);
              live.push([got, o.npages]);
            }
          }
          d.checkValid();
          expect(d.allocatedPages).toBe(used.reduce((a, b) => a + b, 0));
        }
      }),
      fcRuns(200),
    );
  });

  test("congruent allocations keep start % modulus === residue and agree with the model", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ npages: fc.integer({ min: 1, max: 90 }), residue: fc.integer({ min: 0, max: 15 }) }),
          { maxLength: 30 },
        ),
        (reqs) => {
          const d = new IovaDomain({ rcache: false });
          const used = new Uint8Array(2048);
          for (const r of reqs) {
            let want = -1;
            for (let p = 2047 - r.npages + 1; p >= 1; p--) {
              if (p % 16 !== r.residue) continue;
              if (used.subarray(p, p + r.npages).every((x) => x === 0)) {
                want = p;
                break;
              }
            }
            const got = d.allocIova(r.npages, 2047, false, 16, r.residue);
            expect(got).toBe(want);
            if (got >= 0) used.fill(1, got, got + r.npages);
            d.checkValid();
          }
        },
      ),
      fcRuns(150),
    );
  });
});

describe("IOVA allocation follows dma-iommu.c / iova.c", () => {
  test("sizes below 32 pages round up to a power of two and are size-aligned, top-down from the limit", () => {
    const d = new IovaDomain();
    // 3 pages -> 4 pages, aligned to 4, highest fit below pfn 0xfffff
    expect(d.allocIovaFast(3, 0xfffff, true)).toBe(0xffffc);
    expect(d.findIova(0xffffc)).toEqual({ lo: 0xffffc, hi: 0xfffff, reserved: false });
    // 33 pages are not rounded but aligned to 64: below 0xffffc, (0xffffc - 33) & ~63 = 0xfffc0
    expect(d.allocIovaFast(33, 0xfffff, true)).toBe(0xfffc0);
    expect(d.findIova(0xfffc0)?.hi).toBe(0xfffc0 + 32);
  });

  test("a PCI device tries below 4 GiB first, then the full mask; the workaround is dropped after a failure", () => {
    const d = new IovaDomain();
    expect(iommuDmaAllocIova(d, 0x1000, 2 ** 48 - 1)).toBe(0xfffff000);
    expect(iommuDmaAllocIova(d, 0x1000, 2 ** 48 - 1, { pci: false })).toBe(2 ** 48 - 0x1000);
    d.reserveIova(1, 0xffffe);
    const dev = { pci32bitWorkaround: true };
    expect(iommuDmaAllocIova(d, 0x2000, 2 ** 40 - 1, { dev })).toBe(2 ** 40 - 0x2000);
    expect(dev.pci32bitWorkaround).toBe(false);
    d.checkValid();
  });

  test("the rcache hands back the last freed range of the order (LIFO) while it stays allocated", () => {
    const d = new IovaDomain();
    const a = iommuDmaAllocIova(d, 0x4000, 0xffffffff);
    const b = iommuDmaAllocIova(d, 0x4000, 0xffffffff);
    iommuDmaFreeIova(d, a, 0x4000);
    iommuDmaFreeIova(d, b, 0x4000);
    expect(d.cachedCount(2)).toBe(2);
    expect(d.nranges).toBe(2);
    expect(iommuDmaAllocIova(d, 0x4000, 0xffffffff)).toBe(b);
    expect(iommuDmaAllocIova(d, 0x3000, 0xffffffff)).toBe(a);
    expect(d.rcacheHits).toBe(2);
    d.checkValid();
  });

  test("a full cache frees to the tree; exhaustion flushes the cache and retries", () => {
    const d = new IovaDomain({ rcacheDepth: 1 });
    // pfns 1..15 usable: fill them all, top-down
    for (let i = 15; i >= 1; i--) expect(d.allocIovaFast(1, 15, true)).toBe(i);
    d.freeIovaFast(3, 1); // into the cache (still allocated)
    d.freeIovaFast(2, 1); // cache full: freed to the tree
    expect(d.cachedCount(0)).toBe(1);
    expect(d.nranges).toBe(14);
    // two aligned pages: only pfn 2 is free in the tree
    expect(d.allocIovaFast(2, 15, false)).toBe(-1);
    // with flush_rcache the cached pfn 3 is freed and {2, 3} fits
    expect(d.allocIovaFast(2, 15, true)).toBe(2);
    expect(d.cachedCount(0)).toBe(0);
    d.checkValid();
  });

  test("exhaustion throws IovaExhausted naming size and limit, and changes nothing", () => {
    const d = new IovaDomain();
    d.reserveIova(1, 0xfff);
    expect(() => iommuDmaAllocIova(d, 0x2000, 0xffffff)).toThrow(IovaExhausted);
    expect(() => iommuDmaAllocIova(d, 0x2000, 0xffffff)).toThrow(/0x2000 below 0xffffff/);
    expect(d.nranges).toBe(1);
    d.checkValid();
  });

  test("the congruent option keeps IOVA = phys modulo the largest page size", () => {
    const d = new IovaDomain();
    const phys = 0x40000000 + 0x1000; // 4 KiB into a huge page
    const size = 64 * 2 ** 20;
    const kernel = iommuDmaAllocIova(d, size, 2 ** 48 - 1);
    expect(kernel % 0x4000000).toBe(0); // size-aligned
    const cong = iommuDmaAllocIova(d, size, 2 ** 48 - 1, { physHint: phys, pgsizeBitmap: PGSIZE_X86 });
    expect(cong % 0x200000).toBe(phys % 0x200000);
    expect(cong + size - 1).toBeLessThanOrEqual(0xffffffff);
    d.checkValid();
  });

  test("bad input throws a typed error and changes nothing", () => {
    const d = new IovaDomain();
    const a = iommuDmaAllocIova(d, 0x1000, 0xffffffff);
    const bad: [() => unknown, RegExp | (new (...a: never[]) => Error)][] = [
      [() => iommuDmaAllocIova(d, 0x1800, 0xffffffff), /IOVA size 6144 is invalid/],
      [() => iommuDmaAllocIova(d, 0, 0xffffffff), /IOVA size 0/],
      [() => iommuDmaAllocIova(d, 0x1000, Number.NaN), /DMA limit NaN/],
      [() => d.freeIova(0x1234), DmaApiError],
      [() => d.freeIovaFast(0x1234, 1), /pfn 0x1234/],
      [() => d.allocIova(0, 100, true), /at least one page/],
      [() => d.allocIova(1.5, 100, true), /IOVA pages 1.5/],
      [() => d.reserveIova(a / 4096, a / 4096), /overlaps an allocated range/],
      [() => new IovaDomain({ granule: 0x3000 }), /granule 12288/],
    ];
    for (const [fn, want] of bad) {
      expect(fn).toThrow(want as RegExp);
      expect(d.nranges).toBe(1);
      d.checkValid();
    }
  });
});

describe("IovaDomain fast path agrees with a naive model of the range cache", () => {
  test("random allocIovaFast / freeIovaFast (rounding, per-order LIFO, depth, flush on exhaustion)", () => {
    const op = fc.record({
      free: fc.boolean(),
      npages: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 30, max: 40 })),
      limit: fc.oneof(fc.constant(255), fc.integer({ min: 8, max: 255 })),
      pick: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.integer({ min: 1, max: 3 }), (ops, depth) => {
        const d = new IovaDomain({ rcacheDepth: depth });
        const used = new Uint8Array(256); // pages held in the tree (cached ones included)
        const cache: number[][] = [[], [], [], [], [], []];
        const sizeOf = new Map<number, number>();
        const live: [number, number][] = [];
        const treeFree = (pfn: number) => used.fill(0, pfn, pfn + sizeOf.get(pfn)!);
        for (const o of ops) {
          if (o.free && live.length > 0) {
            const [pfn, n] = live.splice(o.pick % live.length, 1)[0];
            d.freeIovaFast(pfn, n);
            const order = orderBase2(n);
            if (order < 6 && cache[order].length < depth) cache[order].push(pfn);
            else treeFree(pfn);
          } else {
            const n = o.npages < 32 ? 2 ** orderBase2(o.npages) : o.npages;
            const order = orderBase2(n);
            let want = -1;
            if (order < 6) {
              const c = cache[order];
              for (let i = c.length - 1; i >= 0; i--) {
                if (c[i] + n - 1 <= o.limit) {
                  want = c[i];
                  c[i] = c[c.length - 1];
                  c.pop();
                  break;
                }
              }
            }
            if (want < 0) {
              want = naiveAlloc(used, 1, n, o.limit, 2 ** order);
              if (want < 0) {
                for (const c of cache) for (const pfn of c.splice(0)) treeFree(pfn);
                want = naiveAlloc(used, 1, n, o.limit, 2 ** order);
              }
              if (want >= 0) {
                used.fill(1, want, want + n);
                sizeOf.set(want, n);
              }
            }
            expect(d.allocIovaFast(o.npages, o.limit, true)).toBe(want);
            if (want >= 0) live.push([want, o.npages]);
          }
          d.checkValid();
          expect(d.allocatedPages).toBe(used.reduce((a, b) => a + b, 0));
        }
      }),
      fcRuns(200),
    );
  });
});
