import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { PhyrList } from "../phyr/index.js";
import { RdmaError } from "./errors.js";
import { odpPageSize, PGSZ_4K_2M_1G, pgszList, umemFindBestPgsz, umemNumDmaBlocks } from "./rdma-pgsz.js";

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
  test("bad bitmaps and VAs are RangeErrors", () => {
    const l = mk([{ addr: 0, len: 0x1000 }]);
    expect(() => umemFindBestPgsz(l, 0, VA)).toThrow(RangeError);
    expect(() => umemFindBestPgsz(l, PGSZ_4K_2M_1G, -1)).toThrow(/va/);
    expect(() => umemNumDmaBlocks(0, 0x1000, 3000)).toThrow(/page size/);
  });
});

describe("ODP uses a fixed page size", () => {
  test("4 KiB ODP on 1 GiB needs 262,144 entries", () => {
    expect(umemNumDmaBlocks(VA, G1, odpPageSize(PGSZ_4K_2M_1G))).toBe(262144);
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
    });
    fc.assert(
      fc.property(
        fc.array(segArb, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        fc.integer({ min: 0, max: 511 }),
        (segs, vaPage, skew) => {
          const rs = segs.map((s) => ({
            addr: s.frame * 2 ** (12 + s.order),
            len: s.n * 2 ** (12 + s.order),
          }));
          const va0 = vaPage * M2 + skew * 0x1000;
          const got = umemFindBestPgsz(mk(rs), PGSZ_4K_2M_1G, va0);
          const total = rs.reduce((a, r) => a + r.len, 0);
          // Definition: VA and DMA agree modulo p for every segment, interior VA boundaries aligned to p,
          // and p <= smallest supported size s with [va, va+len) inside one s-aligned... per GENMASK rule.
          const ok = (p: number) => {
            let va = va0;
            for (let i = 0; i < rs.length; i++) {
              if ((rs[i].addr - va) % p !== 0) return false;
              va += rs[i].len;
              if (i < rs.length - 1 && va % p !== 0) return false;
            }
            let b = 1;
            while (Math.floor((va0 + total - 1) / 2 ** b) !== Math.floor(va0 / 2 ** b)) b++;
            const cap = pgszList(PGSZ_4K_2M_1G).find((s) => s >= 2 ** b);
            return cap === undefined || p <= cap;
          };
          const want = [...pgszList(PGSZ_4K_2M_1G)].reverse().find(ok) ?? 0;
          expect(got).toBe(want);
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });
});
