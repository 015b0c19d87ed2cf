import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { pgsizeList } from "../iommu/index.js";
import { PhyrList } from "../phyr/index.js";
import { RdmaError } from "./errors.js";
import { odpPageSize, PGSZ_4K_2M_1G, umemFindBestPgsz, umemNumDmaBlocks } from "./rdma-pgsz.js";

const M2 = 0x200000;
const G1 = 0x40000000;
const VA = 0x7f0000000000; // 1 GiB aligned
type R = { addr: number; len: number };
const mk = (rs: R[]) => PhyrList.fromRanges(rs, { store: "wide", chunkCapacity: 4 });
/** THP-backed: 2 MiB folios scattered (every other 2 MiB frame, descending so none are contiguous). */
const thp = (n: number, base = 0x100000000) =>
  Array.from({ length: n }, (_, i) => ({ addr: base + 2 * (n - i) * M2, len: M2 }));

describe("umemFindBestPgsz follows ib_umem_find_best_pgsz", () => {
  // Expected values from the rule (drivers/infiniband/core/umem.c), worked by hand.
  test("a 2 MiB-aligned 1 GiB THP-backed buffer -> 2 MiB pages, 512 entries", () => {
    const pg = umemFindBestPgsz(mk(thp(512)), PGSZ_4K_2M_1G, VA);
    expect(pg).toBe(M2);
    expect(umemNumDmaBlocks(VA, G1, pg)).toBe(512);
  });
  test("VA and physical address disagreeing modulo 2 MiB -> 4 KiB pages", () => {
    const pg = umemFindBestPgsz(mk([{ addr: 0x40001000, len: 2 * M2 }]), PGSZ_4K_2M_1G, VA);
    expect(pg).toBe(0x1000);
    expect(umemNumDmaBlocks(VA, 2 * M2, pg)).toBe(1024);
  });
  test("a buffer starting 4 KiB into a huge page with the same physical 4 KiB offset -> 2 MiB pages", () => {
    const rs = [{ addr: 0x80001000, len: M2 - 0x1000 }, ...thp(3, 0x200000000)];
    const va = VA + M2 + 0x1000;
    const pg = umemFindBestPgsz(mk(rs), PGSZ_4K_2M_1G, va);
    expect(pg).toBe(M2);
    expect(umemNumDmaBlocks(va, 4 * M2 - 0x1000, pg)).toBe(4);
  });
  test("1 GiB-contiguous and 1 GiB-aligned memory -> 1 GiB pages", () => {
    expect(umemFindBestPgsz(mk([{ addr: 4 * G1, len: 2 * G1 }]), PGSZ_4K_2M_1G, VA)).toBe(G1);
  });
  test("a device without 2 MiB pages falls back to 4 KiB on THP memory", () => {
    expect(umemFindBestPgsz(mk(thp(4)), 0x1000 + G1, VA)).toBe(0x1000);
  });
  test("an 8 KiB buffer is limited to the smallest supported size covering it (2 MiB)", () => {
    // bits_per((0x2000 - 1 + va) ^ va) = 13: the smallest supported size >= 2^13 is 2 MiB.
    expect(umemFindBestPgsz(mk([{ addr: 4 * G1, len: 0x2000 }]), PGSZ_4K_2M_1G, VA)).toBe(M2);
  });
  test("a bitmap with only sizes larger than an interior misalignment returns 0", () => {
    expect(umemFindBestPgsz(mk([{ addr: 0x40001000, len: M2 }]), M2 + G1, VA)).toBe(0);
  });
  test("segments that continue the previous one's DMA range do not constrain the page size", () => {
    // 4 MiB physically contiguous at 4*G1 + 4 MiB (4 MiB-aligned, not 1 GiB-aligned) handed in as
    // three DMA segments 4 KiB + 2 MiB - 4 KiB + 2 MiB. The kernel merges them (end ==
    // sg_dma_address): mask = bitmap & GENMASK(63, bits_per(4 MiB - 1)) = {1 GiB} | (dma ^ va), whose
    // lowest set bit is 2^22 (dma - va = 4 GiB + 4 MiB), so pages up to 4 MiB: 2 MiB, 2 MTT entries.
    // Treating the joins at VA + 4 KiB as discontinuities would wrongly give 4 KiB.
    const base = 4 * G1 + 0x400000;
    const rs = [
      { addr: base, len: 0x1000 },
      { addr: base + 0x1000, len: M2 - 0x1000 },
      { addr: base + M2, len: M2 },
    ];
    const pg = umemFindBestPgsz(mk(rs), PGSZ_4K_2M_1G, VA);
    expect(pg).toBe(M2);
    expect(umemNumDmaBlocks(VA, 2 * M2, pg)).toBe(2);
    // The same split with a real discontinuity after the first 4 KiB (its first page moved 256 MiB
    // away; dma ^ va still agrees below 4 MiB): the VA at the join, VA + 4 KiB, starts a new page,
    // so mask |= va gives 4 KiB pages.
    const gap = [{ addr: base + 0x10000000, len: 0x1000 }, ...rs.slice(1)];
    expect(umemFindBestPgsz(mk(gap), PGSZ_4K_2M_1G, VA)).toBe(0x1000);
  });
  test("bad bitmaps and VAs are RangeErrors", () => {
    const l = mk([{ addr: 0, len: 0x1000 }]);
    expect(() => umemFindBestPgsz(l, 0, VA)).toThrow(RangeError);
    expect(() => umemFindBestPgsz(l, PGSZ_4K_2M_1G, -1)).toThrow(/va/);
    expect(() => umemNumDmaBlocks(0, 0x1000, 3000)).toThrow(/page size/);
  });
});

