import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { DmaSystem, dmaMap, dmaUnmap } from "../dma/index.js";
import {
  IommuDomain,
  IommuProt,
  IoPageTable,
  type IoPgtableFormatName,
  ioMap,
  iommuDmaSgLayout,
  ioPgtableFormat,
} from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { PhyrList } from "../phyr/index.js";
import {
  congruentIovaBase,
  iommuConfigs,
  iommuCost,
  iommuCosts,
  kernelIovaBase,
  PLACEMENT_LABEL,
  runSegments,
} from "./iommu-cost.js";
import type { RunsInput } from "./types.js";

const G = 2 ** 30;
const runsOf = (rows: [va: number, pfn: number, npages: number][]): RunsInput => ({
  count: rows.length,
  va: rows.map((r) => r[0]),
  pfn: rows.map((r) => r[1]),
  npages: rows.map((r) => r[2]),
});
const x86 = ioPgtableFormat("x86-4level");
const amd = ioPgtableFormat("amd-v1");

describe("kernelIovaBase (iommu_dma_alloc_iova, empty domain, top-down below 4 GiB first)", () => {
  it.each([
    // [bytes, granule, aperture bits, expected]: sizes < 32 granules round up to a power of two
    // (alloc_iova_fast), the start is aligned to roundup_pow_of_two(size) (alloc_iova
    // size_aligned); above 4 GiB the search starts at the aperture end: 2^47 for the
    // sign-extended VT-d first stage, 2^48 for AMD v1 with a 48-bit table.
    [0x3000, 0x1000, 47, 2 ** 32 - 0x4000],
    [0x200000, 0x1000, 47, 2 ** 32 - 0x200000],
    [1023 * 4096, 0x1000, 47, 2 ** 32 - 0x400000],
    [0x10000, 0x10000, 48, 2 ** 32 - 0x10000],
    [6 * G, 0x1000, 48, 2 ** 48 - 8 * G],
    [6 * G, 0x1000, 47, 2 ** 47 - 8 * G],
  ])("%s bytes at granule %s, %s-bit aperture -> %s", (bytes, granule, bits, want) => {
    expect(kernelIovaBase(bytes, granule, bits)).toBe(want);
  });
});

