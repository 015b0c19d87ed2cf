import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IommuProt, IoPageTable, ioMap, ioPgtableFormat } from "../iommu/index.js";
import { congruentIovaBase, iommuCost, iovaLayout, kernelIovaBase } from "./iommu-cost.js";
import type { RunsInput } from "./types.js";

const G = 2 ** 30;
const runsOf = (rows: [va: number, pfn: number, npages: number][]): RunsInput => ({
  count: rows.length,
  va: rows.map((r) => r[0]),
  pfn: rows.map((r) => r[1]),
  npages: rows.map((r) => r[2]),
});
const x86 = ioPgtableFormat("x86-4level");

describe("kernelIovaBase (iommu_dma_alloc_iova, empty domain, top-down below 4 GiB first)", () => {
  it.each([
    // [bytes, granule, expected]: sizes < 32 granules round up to a power of two, size-aligned.
    [0x3000, 0x1000, 2 ** 32 - 0x4000],
    [0x200000, 0x1000, 2 ** 32 - 0x200000],
    [1023 * 4096, 0x1000, 2 ** 32 - 0x400000],
    [0x10000, 0x10000, 2 ** 32 - 0x10000],
    [6 * G, 0x1000, 2 ** 48 - 8 * G],
  ])("%s bytes at granule %s -> %s", (bytes, granule, want) => {
    expect(kernelIovaBase(bytes, granule)).toBe(want);
  });
});

describe("iommuCost fixed cases (hand-computed from iommu_pgsize and the table geometry)", () => {
  it("one 2 MiB-aligned 2 MiB run: one 2 MiB leaf, tables at levels 2, 3 and the root", () => {
    for (const placement of ["kernel", "congruent"] as const) {
      const c = iommuCost(runsOf([[0x7f0000000000, 0x200, 512]]), x86, placement, "x86");
      expect(c.leaves).toEqual([{ size: 0x200000, count: 1 }]);
      expect(c.tablePages).toBe(3);
      expect(c.iotlbEntries).toBe(1);
    }
  });

  it("a THP buffer starting 4 KiB into a huge page: 1023 4K leaves with the kernel IOVA, 511 + one 2M when congruent", () => {
    const runs = runsOf([[0x7f0000001000, 0x201, 1023]]);
    const k = iommuCost(runs, x86, "kernel", "x86");
    // IOVA 0xffc00000 is 2M aligned, phys 0x201000 is not: never congruent mod 2M.
    expect(k.leaves).toEqual([{ size: 0x1000, count: 1023 }]);
    expect(k.tablePages).toBe(2 + 1 + 1 + 1);
    const c = iommuCost(runs, x86, "congruent", "x86");
    // IOVA 0xffa01000: 511 4K pages up to 0xffc00000, then one 2M page.
    expect(c.leaves).toEqual([
      { size: 0x1000, count: 511 },
      { size: 0x200000, count: 1 },
    ]);
    expect(c.leafTotal).toBe(512);
    expect(c.tablePages).toBe(4);
  });

  it("a stray 4 KiB page before a 2 MiB page: congruence follows the bytes, not the first segment", () => {
    // Segment 0: 4 KiB at phys 0x5000 (IOVA offset 0); segment 1: 2 MiB at phys 0x400000 (offset 0x1000).
    const runs = runsOf([
      [0x7f0000000000, 0x5, 1],
      [0x7f0000001000, 0x400, 512],
    ]);
    // Kernel: the base is size-aligned (2^32 - 4 MiB, sizes above 32 granules are not rounded),
    // so segment 1 sits at IOVA = 4 KiB mod 2 MiB against a 2 MiB-aligned phys: 512 4K leaves.
    expect(iommuCost(runs, x86, "kernel", "x86").leaves).toEqual([{ size: 0x1000, count: 513 }]);
    // Congruent: only segment 1 holds a whole 2 MiB block, so base + 0x1000 = 0x400000 mod 2 MiB,
    // i.e. base = -0x1000 mod 2 MiB: one 4K leaf for segment 0 and one 2M leaf.
    const lay = iovaLayout(runs, 0x1000);
    expect(congruentIovaBase(lay, x86.pgsizeBitmap, 0x1000) % 0x200000).toBe(0x200000 - 0x1000);
    expect(iommuCost(runs, x86, "congruent", "x86").leaves).toEqual([
      { size: 0x1000, count: 1 },
      { size: 0x200000, count: 1 },
    ]);
  });

  it("ARM 64K granule pads a 4 KiB page to one 64 KiB leaf; three levels of tables", () => {
    const c = iommuCost(runsOf([[0x10000, 0x11, 1]]), ioPgtableFormat("arm-lpae-64k"), "kernel", "arm64k");
    expect(c.leaves).toEqual([{ size: 0x10000, count: 1 }]);
    expect(c.tablePages).toBe(3);
  });

  it("a segment that would cross the 4 GiB seg_boundary is padded to it (iommu_dma_map_sg)", () => {
    const runs = runsOf([
      [0, 0, (3 * G) / 4096],
      [3 * G, 0x100000, (2 * G) / 4096],
    ]);
    const lay = iovaLayout(runs, 4096);
    expect([...lay.off]).toEqual([0, 4 * G]);
    expect([...lay.len]).toEqual([4 * G, 2 * G]);
    expect(lay.total).toBe(6 * G);
    const c = iommuCost(runs, x86, "kernel", "x86");
    expect(c.leaves).toEqual([{ size: G, count: 5 }]);
    expect(c.tablePages).toBe(2);
  });

  it("no runs costs nothing", () => {
    expect(iommuCost(runsOf([]), x86, "kernel", "x86")).toMatchObject({
      leaves: [],
      leafTotal: 0,
      tablePages: 0,
    });
  });
});

