/**
 * IOMMU cost of mapping a buffer's runs into one IOVA range, per page-table format:
 * leaf entries by page size (drivers/iommu/iommu.c __iommu_map + iommu_pgsize), page-table pages,
 * and IOTLB entries (one per leaf), for two IOVA placements:
 *
 * - `kernel`: drivers/iommu/dma-iommu.c iommu_dma_map_sg — each segment's in-granule offset is
 *   kept, its length padded to the granule, a segment that would cross the PCI seg_boundary
 *   (0xffffffff) starts after padding, and the whole range gets ONE IOVA from
 *   iommu_dma_alloc_iova: sizes under 32 granules rounded up to a power of two, size-aligned
 *   (drivers/iommu/iova.c __alloc_and_insert_iova_range: align to roundup_pow_of_two(size)),
 *   first allocation of an empty domain, top-down below 4 GiB first (PCI), then below 2^48.
 * - `congruent`: the same layout, but the IOVA base is placed so that segments keep
 *   IOVA = phys modulo the large page sizes (the phys hint of dma_iova_try_alloc as the iommu
 *   layer's congruence option models it, generalised to many segments): see
 *   {@link congruentIovaBase}.
 *
 * Page-table pages are counted arithmetically: a leaf of size s sits at the level whose entry
 * size is the largest not above s; it needs one table at that level and each level above; the IOVA
 * advances monotonically, so distinct tables are counted with one "last window" per level. The
 * AMD v1 format writes an odd-size page as replicated entries; it is counted as one leaf of its
 * size (one IOTLB entry), as the IOTLB caches it.
 */

import { alignDown, alignUp, PAGE_SIZE } from "../core/index.js";
import {
  type IoPgtableFormat,
  type IoPgtableFormatName,
  iommuPgsizeInto,
  ioPgtableFormat,
  levelShift,
  minPageSize,
  type PgsizeChoice,
  pgsizeHas,
} from "../iommu/index.js";
import type { IommuCost } from "./output.js";
import type { RunsInput } from "./types.js";

/** The page-table formats the analysis reports, with their display names. */
export const IOMMU_CONFIGS: readonly { label: string; format: IoPgtableFormatName }[] = [
  { label: "x86-64 4K|2M|1G", format: "x86-4level" },
  { label: "AMD v1 4K..2^51", format: "amd-v1" },
  { label: "ARM 16K|32M", format: "arm-lpae-16k" },
  { label: "ARM 64K|512M", format: "arm-lpae-64k" },
];

/** PCI default segment boundary (drivers/pci/probe.c: dma_set_seg_boundary(dev, 0xffffffff)). */
const SEG_BOUNDARY = 2 ** 32;
/** IOVA_RANGE_CACHE_MAX_SIZE 6: sizes below 1 << 5 granules are rounded up to a power of two. */
const ROUNDUP_BELOW = 32;

/**
 * The IOVA layout of the runs as iommu_dma_map_sg lays them out: per segment, the granule-aligned
 * physical start and the offset of that segment from the IOVA base; plus the total length.
 * O(runs). Allocates two Float64Arrays of `runs.count`.
 */
export function iovaLayout(
  runs: RunsInput,
  granule: number,
): { phys: Float64Array; off: Float64Array; len: Float64Array; total: number } {
  const n = runs.count;
  const phys = new Float64Array(n);
  const off = new Float64Array(n);
  const len = new Float64Array(n);
  let iovaLen = 0;
  for (let i = 0; i < n; i++) {
    const p = runs.pfn[i] * PAGE_SIZE;
    const start = alignDown(p, granule);
    const sLen = alignUp(p + runs.npages[i] * PAGE_SIZE, granule) - start;
    // pad_len = (mask - iova_len + 1) & mask: distance to the next boundary.
    const pad = (SEG_BOUNDARY - (iovaLen % SEG_BOUNDARY)) % SEG_BOUNDARY;
    if (i > 0 && pad !== 0 && pad < sLen - 1) {
      len[i - 1] += pad;
      iovaLen += pad;
    }
    phys[i] = start;
    off[i] = iovaLen;
    len[i] = sLen;
    iovaLen += sLen;
  }
  return { phys, off, len, total: iovaLen };
}

/**
 * The IOVA base the kernel's allocator returns for `total` bytes in an empty domain.
 * @param total mapping length in bytes (a multiple of the granule, > 0).
 * @param granule the IOVA granule.
 * @returns the base address.
 */
export function kernelIovaBase(total: number, granule: number): number {
  let g = total / granule;
  if (g < ROUNDUP_BELOW) g = 2 ** Math.ceil(Math.log2(g));
  const size = g * granule;
  const align = 2 ** Math.ceil(Math.log2(g)) * granule;
  for (const limit of [2 ** 32, 2 ** 48]) {
    if (size > limit - granule) continue;
    return alignDown(limit - size, align);
  }
  return 0;
}

/**
 * The congruence-keeping IOVA base for a layout: near the kernel's base, with base + off[i] = phys[i]
 * modulo as many of the bitmap's large page sizes as the bytes allow. A single residue cannot suit
 * segments whose physical addresses disagree, so it is chosen by weight, smallest large size
 * first: among the segments holding a whole s-aligned physical block (and congruent at the sizes
 * chosen so far), the residue (phys - off) mod s with the most bytes in such blocks wins; larger sizes refine it
 * within the winners. With one segment this is plain congruence with its physical address.
 * O(runs x page sizes); one Map per size.
 * @param lay the layout from {@link iovaLayout}.
 * @param bitmap the page-size bitmap.
 * @param granule the smallest page size.
 * @returns the base address.
 */