describe("iommuConfigs: only page sizes a kernel with that PAGE_SIZE can produce", () => {
  it("a 4 KiB-page kernel gets VT-d and AMD v1 rows, no 16 KiB or 64 KiB granule", () => {
    // drivers/iommu/iova.c init_iova_domain: BUG_ON(granule > PAGE_SIZE); io-pgtable-arm.c
    // arm_lpae_restrict_pgsizes: granule = PAGE_SIZE when the SMMU supports it.
    const c = iommuConfigs(4096);
    expect(c.map((x) => x.format)).toEqual(["x86-4level", "amd-v1"]);
    for (const x of c) expect(ioPgtableFormat(x.format).granuleShift).toBe(12);
    const rows = iommuCosts(runsOf([[0x7f0000000000, 0x200, 512]]));
    expect(rows.map((r) => r.bitmap)).toEqual([
      "x86-64 4K|2M|1G",
      "x86-64 4K|2M|1G",
      "AMD v1 4K..2^47",
      "AMD v1 4K..2^47",
    ]);
    expect(rows.some((r) => /16K|64K/.test(r.bitmap))).toBe(false);
  });

  it("16 KiB and 64 KiB granules belong to 16 KiB and 64 KiB kernels", () => {
    expect(iommuConfigs(16384).map((x) => x.format)).toEqual(["arm-lpae-16k"]);
    expect(iommuConfigs(65536).map((x) => x.format)).toEqual(["arm-lpae-64k"]);
  });

  it("refuses a page size no kernel uses", () => {
    expect(() => iommuConfigs(8192)).toThrow(/page size 8192 is invalid/);
    expect(() => iommuCosts(runsOf([[0, 1, 1]]), 2048)).toThrow(RangeError);
  });

  it("every row names its side: the kernel release or the phyr design", () => {
    const rows = iommuCosts(runsOf([[0x7f0000000000, 0x200, 512]]));
    expect(rows.map((r) => r.placementLabel)).toEqual([
      "kernel 7.2, size-aligned",
      "phyr design, congruent",
      "kernel 7.2, size-aligned",
      "phyr design, congruent",
    ]);
    expect(PLACEMENT_LABEL.congruent).toMatch(/^phyr design/);
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

  it("AMD v1 below 512 GiB counts a 3-level table (starting_level 2); above it the top grows", () => {
    // IOVA 0xffe00000 < 2^39: root (level 3, 1 GiB entries) + one level-2 table holding the 2 MiB
    // leaf. The io-pgtable era's fixed depth would have added two more levels.
    const c = iommuCost(runsOf([[0x7f0000000000, 0x200, 512]]), amd, "kernel", "amd");
    expect(c.leaves).toEqual([{ size: 0x200000, count: 1 }]);
    expect(c.tablePages).toBe(2);
    // 6 GiB at phys 0: IOVA 2^48 - 8 GiB (above 4 GiB, 48-bit aperture); iommu_pgsize over AMD's
    // every-power-of-two bitmap takes one 4 GiB then one 2 GiB page, both level-3 entries
    // (replicated), in one level-3 table under a level-4 root that increase_top added over the
    // first root (still linked at index 0): 3 tables.
    const big = iommuCost(runsOf([[0, 0, (6 * G) / 4096]]), amd, "kernel", "amd");
    expect(big.leaves).toEqual([
      { size: 2 * G, count: 1 },
      { size: 4 * G, count: 1 },
    ]);
    expect(big.tablePages).toBe(3);
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
    const segs = runSegments(runs);
    const lay = iommuDmaSgLayout(segs, 0x1000, 0xffffffff);
    expect(congruentIovaBase(segs, lay, x86.pgsizeBitmap, 0x1000, 47) % 0x200000).toBe(0x200000 - 0x1000);
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

  it("the 4 GiB seg_boundary pad is mapped and counted (iommu_dma_map_sg + iommu_map_sg)", () => {
    // 3 GiB at phys 0 then 2 GiB at phys 4 GiB: the first is padded by 1 GiB so the second starts
    // at IOVA offset 4 GiB; the pad is backed by phys [3G, 4G) and, being contiguous with the
    // second run, the whole 6 GiB is one iommu_map: six 1 GiB leaves (the runs alone are 5 GiB).
    // IOVA 2^47 - 8 GiB; tables: root + one level-3 table.
    const runs = runsOf([
      [0, 0, (3 * G) / 4096],
      [3 * G, 0x100000, (2 * G) / 4096],
    ]);
    const lay = iommuDmaSgLayout(runSegments(runs), 4096, 0xffffffff);
    expect([...lay.iovaOff]).toEqual([0, 4 * G]);
    expect([...lay.pad]).toEqual([G, 0]);
    expect(lay.total).toBe(6 * G);
    const c = iommuCost(runs, x86, "kernel", "x86");
    expect(c.leaves).toEqual([{ size: G, count: 6 }]);
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

// Acceptance (issue 11 item 1): the analysis and the DMA path (dmaMap through an IOMMU domain)
// lay out, map and count the same list identically, pads included.
describe("the analysis and dmaMap give the same IOVA layout, leaves and tables", () => {
  const cases: {
    name: string;
    mask: number;
    runs: [number, number, number][];
    format: IoPgtableFormatName;
    padAt: number;
    padPhys: number;
    x86?: { leaves: { size: number; count: number }[]; tables: number };
  }[] = [
    {
      // 12 KiB then 56 KiB against a 64 KiB boundary: 0xd000 of pad after the first run, backed by
      // phys 0x103000..; 30 granules round up to 32 -> IOVA 2^32 - 128 KiB; 16 + 14 4K leaves in
      // root, L3, L2, L1.
      name: "a 64 KiB segment boundary (x86)",
      mask: 0xffff,
      runs: [
        [0x7f0000000000, 0x100, 3],
        [0x7f0000003000, 0x200, 14],
      ],
      format: "x86-4level",
      padAt: 0x3000,
      padPhys: 0x103000,
      x86: { leaves: [{ size: 4096, count: 30 }], tables: 4 },
    },
    {
      name: "a 64 KiB segment boundary (AMD v1)",
      mask: 0xffff,
      runs: [
        [0x7f0000000000, 0x100, 3],
        [0x7f0000003000, 0x200, 14],
      ],
      format: "amd-v1",
      padAt: 0x3000,
      padPhys: 0x103000,
    },
    {
      // 3 GiB at phys 0, 2 GiB at phys 6 GiB: 1 GiB of pad backed by phys [3G, 4G), two map calls,
      // IOVA 2^47 - 8 GiB: 4 + 2 leaves of 1 GiB in root + L3.
      name: "the 4 GiB PCI segment boundary (x86)",
      mask: 0xffffffff,
      runs: [
        [0, 0, (3 * G) / 4096],
        [3 * G, (6 * G) / 4096, (2 * G) / 4096],
      ],
      format: "x86-4level",
      padAt: 3 * G,
      padPhys: 3 * G,
      x86: { leaves: [{ size: G, count: 6 }], tables: 2 },
    },
    {
      name: "the 4 GiB PCI segment boundary (AMD v1, the top grows to 4 levels)",
      mask: 0xffffffff,
      runs: [
        [0, 0, (3 * G) / 4096],
        [3 * G, (6 * G) / 4096, (2 * G) / 4096],
      ],
      format: "amd-v1",
      padAt: 3 * G,
      padPhys: 3 * G,
    },
  ];
  it.each(cases)("$name", (c) => {
    const runs = runsOf(c.runs);
    const f = ioPgtableFormat(c.format);
    const cost = iommuCost(runs, f, "kernel", c.format, c.mask);
    if (c.x86) {
      expect(cost.leaves).toEqual(c.x86.leaves);
      expect(cost.tablePages).toBe(c.x86.tables);
    }
    const memory = new MachineMemory({ nodes: [{ start: 0, size: 8 * G }] });
    const sys = new DmaSystem({ memory });
    const dom = new IommuDomain({ type: "dma", format: c.format });
    const dev = sys.addDevice({ name: "0000:08:00.0", segBoundaryMask: c.mask }, dom);
    const list = PhyrList.fromRanges(
      c.runs.map(([, pfn, n]) => ({ addr: pfn * 4096, len: n * 4096 })),
      { store: "wide" },
    );
    const out = dmaMap(sys, dev, list);
    const lay = iommuDmaSgLayout(runSegments(runs), 4096, c.mask);
    const iova = out.entry(0).addr;
    expect(iova).toBe(kernelIovaBase(lay.total, 4096, f.apertureBits));
    const pt = dom.pgtable!;
    expect(pt.leafCounts().map((l) => ({ size: l.pgsize, count: l.count }))).toEqual(cost.leaves);
    expect(pt.tableCount).toBe(cost.tablePages);
    expect(pt.mappedBytes).toBe(lay.total);
    // The pad is mapped, backed by the memory after the padded run.
    expect(dom.iovaToPhys(iova + c.padAt)).toBe(c.padPhys);
    dmaUnmap(sys, dev, out);
    expect(pt.mappedBytes).toBe(0);
    dom.checkValid();
  });
});

/** Random runs in VA order: up to 3 pages of gap, a frame below `maxPfn`, 1-1100 pages each. */
function gappedRunsArb(maxPfn: number, minLength: number, maxLength: number) {
  return fc
    .array(
      fc.tuple(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: maxPfn }),
        fc.integer({ min: 1, max: 1100 }),
      ),
      { minLength, maxLength },
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
}

describe("iommuCost agrees with the iommu layer's real IO page table (property)", () => {
  const runsArb = gappedRunsArb(2 ** 20, 1, 6);
  it.each(["x86-4level", "amd-v1", "arm-lpae-16k", "arm-lpae-64k"] as const)("%s", (name) => {
    const f = ioPgtableFormat(name);
    fc.assert(
      fc.property(
        runsArb,
        fc.constantFrom("kernel" as const, "congruent" as const),
        fc.constantFrom(0xffff, 0xffffffff),
        (runs, placement, mask) => {
          const c = iommuCost(runs, f, placement, name, mask);
          // Reference: make the layout's map calls in a real page table at the IOVA the cost model chose.
          const granule = 2 ** f.granuleShift;
          const segs = runSegments(runs);
          const lay = iommuDmaSgLayout(segs, granule, mask);
          const base =
            placement === "congruent"
              ? congruentIovaBase(segs, lay, f.pgsizeBitmap, granule, f.apertureBits)
              : kernelIovaBase(lay.total, granule, f.apertureBits);
          const pt = new IoPageTable(f);
          let mapped = 0;
          for (let m = 0; m < lay.nmaps; m++) {
            ioMap(pt, base + lay.mapOff[m], lay.mapPhys[m], lay.mapLen[m], IommuProt.READ);
            mapped += lay.mapLen[m];
          }
          pt.checkValid();
          expect(c.tablePages).toBe(pt.tableCount);
          expect(c.leaves.map((l) => ({ pgsize: l.size, count: l.count }))).toEqual(pt.leafCounts());
          expect(c.leaves.reduce((s, l) => s + l.size * l.count, 0)).toBe(mapped);
        },
      ),
      fcRuns(40),
    );
  });
});

describe("iommuCosts shares one layout per granule (property)", () => {
  it("gives, for every configuration and placement, what iommuCost gives alone", () => {
    const runsArb = gappedRunsArb(2 ** 30, 0, 40);
    fc.assert(
      fc.property(runsArb, fc.constantFrom(4096, 16384, 65536), (runs, pageSize) => {
        const alone = iommuConfigs(pageSize).flatMap((c) => {
          const f = ioPgtableFormat(c.format);
          return [iommuCost(runs, f, "kernel", c.label), iommuCost(runs, f, "congruent", c.label)];
        });
        expect(iommuCosts(runs, pageSize)).toEqual(alone);
      }),
      fcRuns(60),
    );
  });
});

describe("congruentIovaBase picks what a Map-of-residues search picks (property vs naive)", () => {
  /**
   * Naive model of the design's placement: per large size, smallest first, a Map from residue to
   * the bytes of whole s-aligned blocks, the first residue to take the strict lead wins, and only
   * segments with the winning residue stay candidates.
   */
  const naive = (
    segs: ReturnType<typeof runSegments>,
    lay: ReturnType<typeof iommuDmaSgLayout>,
    bitmap: number,
    granule: number,
    apertureBits: number,
  ): number => {
    const has = (s: number) => Math.floor(bitmap / s) % 2 === 1;
    let largest = granule;
    for (let s = granule; s <= lay.total && s <= bitmap; s *= 2) if (has(s)) largest = s;
    const mod = (a: number, m: number) => ((a % m) + m) % m;
    const phys = (i: number) => segs.phys[i] * (segs.unit ?? 1);
    let cand = [...Array(lay.n).keys()].filter((i) => lay.iovaLen[i] > 0);
    let residue = 0;
    for (let s = granule * 2; s <= largest; s *= 2) {
      if (!has(s)) continue;
      const weight = new Map<number, number>();
      let best = -1;
      let bestWeight = 0;
      for (const i of cand) {
        const start = phys(i) - (phys(i) % granule);
        const end = start + lay.iovaLen[i] - lay.pad[i];
        const full = Math.floor(end / s) * s - Math.ceil(start / s) * s;
        if (full <= 0) continue;
        const r = mod(start - lay.iovaOff[i], s);
        const w = (weight.get(r) ?? 0) + full;
        weight.set(r, w);
        if (w > bestWeight) {
          bestWeight = w;
          best = r;
        }
      }
      if (best < 0) break;
      residue = best;
      cand = cand.filter((i) => mod(phys(i) - (phys(i) % granule) - lay.iovaOff[i], s) === best);
    }
    const base = kernelIovaBase(lay.total, granule, apertureBits);
    return Math.max(0, base - largest) - (Math.max(0, base - largest) % largest) + residue;
  };
  it.each(["x86-4level", "amd-v1", "arm-lpae-16k", "arm-lpae-64k"] as const)("%s", (name) => {
    const f = ioPgtableFormat(name);
    const granule = 2 ** f.granuleShift;
    // Frames in a small range so that large pages and shared residues occur.
    fc.assert(
      fc.property(gappedRunsArb(2 ** 19, 0, 30), fc.constantFrom(0xffff, 0xffffffff), (runs, mask) => {
        const segs = runSegments(runs);
        if (segs.n === 0) return;
        const lay = iommuDmaSgLayout(segs, granule, mask);
        expect(congruentIovaBase(segs, lay, f.pgsizeBitmap, granule, f.apertureBits)).toBe(
          naive(segs, lay, f.pgsizeBitmap, granule, f.apertureBits),
        );
      }),
      fcRuns(150),
    );
  });
});