describe("iommuCost agrees with the iommu layer's real IO page table (property)", () => {
  const runsArb = fc
    .array(
      fc.tuple(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 2 ** 20 }),
        fc.integer({ min: 1, max: 1100 }),
      ),
      {
        minLength: 1,
        maxLength: 6,
      },
    )
    .map((rows) => {
      let va = 0x7f0000000000;
      return runsOf(
        rows.map(([gap, pfn, np]) => {
          va += gap * 4096;
          const r: [number, number, number] = [va, pfn, np];
          va += np * 4096;
          return r;
        }),
      );
    });
  it.each(["x86-4level", "amd-v1", "arm-lpae-16k", "arm-lpae-64k"] as const)("%s", (name) => {
    const f = ioPgtableFormat(name);
    fc.assert(
      fc.property(runsArb, fc.constantFrom("kernel" as const, "congruent" as const), (runs, placement) => {
        const c = iommuCost(runs, f, placement, name);
        // Reference: map every segment into a real page table at the IOVA the cost model chose.
        const granule = 2 ** f.granuleShift;
        const lay = iovaLayout(runs, granule);
        const base =
          placement === "congruent"
            ? congruentIovaBase(lay, f.pgsizeBitmap, granule)
            : kernelIovaBase(lay.total, granule);
        const pt = new IoPageTable(f);
        let mapped = 0;
        for (let i = 0; i < runs.count; i++) {
          const end = Math.ceil(((runs.pfn[i] + runs.npages[i]) * 4096) / granule) * granule;
          ioMap(pt, base + lay.off[i], lay.phys[i], end - lay.phys[i], IommuProt.READ);
          mapped += end - lay.phys[i];
        }
        pt.checkValid();
        expect(c.tablePages).toBe(pt.tableCount);
        expect(c.leaves.map((l) => ({ pgsize: l.size, count: l.count }))).toEqual(pt.leafCounts());
        expect(c.leaves.reduce((s, l) => s + l.size * l.count, 0)).toBe(mapped);
      }),
      { seed: 42, numRuns: 40 },
    );
  });
});
