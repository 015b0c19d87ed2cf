/**
 * The DMA API over range lists against the kernel's current ways, on the same machine and the same
 * pinned buffers, measured in one run (issue 4):
 *
 * - Range mapping (dmaMap through an IOMMU: one IOVA, iommu_pgsize picks 4K / 2M / 1G leaves)
 *   against page-at-a-time mapping (dma/baseline.ts iommuMapPageAtATime: 512-page batches, one
 *   iommu_map per 4 KiB page), for a 1 GiB-page, a 2 MiB-page and a fragmented 4 KiB buffer. Each
 *   timing maps and unmaps once; both sides in paired rounds (harness pairedRuns, main-thread
 *   time), the ratio the median of the per-round ratios. Leaf entries of the IO page table both
 *   ways (exact).
 * - Identity return (dmaMap on a dma-direct device without offset returns the input list) against
 *   per-entry direct mapping (dma_map_sg over the scatterlist the kernel builds from the same
 *   pages: dma/baseline.ts dmaMapSgDirect), with and without building that scatterlist from the
 *   struct page * array. Both check every entry through the same DmaSystem.classify (RAM via the
 *   section cache); target: identity at least as fast as per-entry mapping (>= 1x). Paired rounds
 *   (harness pairedNs; pairedRuns for the row with the build).
 * - The 64 GiB buffer of 1 GiB pages: output entries, leaf entries, IOTLB entries covering it; and
 *   (full run only) the 16,777,216 leaves page-at-a-time mapping writes.
 *
 * The debug checker is off (a production kernel has no CONFIG_DMA_API_DEBUG).
 */
import { Rng } from "../src/core/index.js";
import {
  DmaDebug,
  type DmaDevice,
  type DmaMapping,
  DmaSystem,
  dmaMap,
  dmaMapSgDirect,
  dmaUnmap,
  dmaUnmapSgDirect,
  iommuMapPageAtATime,
  iommuUnmapPageAtATime,
  sgTableFromList,
} from "../src/dma/index.js";
import { SG_ENTRY_BYTES, SG_TABLE_BYTES, sgSlots } from "../src/formats/index.js";
import { IommuDomain } from "../src/iommu/index.js";
import { MachineMemory } from "../src/mem/index.js";
import { PhyrList } from "../src/phyr/index.js";
import {
  type BenchOptions,
  type BenchRow,
  type BenchSuite,
  exactRatio,
  median,
  pairedNs,
  pairedRuns,
  roundRatios,
  speedRow,
  timeNs,
} from "./harness.js";

const K4 = 4096;
const M2 = 2 ** 21;
const G = 2 ** 30;
/** RAM of the simulated machine: 1 GiB .. 129 GiB (sparse: costs nothing until touched). */
const RAM_START = G;
const RAM_SIZE = 128 * G;

/**
 * A pinned buffer of `bytes` made of naturally aligned pages of `page` bytes at distinct random
 * places in RAM, in VA order (as GUP returns it): a compact PhyrList.
 */
function buffer(bytes: number, page: number, seed: number): PhyrList {
  const rng = new Rng(seed);
  const slots = RAM_SIZE / page;
  const used = new Set<number>();
  const l = new PhyrList({ store: "compact" });
  for (let k = 0; k < bytes / page; k++) {
    let s = rng.int(slots);
    while (used.has(s)) s = rng.int(slots);
    used.add(s);
    l.append(RAM_START + s * page, page);
  }
  return l;
}

function machine(): DmaSystem {
  const memory = new MachineMemory({ nodes: [{ start: RAM_START, size: RAM_SIZE }] });
  return new DmaSystem({ memory, debug: new DmaDebug(false) });
}

function iommuDevice(sys: DmaSystem, name: string): { dev: DmaDevice; dom: IommuDomain } {
  const dom = new IommuDomain({ type: "dma" });
  return { dev: sys.addDevice({ name }, dom), dom };
}

/**
 * One dmaMap + dmaUnmap of `list` on `dev`, the timed range side; returns the mapping so the
 * latest one stays alive (as pairedRuns expects). O(entries of the mapping).
 */
function mapUnmap(sys: DmaSystem, dev: DmaDevice, list: PhyrList): DmaMapping {
  const m = dmaMap(sys, dev, list);
  dmaUnmap(sys, dev, m);
  return m;
}

async function rangeVsPageRows(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const bytes = opts.quick ? 2 * G : 8 * G;
  const gib = bytes / G;
  const inputs: [string, PhyrList, number | undefined][] = [
    [`1 GiB-page buffer, ${gib} GiB`, buffer(bytes, G, 31), 1000],
    [`2 MiB-page buffer, ${gib} GiB`, buffer(bytes, M2, 32), undefined],
    [`fragmented 4 KiB buffer, ${gib / 8} GiB`, buffer(bytes / 8, K4, 33), undefined],
  ];
  const sys = machine();
  let n = 0;
  for (const [label, list, want] of inputs) {
    const { dev, dom } = iommuDevice(sys, `0000:10:${(n++).toString(16).padStart(2, "0")}.0`);
    // Paired rounds (one side takes microseconds, the other up to a second); each side returns
    // its mapping so one stays alive, and a cursor over the input is held (pairedRuns `hold`).
    const [range, page] = pairedRuns(
      [
        () => mapUnmap(sys, dev, list),
        () => {
          const p = iommuMapPageAtATime(sys, dev, list);
          iommuUnmapPageAtATime(sys, dev, p);
          return p;
        },
      ],
      { rounds: opts.quick ? 5 : 7, hold: [list.cursor()] },
    );
    rows.push(
      speedRow(
        `dmaMap+unmap via IOMMU as ranges: ${label}`,
        median(range),
        "page-at-a-time",
        roundRatios(page, range),
        want,
      ),
    );
    const m = dmaMap(sys, dev, list);
    const ranged = dom.pgtable!.pteCount;
    rows.push({
      name: `  IO page-table leaves as ranges (${list.nents} entries in, ${m.nents} out)`,
      value: ranged,
      unit: "entries",
      ratio: exactRatio("page-at-a-time leaves", list.totalBytes / K4 / ranged, "count"),
    });
    dmaUnmap(sys, dev, m);
  }
  return rows;
}

