import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { type IoPgtableFormatName, ioPgtableFormat } from "./format.js";
import { ioMap, ioUnmap } from "./map.js";
import { iommuPgsize } from "./pgsize.js";
import { IoPageTable } from "./pgtable.js";
import { IommuMapError, IommuProt } from "./prot.js";

const G = 2 ** 30;
const M = 2 ** 20;
const RW = IommuProt.READ | IommuProt.WRITE;

/** Naive model: granule page index -> { phys, prot }. */
type Model = Map<number, { phys: number; prot: number }>;

function agree(pt: IoPageTable, model: Model, granule: number, windowPages: number): void {
  pt.checkValid();
  let mapped = 0;
  for (const [page, v] of model) {
    const got = pt.iovaToPhys(page * granule + 5);
    if (got !== v.phys + 5 || pt.found.prot !== v.prot) {
      throw new Error(`page ${page}: got ${got} prot ${pt.found.prot}, model ${v.phys + 5} prot ${v.prot}`);
    }
    mapped++;
  }
  expect(pt.mappedBytes).toBe(mapped * granule);
  for (let p = 0; p < windowPages; p++) {
    if (!model.has(p) && pt.iovaToPhys(p * granule) !== -1)
      throw new Error(`page ${p} mapped, model has none`);
  }
}

describe("IoPageTable agrees with a page-by-page model", () => {
  const formats: IoPgtableFormatName[] = [
    "x86-4level",
    "amd-v1",
    "arm-lpae-16k",
    "arm-lpae-64k",
    "x86-5level",
  ];
  for (const name of formats) {
    test(`random map / unmap of whole mappings (${name})`, () => {
      const f = ioPgtableFormat(name);
      const g = 2 ** f.granuleShift;
      // a window of 2048 granules; phys in a window of 4096 granules; big pages appear when
      // iova and phys are congruent (biased towards multiples of 512)
      const op = fc.record({
        unmap: fc.boolean(),
        iova: fc.oneof(
          fc.integer({ min: 0, max: 2047 }),
          fc.integer({ min: 0, max: 3 }).map((x) => x * 512),
        ),
        phys: fc.oneof(
          fc.integer({ min: 0, max: 4095 }),
          fc.integer({ min: 0, max: 7 }).map((x) => x * 512),
        ),
        pages: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(512, 1024, 600)),
        prot: fc.constantFrom(IommuProt.READ, RW, RW | IommuProt.MMIO),
        pick: fc.nat(),
      });
      fc.assert(
        fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
          const pt = new IoPageTable(f);
          const model: Model = new Map();
          const live: [number, number][] = [];
          for (const o of ops) {
            if (o.unmap && live.length > 0) {
              const [iova, pages] = live.splice(o.pick % live.length, 1)[0];
              expect(ioUnmap(pt, iova * g, pages * g, null, null)).toBe(pages * g);
              for (let i = 0; i < pages; i++) model.delete(iova + i);
            } else {
              const pages = Math.min(o.pages, 2048 - o.iova);
              let clash = false;
              for (let i = 0; i < pages; i++) if (model.has(o.iova + i)) clash = true;
              const before = { ptes: pt.pteCount, leaves: pt.leafCounts() };
              if (clash) {
                expect(() => ioMap(pt, o.iova * g, o.phys * g, pages * g, o.prot)).toThrow(IommuMapError);
                // Mappings are unchanged. Tables are not: the unroll of a failed __iommu_map frees
                // only tables its unmap fully covers, and clear_contig may have freed empty ones.
                expect({ ptes: pt.pteCount, leaves: pt.leafCounts() }).toEqual(before);
              } else {
                ioMap(pt, o.iova * g, o.phys * g, pages * g, o.prot);
                for (let i = 0; i < pages; i++)
                  model.set(o.iova + i, { phys: (o.phys + i) * g, prot: o.prot });
                live.push([o.iova, pages]);
              }
            }
            agree(pt, model, g, 2048);
          }
          for (const [iova, pages] of live) ioUnmap(pt, iova * g, pages * g, null, null);
          pt.checkValid();
          expect(pt.pteCount).toBe(0);
          expect(pt.mappedBytes).toBe(0);
        }),
        fcRuns(100),
      );
    });
  }
});