export function congruentIovaBase(
  lay: { phys: Float64Array; off: Float64Array; len: Float64Array; total: number },
  bitmap: number,
  granule: number,
): number {
  let largest = granule;
  for (let s = granule; s <= lay.total && s <= bitmap; s *= 2) if (pgsizeHas(bitmap, s)) largest = s;
  const n = lay.phys.length;
  const mod = (a: number, m: number) => ((a % m) + m) % m;
  let residue = 0;
  let candidates: number[] = [];
  for (let i = 0; i < n; i++) candidates.push(i);
  for (let s = granule * 2; s <= largest; s *= 2) {
    if (!pgsizeHas(bitmap, s)) continue;
    const weight = new Map<number, number>();
    let best = -1;
    let bestWeight = 0;
    for (const i of candidates) {
      const full = Math.floor((lay.phys[i] + lay.len[i]) / s) * s - alignUp(lay.phys[i], s);
      if (full <= 0) continue;
      const r = mod(lay.phys[i] - lay.off[i], s);
      const w = (weight.get(r) ?? 0) + full;
      weight.set(r, w);
      if (w > bestWeight) {
        bestWeight = w;
        best = r;
      }
    }
    if (best < 0) break;
    residue = best;
    candidates = candidates.filter((i) => mod(lay.phys[i] - lay.off[i], s) === best);
  }
  const base = kernelIovaBase(lay.total, granule);
  return alignDown(Math.max(0, base - largest), largest) + residue;
}

/**
 * IOMMU cost of the runs under one format and placement. O(runs x levels).
 * @param runs validated runs (at least one).
 * @param format page-table format.
 * @param placement IOVA placement.
 * @param label display name of the configuration.
 * @returns the cost (all zero for no runs).
 */
export function iommuCost(
  runs: RunsInput,
  format: IoPgtableFormat,
  placement: "kernel" | "congruent",
  label: string,
): IommuCost {
  const bitmap = format.pgsizeBitmap;
  const granule = minPageSize(bitmap);
  const lay = iovaLayout(runs, granule);
  const empty: IommuCost = {
    bitmap: label,
    placement,
    leaves: [],
    leafTotal: 0,
    tablePages: 0,
    iotlbEntries: 0,
  };
  if (runs.count === 0) return empty;
  const base =
    placement === "congruent" ? congruentIovaBase(lay, bitmap, granule) : kernelIovaBase(lay.total, granule);
  const leaves = new Map<number, number>();
  const geo = tableGeometry(format);
  const lastWindow = new Float64Array(format.levels + 1).fill(-1);
  let tables = 0;
  const choice: PgsizeChoice = { pgsize: 0, count: 0 };
  for (let i = 0; i < runs.count; i++) {
    let iova = base + lay.off[i];
    let paddr = lay.phys[i];
    let left = alignUp(runs.pfn[i] * PAGE_SIZE + runs.npages[i] * PAGE_SIZE, granule) - paddr;
    while (left > 0) {
      iommuPgsizeInto(bitmap, iova, paddr, left, choice);
      const bytes = choice.pgsize * choice.count;
      leaves.set(choice.pgsize, (leaves.get(choice.pgsize) ?? 0) + choice.count);
      tables += countTables(geo, choice.pgsize, iova, bytes, lastWindow);
      iova += bytes;
      paddr += bytes;
      left -= bytes;
    }
  }
  const sizes = [...leaves.keys()].sort((a, b) => a - b);
  const leafTotal = sizes.reduce((s, k) => s + (leaves.get(k) ?? 0), 0);
  return {
    bitmap: label,
    placement,
    leaves: sizes.map((size) => ({ size, count: leaves.get(size) ?? 0 })),
    leafTotal,
    tablePages: tables,
    iotlbEntries: leafTotal,
  };
}

/** Per level k (1 = leaf level): the entry size and the IOVA span one level-k table covers. */
interface TableGeometry {
  levels: number;
  entry: Float64Array;
  cover: Float64Array;
}

function tableGeometry(f: IoPgtableFormat): TableGeometry {
  const entry = new Float64Array(f.levels + 1);
  const cover = new Float64Array(f.levels + 1);
  for (let k = 1; k <= f.levels; k++) {
    entry[k] = 2 ** levelShift(f, k);
    // A level-k table covers 2^bitsPerLevel entries of 2^levelShift(k) bytes; the root covers everything.
    cover[k] = k === f.levels ? 2 ** 60 : 2 ** (levelShift(f, k) + f.bitsPerLevel);
  }
  return { levels: f.levels, entry, cover };
}

/** New table pages needed for leaves of `pgsize` covering [iova, iova + bytes). O(levels). */
function countTables(
  g: TableGeometry,
  pgsize: number,
  iova: number,
  bytes: number,
  last: Float64Array,
): number {
  let level = 1;
  while (level < g.levels && g.entry[level + 1] <= pgsize) level++;
  let added = 0;
  for (let k = level; k <= g.levels; k++) {
    const cover = g.cover[k];
    const first = Math.floor(iova / cover);
    const lastW = Math.floor((iova + bytes - 1) / cover);
    added += lastW - first + 1 - (first === last[k] ? 1 : 0);
    last[k] = lastW;
  }
  return added;
}

/**
 * IOMMU costs of the runs for every configuration of {@link IOMMU_CONFIGS} and both placements.
 * @param runs validated runs.
 * @returns kernel and congruent costs per configuration, in that order.
 */
export function iommuCosts(runs: RunsInput): IommuCost[] {
  const out: IommuCost[] = [];
  for (const c of IOMMU_CONFIGS) {
    const f = ioPgtableFormat(c.format);
    out.push(iommuCost(runs, f, "kernel", c.label), iommuCost(runs, f, "congruent", c.label));
  }
  return out;
}