async function identityRows(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const sys = machine();
  const dev = sys.addDevice({ name: "0000:20:00.0" });
  const inputs: [string, PhyrList][] = [
    ["2 MiB-page buffer, 1 GiB", buffer(G, M2, 41)],
    [
      `fragmented 4 KiB buffer, ${opts.quick ? 64 : 256} MiB`,
      buffer((opts.quick ? 64 : 256) * 2 ** 20, K4, 42),
    ],
  ];
  for (const [label, list] of inputs) {
    const heavy = list.nents > 10_000;
    const same = dmaMap(sys, dev, list) === list;
    dmaUnmap(sys, dev, list);
    if (!same) throw new Error("identity case did not return the input list");
    const sgt = sgTableFromList(list);
    // Paired rounds with a GC and a warm-up before each: this ratio ranged 0.61x-2.10x over
    // single-shot runs on a busy machine.
    const {
      ns: ident,
      refNs: perEntry,
      ratios,
    } = await pairedNs(
      () => dmaUnmap(sys, dev, dmaMap(sys, dev, list)),
      () => {
        dmaMapSgDirect(sys, dev, sgt);
        dmaUnmapSgDirect(sys, dev, sgt);
        return sgt;
      },
      { ...opts, heavy, refHeavy: heavy },
    );
    // Identity checks every entry (provider, DMA mask, RAM) as dma_direct_map_sg does, but writes
    // nothing: it must not be slower than mapping a prebuilt scatterlist entry by entry.
    rows.push(speedRow(`identity return, map+unmap: ${label}`, ident, "dma_map_sg per entry", ratios, 1));
    rows.push({
      name: "  per entry: identity check (cursor walk, mask, RAM)",
      value: ident / list.nents,
      unit: "ns",
    });
    rows.push({ name: "  per entry: dma_map_sg + dma_unmap_sg", value: perEntry / list.nents, unit: "ns" });
    const walk = await timeNs(
      () => {
        let bytes = 0;
        for (const c = list.cursor(); !c.done; c.nextEntry()) bytes += c.entryLen;
        return bytes;
      },
      { ...opts, heavy },
    );
    rows.push({
      name: "  per entry: compact cursor walk alone (decode, trim)",
      value: walk / list.nents,
      unit: "ns",
    });
    // Against building the scatterlist too, in its own paired rounds (pairedRuns).
    const [identCpu, withBuild] = pairedRuns(
      [
        () => mapUnmap(sys, dev, list),
        () => {
          const t = sgTableFromList(list);
          dmaMapSgDirect(sys, dev, t);
          dmaUnmapSgDirect(sys, dev, t);
          return t;
        },
      ],
      { rounds: opts.quick ? 5 : 7, hold: [list.cursor()] },
    );
    rows.push(
      speedRow(
        "  same, against building the sg table too",
        median(identCpu),
        "page array + sg + dma_map_sg",
        roundRatios(withBuild, identCpu),
      ),
    );
    rows.push({
      name: `  new mapping storage: identity 0 B; scatterlist (${sgt.origNents} entries)`,
      value: SG_TABLE_BYTES + SG_ENTRY_BYTES * sgSlots(sgt.origNents),
      unit: "B",
    });
  }
  return rows;
}

function bigBufferRows(opts: BenchOptions): BenchRow[] {
  const rows: BenchRow[] = [];
  const sys = machine();
  const list = buffer(64 * G, G, 51);
  const plain = sys.addDevice({ name: "0000:30:00.0" });
  const same = dmaMap(sys, plain, list);
  rows.push({
    name: "64 GiB of 1 GiB pages, no IOMMU: returns the input list",
    value: same === list ? 1 : 0,
    unit: "(1 = yes)",
  });
  dmaUnmap(sys, plain, same);
  const { dev, dom } = iommuDevice(sys, "0000:30:01.0");
  const m = dmaMap(sys, dev, list);
  const e = m.entry(0);
  for (let i = 0; i < 64; i++) dom.translate(dev.name, e.addr + i * G + 4095, "read");
  rows.push({ name: "64 GiB of 1 GiB pages via IOMMU: DmaList entries", value: m.nents, unit: "entries" });
  rows.push({
    name: "  IO page-table leaves (1 GiB each)",
    value: dom.pgtable!.leafCount(G),
    unit: "entries",
  });
  rows.push({ name: "  IOTLB entries covering all 64 GiB", value: dom.iotlb.validCount, unit: "entries" });
  dmaUnmap(sys, dev, m);
  if (!opts.quick) {
    const p = iommuMapPageAtATime(sys, dev, list);
    rows.push({
      name: "64 GiB page-at-a-time: leaf 4 KiB entries",
      value: dom.pgtable!.leafCount(K4),
      unit: "entries",
    });
    rows.push({ name: "  iommu_map calls", value: p.iommuMaps, unit: "calls" });
    rows.push({ name: "  pin batches of 512 pages", value: p.batches, unit: "batches" });
    iommuUnmapPageAtATime(sys, dev, p);
  }
  return rows;
}

/** The suite. */
export const suite: BenchSuite = {
  name: "dma",
  async run(opts: BenchOptions): Promise<BenchRow[]> {
    return [...(await rangeVsPageRows(opts)), ...(await identityRows(opts)), ...bigBufferRows(opts)];
  },
};