describe("MTT entries for a device's page-size bitmap", () => {
  // 8 MiB of THP at a 1 GiB-aligned VA: four 2 MiB folios, none physically adjacent, each 4 MiB-
  // aligned (thp(4)). Interior discontinuities sit at VA + 2, 4, 6 MiB, so ctz(mask) = 21 whatever
  // else the device supports: the best size is the largest supported size <= 2 MiB, and the MR
  // needs 8 MiB / size entries (ib_umem_num_dma_blocks with an aligned VA).
  const cases: { name: string; bitmap: number; pgsz: number; mtt: number }[] = [
    { name: "x86-like 4K|2M|1G", bitmap: PGSZ_4K_2M_1G, pgsz: M2, mtt: 4 },
    {
      name: "every power of two 4K..2G (mlx5-style GENMASK(31, 12))",
      bitmap: 2 ** 32 - 2 ** 12,
      pgsz: M2,
      mtt: 4,
    },
    { name: "4K|64K (no 2M)", bitmap: 0x1000 + 0x10000, pgsz: 0x10000, mtt: 128 },
    { name: "4K only", bitmap: 0x1000, pgsz: 0x1000, mtt: 2048 },
    { name: "2M|1G only", bitmap: M2 + G1, pgsz: M2, mtt: 4 },
    { name: "1G only: nothing fits", bitmap: G1, pgsz: 0, mtt: 0 },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.pgsz === 0 ? "no page size" : `${c.pgsz / 1024} KiB pages, ${c.mtt} entries`}`, () => {
      const pg = umemFindBestPgsz(mk(thp(4)), c.bitmap, VA);
      expect(pg).toBe(c.pgsz);
      if (pg !== 0) expect(umemNumDmaBlocks(VA, 4 * M2, pg)).toBe(c.mtt);
    });
  }
  test("an unaligned VA adds the partial first and last pages", () => {
    // [VA + 0x1000, VA + 0x1000 + 4 MiB) in 2 MiB pages touches [VA, VA + 6 MiB): 3 entries.
    expect(umemNumDmaBlocks(VA + 0x1000, 2 * M2, M2)).toBe(3);
    // In 4 KiB pages: exactly 1024.
    expect(umemNumDmaBlocks(VA + 0x1000, 2 * M2, 0x1000)).toBe(1024);
  });
});

describe("ODP uses a fixed page size", () => {
  test("4 KiB ODP on 1 GiB needs 262,144 entries", () => {
    expect(umemNumDmaBlocks(VA, G1, odpPageSize(PGSZ_4K_2M_1G))).toBe(262144);
  });
  test("ODP's fixed 4 KiB against the best size on the same 8 MiB of THP: 2048 vs 4 entries", () => {
    const best = umemFindBestPgsz(mk(thp(4)), PGSZ_4K_2M_1G, VA);
    expect(umemNumDmaBlocks(VA, 4 * M2, odpPageSize(PGSZ_4K_2M_1G))).toBe(2048);
    expect(umemNumDmaBlocks(VA, 4 * M2, best)).toBe(4);
    // An ODP MR with page_shift 21 on a device that has 2 MiB pages: 4 entries too.
    expect(umemNumDmaBlocks(VA, 4 * M2, odpPageSize(PGSZ_4K_2M_1G, 21))).toBe(4);
  });
  test("an ODP page size the device lacks is refused", () => {
    expect(() => odpPageSize(M2, 12)).toThrow(RdmaError);
  });
});

describe("umemFindBestPgsz agrees with the definition checked size by size", () => {
  test("random segment lists", () => {
    const segArb = fc.record({
      frame: fc.integer({ min: 1, max: 1 << 22 }),
      order: fc.constantFrom(0, 0, 3, 9, 9),
      n: fc.integer({ min: 1, max: 4 }),
      join: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(segArb, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        fc.integer({ min: 0, max: 511 }),
        (segs, vaPage, skew) => {
          const rs: R[] = [];
          for (const s of segs) {
            const len = s.n * 2 ** (12 + s.order);
            const prev = rs[rs.length - 1];
            // join: this segment continues the previous one's DMA range.
            rs.push({ addr: prev && s.join ? prev.addr + prev.len : s.frame * 2 ** (12 + s.order), len });
          }
          // The kernel's view: DMA-contiguous segments are one.
          const merged: R[] = [];
          for (const r of rs) {
            const last = merged[merged.length - 1];
            if (last && last.addr + last.len === r.addr) last.len += r.len;
            else merged.push({ ...r });
          }
          const va0 = vaPage * M2 + skew * 0x1000;
          const got = umemFindBestPgsz(mk(rs), PGSZ_4K_2M_1G, va0);
          const total = rs.reduce((a, r) => a + r.len, 0);
          // Definition: VA and DMA agree modulo p for every segment, interior VA boundaries aligned to p,
          // and p <= smallest supported size s with [va, va+len) inside one s-aligned... per GENMASK rule.
          const ok = (p: number) => {
            let va = va0;
            for (let i = 0; i < merged.length; i++) {
              if ((merged[i].addr - va) % p !== 0) return false;
              va += merged[i].len;
              if (i < merged.length - 1 && va % p !== 0) return false;
            }
            let b = 1;
            while (Math.floor((va0 + total - 1) / 2 ** b) !== Math.floor(va0 / 2 ** b)) b++;
            const cap = pgsizeList(PGSZ_4K_2M_1G).find((s) => s >= 2 ** b);
            return cap === undefined || p <= cap;
          };
          const want = [...pgsizeList(PGSZ_4K_2M_1G)].reverse().find(ok) ?? 0;
          expect(got).toBe(want);
        },
      ),
      fcRuns(500),
    );
  });
});
