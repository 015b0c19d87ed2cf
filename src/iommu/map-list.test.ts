import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PhyrFlag, PhyrList } from "../phyr/index.js";
import { IommuDomain } from "./domain.js";
import { type IoPgtableFormatName, ioPgtableFormat } from "./format.js";
import { ioMap, ioMapList, ioUnmap } from "./map.js";
import { IoPageTable } from "./pgtable.js";
import { IommuMapError, IommuProt } from "./prot.js";

const RW = IommuProt.READ | IommuProt.WRITE;
const P = RW | IommuProt.CACHE;
const PM = RW | IommuProt.MMIO;

/** Naive model: granule page index -> { phys, prot }. */
type Model = Map<number, { phys: number; prot: number }>;

function shape(pt: IoPageTable): { tables: number; ptes: number; leaves: unknown } {
  return { tables: pt.tableCount, ptes: pt.pteCount, leaves: pt.leafCounts() };
}

function agree(pt: IoPageTable, model: Model, g: number, windowPages: number): void {
  pt.checkValid();
  for (let p = 0; p < windowPages; p++) {
    const m = model.get(p);
    const got = pt.iovaToPhys(p * g + 3);
    if (m === undefined) {
      if (got !== -1) throw new Error(`page ${p} mapped to ${got}, model has none`);
    } else if (got !== m.phys + 3 || pt.found.prot !== m.prot) {
      throw new Error(`page ${p}: got ${got} prot ${pt.found.prot}, model ${m.phys + 3} prot ${m.prot}`);
    }
  }
}

describe("ioMapList maps a range list like one ioMap per entry, and ioUnmap clears leaf by leaf", () => {
  const formats: IoPgtableFormatName[] = ["x86-4level", "amd-v1", "arm-lpae-16k"];
  for (const name of formats) {
    test(`random lists over random existing mappings, then ranged unmaps (${name})`, () => {
      const f = ioPgtableFormat(name);
      const g = 2 ** f.granuleShift;
      const W = 4096; // IOVA window in granules
      const entry = fc.record({
        phys: fc.oneof(
          fc.nat(8191),
          fc.nat(15).map((x) => x * 512),
        ),
        pages: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.constant(512)),
        mmio: fc.boolean(),
      });
      const scenario = fc.record({
        pre: fc.array(fc.record({ iova: fc.nat(W - 1), pages: fc.integer({ min: 1, max: 8 }) }), {
          maxLength: 3,
        }),
        iova: fc.oneof(
          fc.nat(W - 1),
          fc.nat(3).map((x) => x * 512),
        ),
        entries: fc.array(entry, { minLength: 1, maxLength: 30 }),
        store: fc.constantFrom("compact" as const, "wide" as const),
        unmaps: fc.array(fc.record({ at: fc.nat(W - 1), pages: fc.integer({ min: 1, max: 2000 }) }), {
          maxLength: 4,
        }),
      });
      fc.assert(
        fc.property(scenario, (s) => {
          const pt = new IoPageTable(f);
          const ref = new IoPageTable(f);
          const model: Model = new Map();
          for (const m of s.pre) {
            const pages = Math.min(m.pages, W - m.iova);
            let clash = false;
            for (let i = 0; i < pages; i++) if (model.has(m.iova + i)) clash = true;
            if (clash) continue;
            for (const t of [pt, ref]) ioMap(t, m.iova * g, m.iova * g, pages * g, RW);
            for (let i = 0; i < pages; i++) model.set(m.iova + i, { phys: (m.iova + i) * g, prot: RW });
          }
          const list = new PhyrList({ store: s.store, chunkCapacity: 4 });
          let total = 0;
          for (const e of s.entries) {
            if (s.iova + total + e.pages > W) break;
            list.append(e.phys * g, e.pages * g, PhyrFlag.PINNED | (e.mmio ? PhyrFlag.MMIO : 0), 0);
            total += e.pages;
          }
          let clash = false;
          for (let i = 0; i < total; i++) if (model.has(s.iova + i)) clash = true;
          const before = shape(pt);
          if (clash || total === 0) {
            if (clash) {
              expect(() => ioMapList(pt, s.iova * g, list, P, PM)).toThrow(IommuMapError);
              // Translations are unchanged (agree() below); tables allocated before the clash stay
              // unless the unroll's unmap fully covers them, as in generic_pt.
              expect({ ptes: pt.pteCount, leaves: pt.leafCounts() }).toEqual({
                ptes: before.ptes,
                leaves: before.leaves,
              });
            }
          } else {
            expect(ioMapList(pt, s.iova * g, list, P, PM)).toBe(list.nents);
            // Reference: one ioMap per entry at consecutive IOVAs.
            let at = s.iova;
            list.forEachEntry((addr, len, flags) => {
              const prot = flags & PhyrFlag.MMIO ? PM : P;
              ioMap(ref, at * g, addr, len, prot);
              for (let i = 0; i < len / g; i++) model.set(at + i, { phys: addr + i * g, prot });
              at += len / g;
            });
            expect(shape(pt)).toEqual(shape(ref));
          }
          agree(pt, model, g, W);
          // Ranged unmaps: the model walks leaves with lookup() and stops at the first hole; a
          // start inside a large page is refused after the leaves before it are gone.
          for (const u of s.unmaps) {
            const size = Math.min(u.pages, W - u.at) * g;
            let want = 0;
            let bad = false;
            const removed: number[] = [];
            while (want < size) {
              const iova = u.at * g + want;
              if (!pt.lookup(iova)) break;
              if (pt.found.pageIova !== iova) {
                bad = true;
                break;
              }
              const pgsize = pt.found.pgsize;
              for (let i = 0; i < pgsize / g; i++) removed.push(iova / g + i);
              want += pgsize;
            }
            if (bad) expect(() => ioUnmap(pt, u.at * g, size, null, null)).toThrow(/inside a/);
            else expect(ioUnmap(pt, u.at * g, size, null, null)).toBe(want);
            for (const p of removed) model.delete(p);
            agree(pt, model, g, W);
          }
        }),
        fcRuns(60),
      );
    });
  }
});