describe("IoPageTable fixed cases", () => {
  test("a 64 GiB buffer of 1 GiB pages is 64 leaf entries of 1 GiB in 2 tables", () => {
    const pt = new IoPageTable(ioPgtableFormat("x86-4level"));
    ioMap(pt, 64 * G, 128 * G, 64 * G, RW);
    expect(pt.leafCounts()).toEqual([{ pgsize: G, count: 64 }]);
    expect(pt.tableCount).toBe(2); // root (level 4) + one level-3 table
    expect(pt.iovaToPhys(64 * G + 3 * G + 123)).toBe(128 * G + 3 * G + 123);
    pt.checkValid();
  });

  test("a 4 KiB-offset 4 MiB range maps 511 x 4K, 1 x 2M, 1 x 4K (x86)", () => {
    const pt = new IoPageTable(ioPgtableFormat("x86-4level"));
    ioMap(pt, 0x1000, 0x40001000, 4 * M, RW);
    expect(pt.leafCounts()).toEqual([
      { pgsize: 4096, count: 512 },
      { pgsize: 2 * M, count: 1 },
    ]);
    // tables: root, L3, L2, two L1 tables (one before, one after the 2M page)
    expect(pt.tableCount).toBe(5);
    pt.checkValid();
  });

  test("AMD v1 writes a 16 KiB page as 4 replicated level-1 entries", () => {
    const pt = new IoPageTable(ioPgtableFormat("amd-v1"));
    ioMap(pt, 0x10000, 0x20000, 0x4000, RW);
    expect(pt.leafCounts()).toEqual([{ pgsize: 0x4000, count: 1 }]);
    expect(pt.pteCount).toBe(4);
    expect(pt.iovaToPhys(0x13004)).toBe(0x23004);
    pt.checkValid();
  });

  test("unmapping inside a large page is refused and changes nothing; at its start it unmaps the whole page", () => {
    const pt = new IoPageTable(ioPgtableFormat("x86-4level"));
    ioMap(pt, 2 * M, 4 * M, 2 * M, RW);
    expect(() => ioUnmap(pt, 2 * M + 4096, 4096, null, null)).toThrow(/inside a 0x200000 page/);
    expect(pt.leafCount(2 * M)).toBe(1);
    // generic_pt __unmap_range: an unmap reaching the start of a large entry removes it whole.
    expect(ioUnmap(pt, 2 * M, 4096, null, null)).toBe(2 * M);
    // [2M, 2M + 4K) does not cover the level-2 table's 1 GiB span: it stays (root, L3, L2).
    expect(pt.tableCount).toBe(3);
    pt.checkValid();
  });

  // Expected counts worked out from drivers/iommu/generic_pt/iommu_pt.h: __unmap_range frees a
  // lower table only when pt_entry_fully_covered(range) and the descent met no empty entry;
  // __map_range_leaf's clear_contig frees empty tables under a new large leaf.
  test("tables emptied piecewise stay; an unmap covering a table frees it; a large leaf frees empty tables under it", () => {
    const pt = new IoPageTable(ioPgtableFormat("x86-4level"));
    for (let i = 0; i < 200; i++) ioMap(pt, i * 2 * M, 0x100000000 + i * 4096, 4096, RW);
    expect(pt.tableCount).toBe(1 + 1 + 1 + 200); // root, L3, L2, 200 L1 tables (64 per pool chunk)
    pt.checkValid();
    for (let i = 0; i < 200; i += 2) expect(ioUnmap(pt, i * 2 * M, 4096, null, null)).toBe(4096);
    expect(pt.tableCount).toBe(203); // 4 KiB unmaps never cover a 2 MiB level-1 table
    // An unmap over a whole table whose span has a hole frees nothing (the descent fails there).
    expect(ioUnmap(pt, 2 * M, 2 * M, null, null)).toBe(4096);
    expect(pt.tableCount).toBe(203);
    ioMap(pt, 2 * M, 0x100000000 + 4096, 4096, RW); // the kept table is used again
    expect(pt.tableCount).toBe(203);
    // A fully mapped level-1 table unmapped in one call is freed.
    ioMap(pt, 512 * M, 0x300000000 + 0x1000, 2 * M, RW); // phys not 2M-aligned: 512 x 4K leaves
    expect(pt.tableCount).toBe(204);
    expect(ioUnmap(pt, 512 * M, 2 * M, null, null)).toBe(2 * M);
    expect(pt.tableCount).toBe(203);
    // 2 MiB leaves over the 100 empty level-1 tables free them (clear_contig).
    for (let i = 0; i < 200; i += 2) ioMap(pt, i * 2 * M, 0x200000000 + i * 2 * M, 2 * M, RW);
    expect(pt.tableCount).toBe(103);
    for (let i = 0; i < 200; i++) {
      const phys = i % 2 === 0 ? 0x200000000 + i * 2 * M + 7 : 0x100000000 + i * 4096 + 7;
      expect(pt.iovaToPhys(i * 2 * M + 7)).toBe(phys);
    }
    pt.checkValid();
  });

  test("a large leaf over a table that still maps a page is refused and changes nothing", () => {
    const pt = new IoPageTable(ioPgtableFormat("x86-4level"));
    ioMap(pt, 0x5000, 0x9000, 4096, RW);
    expect(() => ioMap(pt, 0, 0x400000, 2 * M, RW)).toThrow(/already mapped/);
    expect(pt.tableCount).toBe(4);
    expect(pt.iovaToPhys(0x5000)).toBe(0x9000);
    pt.checkValid();
  });

  // drivers/iommu/amd/iommu.c amd_iommu_domain_alloc_paging_v1: starting_level = 2 (three
  // levels, 2^39 bytes) with PT_FEAT_DYNAMIC_TOP; iommu_pt.h increase_top adds one root per
  // level needed, linking the old root at index 0.
  test("AMD v1 starts with 3 levels and grows its top on demand", () => {
    const pt = new IoPageTable(ioPgtableFormat("amd-v1"));
    expect(pt.top).toBe(3);
    expect(pt.tableCount).toBe(1);
    ioMap(pt, 0xfff00000, 0x1000000, 0x1000, RW); // below 512 GiB: root (L3), L2, L1
    expect(pt.top).toBe(3);
    expect(pt.tableCount).toBe(3);
    ioMap(pt, 2 ** 40, 0x2000000, 0x1000, RW); // beyond 2^39: a level-4 root over the old one
    expect(pt.top).toBe(4);
    expect(pt.tableCount).toBe(3 + 1 + 3); // new root; L3, L2, L1 under its entry 2
    expect(pt.iovaToPhys(0xfff00010)).toBe(0x1000010);
    expect(pt.iovaToPhys(2 ** 40 + 4)).toBe(0x2000004);
    expect(() => ioMap(pt, 2 ** 48, 0, 0x1000, RW)).toThrow(/48-bit aperture/);
    pt.checkValid();
  });

  test("unmap stops at a hole and returns the bytes unmapped", () => {
    const pt = new IoPageTable(ioPgtableFormat("x86-4level"));
    ioMap(pt, 0, 0x100000, 0x3000, RW);
    expect(ioUnmap(pt, 0, 0x10000, null, null)).toBe(0x3000);
    expect(ioUnmap(pt, 0, 0x1000, null, null)).toBe(0);
  });

  test("bad input throws a typed error naming the value and leaves the table unchanged", () => {
    const pt = new IoPageTable(ioPgtableFormat("x86-4level"));
    ioMap(pt, 0x10000, 0x20000, 0x2000, RW);
    const snap = () => ({ t: pt.tableCount, l: pt.leafCounts(), p: pt.iovaToPhys(0x10000) });
    const before = snap();
    const bad: [() => void, RegExp][] = [
      [() => ioMap(pt, 0x800, 0, 0x1000, RW), /not aligned to the smallest page size 0x1000/],
      [() => ioMap(pt, 0, 0x1800, 0x1000, RW), /not aligned/],
      [() => ioMap(pt, Number.NaN, 0, 0x1000, RW), /map iova NaN/],
      [() => ioMap(pt, -4096, 0, 0x1000, RW), /map iova -4096/],
      [() => ioMap(pt, 0, 0, 0, RW), /map size 0x0/],
      [() => ioMap(pt, 0, 0, 0x1000, 64), /prot 0x40/],
      [() => ioMap(pt, 2 ** 48, 0, 0x1000, RW), /48-bit aperture/],
      [() => ioMap(pt, 0xf000, 0x90000, 0x3000, RW), /already mapped/],
      [() => pt.mapPages(0, 0, 0x3000, 1, RW), /page size 0x3000/],
    ];
    for (const [fn, re] of bad) {
      expect(fn).toThrow(re);
      expect(snap()).toEqual(before);
      pt.checkValid();
    }
  });
});