describe("IommuDomain.mapPhyrs fixed cases", () => {
  function list(entries: [number, number, number][]): PhyrList {
    const l = new PhyrList();
    for (const [addr, len, flags] of entries) l.append(addr, len, flags, 0);
    return l;
  }

  test("maps entries back to back, MMIO entries with mmioProt, one map counted per entry", () => {
    const d = new IommuDomain({ type: "dma" });
    // 4 KiB at 0x5000, 2 MiB at 0x40200000 (a 2 MiB leaf: iova 0x201000 + 0x1000... is not 2 MiB
    // aligned, so 512 leaves of 4 KiB), a 4 KiB BAR page.
    const l = list([
      [0x5000, 0x1000, PhyrFlag.PINNED],
      [0x40200000, 0x200000, PhyrFlag.PINNED],
      [0xf0000000, 0x1000, PhyrFlag.PINNED | PhyrFlag.MMIO],
    ]);
    expect(d.mapPhyrs(0x200000, l, P, PM)).toBe(3);
    expect(d.stats.maps).toBe(3);
    expect(d.iovaToPhys(0x200000)).toBe(0x5000);
    expect(d.iovaToPhys(0x201000)).toBe(0x40200000);
    expect(d.iovaToPhys(0x400fff)).toBe(0x403fffff);
    expect(d.iovaToPhys(0x401000)).toBe(0xf0000000);
    expect(d.pgtable!.found.prot).toBe(PM);
    // 1 + 512 + 1 leaves of 4 KiB.
    expect(d.pgtable!.leafCounts()).toEqual([{ pgsize: 4096, count: 514 }]);
    expect(d.unmap(0x200000, 0x202000)).toBe(0x202000);
    // generic_pt: the 2 MiB unmap_pages step covers the level-1 table of [2M, 4M) and frees it;
    // the 8 KiB step does not cover [4M, 6M): root, L3, L2 and that L1 table stay.
    expect(d.pgtable!.tableCount).toBe(4);
    d.checkValid();
  });

  test("an aligned 2 MiB entry at a 2 MiB IOVA is one 2 MiB leaf", () => {
    const d = new IommuDomain({ type: "dma" });
    d.mapPhyrs(0x400000, list([[0x40200000, 0x200000, PhyrFlag.PINNED]]), P);
    expect(d.pgtable!.leafCounts()).toEqual([{ pgsize: 0x200000, count: 1 }]);
    d.checkValid();
  });

  test("refuses a sub-granule entry, an overlap or a non-paging domain; nothing changes", () => {
    const d = new IommuDomain({ type: "dma" });
    d.map(0x3000, 0x9000, 0x1000, P);
    const before = shape(d.pgtable!);
    const odd = new PhyrList();
    odd.append(0x5000, 0x1000, PhyrFlag.PINNED, 0);
    odd.append(0x7000, 0x800, PhyrFlag.PINNED, 0);
    expect(() => d.mapPhyrs(0, odd, P)).toThrow(/entry 1 0x7000\+0x800 at iova 0x1000: not aligned/);
    expect(() => d.mapPhyrs(0x2000, list([[0x5000, 0x2000, PhyrFlag.PINNED]]), P)).toThrow(
      /0x3000: already mapped/,
    );
    expect(() => d.mapPhyrs(0x1800, list([[0x5000, 0x1000, PhyrFlag.PINNED]]), P)).toThrow(IommuMapError);
    expect(() => d.mapPhyrs(0, list([[0x5000, 0x1000, PhyrFlag.PINNED]]), 64)).toThrow(RangeError);
    expect(shape(d.pgtable!)).toEqual(before);
    expect(d.stats.maps).toBe(1);
    const id = new IommuDomain({ type: "identity" });
    expect(() => id.mapPhyrs(0, list([[0x5000, 0x1000, 0]]), P)).toThrow(/has no page table/);
    d.checkValid();
  });
});