// Table lifetime against a naive model of drivers/iommu/generic_pt/iommu_pt.h: a table exists from
// the map that first needs it (__map_range / pt_iommu_new_table) until one unmap_pages call whose
// walk covers its whole span without meeting a hole (__unmap_range, pt_entry_fully_covered), or a
// larger leaf installed over it (clear_contig). The model keeps a set of (level, window) pairs.
describe("IoPageTable table lifetime agrees with a naive generic_pt model", () => {
  for (const name of ["x86-4level", "amd-v1"] as IoPgtableFormatName[]) {
    test(`random whole-mapping maps and unmaps (${name})`, () => {
      const f = ioPgtableFormat(name);
      const g = 2 ** f.granuleShift;
      const E = 2 ** f.bitsPerLevel;
      const top = f.startLevels;
      const entry = (l: number) => 2 ** (f.granuleShift + f.bitsPerLevel * (l - 1));
      const span = (l: number) => entry(l) * E;
      const leafLevel = (size: number) => {
        let l = 1;
        while (l < top && entry(l + 1) <= size) l++;
        return l;
      };
      const op = fc.record({
        unmap: fc.boolean(),
        iova: fc.oneof(
          fc.nat(2047),
          fc.nat(3).map((x) => x * 512),
        ),
        phys: fc.oneof(
          fc.nat(4095),
          fc.nat(7).map((x) => x * 512),
        ),
        pages: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(512, 1024, 600)),
        pick: fc.nat(),
      });
      fc.assert(
        fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
          const pt = new IoPageTable(f);
          const tables = new Set<string>([`${top}:0`]);
          /** Leaf start IOVA and size per mapped granule page. */
          const leafAt = new Map<number, { start: number; size: number }>();
          const live: [number, number][] = [];
          for (const o of ops) {
            if (o.unmap && live.length > 0) {
              const [iova, pages] = live.splice(o.pick % live.length, 1)[0];
              ioUnmap(pt, iova * g, pages * g, null, null);
              // __iommu_unmap: one unmap_pages per iommu_pgsize step; each walk stops at a hole.
              let at = iova * g;
              const end = (iova + pages) * g;
              while (at < end) {
                const step = iommuPgsize(f.pgsizeBitmap, at, at, end - at);
                const hi = at + step.pgsize * step.count;
                let pos = at;
                while (pos < hi && leafAt.has(pos / g)) {
                  const leaf = leafAt.get(pos / g)!;
                  for (let p = leaf.start; p < leaf.start + leaf.size; p += g) leafAt.delete(p / g);
                  pos = leaf.start + leaf.size;
                }
                const stop = Math.min(hi, pos);
                for (const key of [...tables]) {
                  const [l, w] = key.split(":").map(Number);
                  if (l < top && w * span(l) >= at && (w + 1) * span(l) <= stop) tables.delete(key);
                }
                if (pos === at) break;
                at = pos;
              }
            } else {
              const pages = Math.min(o.pages, 2048 - o.iova);
              let clash = false;
              for (let i = 0; i < pages; i++) if (leafAt.has(o.iova + i)) clash = true;
              if (clash) continue;
              ioMap(pt, o.iova * g, o.phys * g, pages * g, RW);
              live.push([o.iova, pages]);
              let done = 0;
              while (done < pages * g) {
                const at = o.iova * g + done;
                const step = iommuPgsize(f.pgsizeBitmap, at, o.phys * g + done, pages * g - done);
                for (let k = 0; k < step.count; k++) {
                  const start = at + k * step.pgsize;
                  const l = leafLevel(step.pgsize);
                  for (const key of [...tables]) {
                    const [tl, w] = key.split(":").map(Number);
                    if (tl < l && w * span(tl) >= start && (w + 1) * span(tl) <= start + step.pgsize)
                      tables.delete(key);
                  }
                  for (let tl = l; tl <= top; tl++) tables.add(`${tl}:${Math.floor(start / span(tl))}`);
                  for (let p = start; p < start + step.pgsize; p += g)
                    leafAt.set(p / g, { start, size: step.pgsize });
                }
                done += step.pgsize * step.count;
              }
            }
            pt.checkValid();
            expect(pt.tableCount).toBe(tables.size);
          }
        }),
        fcRuns(100),
      );
    });
  }
});
