/**
 * IOMMU cost of mapping a buffer's runs with dma_map_sg into one IOVA range, per page-table
 * format: leaf entries by page size (drivers/iommu/iommu.c __iommu_map + iommu_pgsize),
 * page-table pages and IOTLB entries (one per leaf), for two IOVA placements:
 *
 * - `kernel` (Linux 7.2, core/kernel.ts KERNEL_MODEL): the layout of iommu_dma_map_sg and the map
 *   calls of iommu_map_sg, from the one layout function the DMA path uses too
 *   ({@link iommuDmaSgLayout}: in-granule offsets kept, lengths padded to the granule, the
 *   previous segment padded when the next would cross the PCI seg_boundary 0xffffffff, the pad
 *   mapped from the memory after it), at the IOVA iommu_dma_alloc_iova returns in an empty
 *   domain: alloc_iova_fast rounds sizes under 32 granules up to a power of two, alloc_iova
 *   aligns to roundup_pow_of_two(size) and searches top-down, below 4 GiB first (the PCI
 *   32-bit workaround), then below the aperture (see {@link kernelIovaBase}).
 * - `congruent` (the phyr design, not the kernel: dma_iova_try_alloc keeps only phys's offset in
 *   the granule): the same layout, with the IOVA base placed so that segments keep
 *   IOVA = phys modulo the large page sizes: see {@link congruentIovaBase}.
 *
 * Page-table pages are counted arithmetically: a leaf of size s sits at the level whose entry
 * size is the largest not above s; it needs one table at that level and each level above; the IOVA
 * advances monotonically, so distinct tables are counted with one "last window" per level. A
 * format with a dynamic top (AMD v1, generic_pt increase_top) has only the levels its highest
 * IOVA needs, at least its starting three. The AMD v1 format writes an odd-size page as
 * replicated entries; it is counted as one leaf of its size (one IOTLB entry), as the IOTLB
 * caches it.
 *
 * Rows: memory is read in 4 KiB pages (PAGE_SIZE 4096), so only formats a 4 KiB-page kernel can
 * use are shown ({@link iommuConfigs}): an IOVA granule above PAGE_SIZE is refused by
 * drivers/iommu/iova.c init_iova_domain, and arm_lpae_restrict_pgsizes gives an SMMU the 4 KiB
 * granule on such a kernel (the same 4K|2M|1G leaves and 4-level geometry as the x86 row).
 */

import { alignDown, KERNEL_MODEL, modPow2, PAGE_SIZE } from "../core/index.js";
import {
  type IoPgtableFormat,
  type IoPgtableFormatName,
  iommuDmaSgLayout,
  iommuPgsizeInto,
  ioPgtableFormat,
  levelShift,
  minPageSize,
  type PgsizeChoice,
  pgsizeHas,
  type SgLayout,
  type SgLayoutInput,
} from "../iommu/index.js";
import type { IommuCost } from "./output.js";
import type { RunsInput } from "./types.js";

/** A page-table format the analysis reports, with its display name. */
export interface IommuConfig {
  label: string;
  format: IoPgtableFormatName;
}

const CONFIGS_4K: readonly IommuConfig[] = [
  { label: "x86-64 4K|2M|1G", format: "x86-4level" },
  { label: "AMD v1 4K..2^47", format: "amd-v1" },
];

/**
 * The formats a kernel with `pageSize`-byte pages can map memory with, as the analysis reports
 * them: 4 KiB -> VT-d (first stage, 4 levels) and AMD v1; 16 KiB -> ARM LPAE 16K granule;
 * 64 KiB -> ARM LPAE 64K granule (arm_lpae_restrict_pgsizes picks the granule equal to
 * PAGE_SIZE). O(1).
 * @throws RangeError naming the value for any other page size.
 */
export function iommuConfigs(pageSize: number): readonly IommuConfig[] {
  if (pageSize === 4096) return CONFIGS_4K;
  if (pageSize === 16384) return [{ label: "ARM 16K|32M", format: "arm-lpae-16k" }];
  if (pageSize === 65536) return [{ label: "ARM 64K|512M", format: "arm-lpae-64k" }];
  throw new RangeError(`page size ${String(pageSize)} is invalid: expected 4096, 16384 or 65536`);
}

/** The formats the analysis reports for memory read in 4 KiB pages (what every source gives). */
export const IOMMU_CONFIGS: readonly IommuConfig[] = CONFIGS_4K;

/** PCI default segment boundary mask (drivers/pci/probe.c: dma_set_seg_boundary(dev, 0xffffffff)). */
export const PCI_SEG_BOUNDARY_MASK = 0xffffffff;
/** IOVA_RANGE_CACHE_MAX_SIZE 6: sizes below 1 << 5 granules are rounded up to a power of two. */
const ROUNDUP_BELOW = 32;

/** What each placement is, as printed: the kernel's way today, or the phyr design. */
export const PLACEMENT_LABEL: Readonly<Record<"kernel" | "congruent", string>> = {
  kernel: `kernel ${KERNEL_MODEL}, size-aligned`,
  congruent: "phyr design, congruent",
};

/**
 * The runs as dma_map_sg segments: one segment per run (phys = pfn x 4 KiB, len = pages x 4 KiB),
 * as a view of the runs' own columns in page units (no copy). O(1).
 */
export function runSegments(runs: RunsInput): SgLayoutInput {
  return { n: runs.count, phys: runs.pfn, len: runs.npages, unit: PAGE_SIZE };
}

/**
 * The IOVA base the kernel's allocator returns for `total` bytes in an empty domain:
 * iommu_dma_alloc_iova tries below 4 GiB first (a PCI device), then below the aperture end;
 * alloc_iova aligns the start to roundup_pow_of_two(size) and takes the highest fit.
 * @param total mapping length in bytes (a multiple of the granule, > 0).
 * @param granule the IOVA granule.
 * @param apertureBits IOVA bits of the domain's aperture (format.apertureBits; default 48).
 * @returns the base address.
 */
export function kernelIovaBase(total: number, granule: number, apertureBits = 48): number {
  let g = total / granule;
  if (g < ROUNDUP_BELOW) g = 2 ** Math.ceil(Math.log2(g));
  const size = g * granule;
  const align = 2 ** Math.ceil(Math.log2(g)) * granule;
  for (const limit of [2 ** 32, 2 ** apertureBits]) {
    if (size > limit - granule) continue;
    return alignDown(limit - size, align);
  }
  return 0;
}

/**
 * The phyr design's congruence-keeping IOVA base for a layout (not the kernel's: see the file
 * header): near the kernel's base, with base + iovaOff[i] = phys[i] modulo as many of the
 * bitmap's large page sizes as the bytes allow. A single residue cannot suit segments whose
 * physical addresses disagree, so it is chosen by weight, smallest large size first: among the
 * segments holding a whole s-aligned physical block (and congruent at the sizes chosen so far),
 * the residue (phys - off) mod s with the most bytes in such blocks wins; larger sizes refine it
 * within the winners. With one segment this is plain congruence with its physical address.
 * O(segments x page sizes); one Int32Array of the segments (or `scratch`) and one weight array
 * of (size / previous size) entries, reused for every size.
 * @param segs the segments laid out.
 * @param lay their layout from {@link iommuDmaSgLayout}.
 * @param bitmap the page-size bitmap.
 * @param granule the smallest page size.
 * @param apertureBits IOVA bits of the aperture (default 48).
 * @param scratch room for the candidates (at least `lay.n` entries), to reuse across calls.
 * @returns the base address.
 */
export function congruentIovaBase(
  segs: SgLayoutInput,
  lay: SgLayout,
  bitmap: number,
  granule: number,
  apertureBits = 48,
  scratch?: Int32Array,
): number {
  let largest = granule;
  for (let s = granule; s <= lay.total && s <= bitmap; s *= 2) if (pgsizeHas(bitmap, s)) largest = s;
  let residue = 0;
  const unit = segs.unit ?? 1;
  // The candidates, in segment order, compacted in place as sizes are chosen (one Int32Array,
  // `scratch` when it is large enough); a candidate's granule-aligned physical start and its end
  // are recomputed from the segment and the layout when needed.
  const cand = scratch !== undefined && scratch.length >= lay.n ? scratch : new Int32Array(lay.n);
  let nc = 0;
  for (let i = 0; i < lay.n; i++) if (lay.iovaLen[i] > 0) cand[nc++] = i;
  // Every candidate left is congruent modulo the previous size chosen (`step`), so its residue
  // modulo s is residue + k x step with k < s / step: weights live in a typed array indexed by k
  // (a Map of float keys cost most of this pass), with the same first-to-lead tie rule.
  let step = granule;
  let weight = new Float64Array(0);
  for (let s = granule * 2; s <= largest; s *= 2) {
    if (!pgsizeHas(bitmap, s)) continue;
    const slots = s / step;
    if (weight.length < slots) weight = new Float64Array(slots);
    else weight.fill(0, 0, slots);
    let best = -1;
    let bestWeight = 0;
    for (let c = 0; c < nc; c++) {
      const i = cand[c];
      const p = segs.phys[i] * unit;
      const sc = p - modPow2(p, granule);
      const full = Math.floor((sc + lay.iovaLen[i] - lay.pad[i]) / s) * s - Math.ceil(sc / s) * s;
      if (full <= 0) continue;
      const r = modPow2(sc - lay.iovaOff[i], s);
      const k = (r - residue) / step;
      const w = weight[k] + full;
      weight[k] = w;
      if (w > bestWeight) {
        bestWeight = w;
        best = r;
      }
    }
    if (best < 0) break;
    residue = best;
    step = s;
    let kept = 0;
    for (let c = 0; c < nc; c++) {
      const i = cand[c];
      const p = segs.phys[i] * unit;
      if (modPow2(p - modPow2(p, granule) - lay.iovaOff[i], s) !== best) continue;
      cand[kept++] = i;
    }
    nc = kept;
  }
  const base = kernelIovaBase(lay.total, granule, apertureBits);
  return alignDown(Math.max(0, base - largest), largest) + residue;
}

/**
 * IOMMU cost of the runs under one format and placement: the map calls of
 * {@link iommuDmaSgLayout} (boundary pads included) at the placement's IOVA base, each split by
 * iommu_pgsize. O(runs x levels).
 * @param runs validated runs (at least one).
 * @param format page-table format.
 * @param placement IOVA placement (`kernel` or the phyr design's `congruent`).
 * @param label display name of the configuration.
 * @param segBoundaryMask the device's dma_get_seg_boundary (default the PCI 0xffffffff).
 * @returns the cost (all zero for no runs).
 */
export function iommuCost(
  runs: RunsInput,
  format: IoPgtableFormat,
  placement: "kernel" | "congruent",
  label: string,
  segBoundaryMask = PCI_SEG_BOUNDARY_MASK,
): IommuCost {
  if (runs.count === 0) return emptyCost(label, placement);
  const segs = runSegments(runs);
  const lay = iommuDmaSgLayout(segs, minPageSize(format.pgsizeBitmap), segBoundaryMask);
  return layoutCost(segs, lay, format, placement, label);
}

/**
 * {@link iommuCost} of segments already laid out for the format's granule (the layout depends on
 * the granule and the boundary mask only, so every format and placement of one granule shares it).
 * O(map calls x levels).
 */
function layoutCost(
  segs: SgLayoutInput,
  lay: SgLayout,
  format: IoPgtableFormat,
  placement: "kernel" | "congruent",
  label: string,
  scratch?: Int32Array,
): IommuCost {
  const bitmap = format.pgsizeBitmap;
  const granule = minPageSize(bitmap);
  const base =
    placement === "congruent"
      ? congruentIovaBase(segs, lay, bitmap, granule, format.apertureBits, scratch)
      : kernelIovaBase(lay.total, granule, format.apertureBits);
  // Leaf counts and leaf levels indexed by log2(page size) (page sizes are powers of two below
  // 2^64): two typed-array look-ups per map call instead of a Map update and a level search.
  const leaves = new Float64Array(64);
  const geo = tableGeometry(format);
  const levelOf = new Uint8Array(64);
  for (let b = 0; b < 64; b++) levelOf[b] = leafLevel(geo, 2 ** b);
  const lastWindow = new Float64Array(format.levels + 1).fill(-1);
  let tables = 0;
  let topLevel = format.startLevels;
  const choice: PgsizeChoice = { pgsize: 0, count: 0 };
  // The smallest supported size above the granule: a map call shorter than it is all granule
  // leaves (iommu_pgsize: GENMASK(__fls(size), 0) leaves only the granule, and the next size's
  // offset_end = offset + pgsize_next > size, so count = size >> granule's shift), one call of
  // iommu_pgsize in the kernel and one bulk step here. Most map calls of fragmented memory.
  const nextSize = nextPageSize(bitmap, granule);
  const granuleBit = log2Pow2(granule);
  const granuleLevel = levelOf[granuleBit];
  for (let m = 0; m < lay.nmaps; m++) {
    let iova = base + lay.mapOff[m];
    let left = lay.mapLen[m];
    if (left < nextSize) {
      leaves[granuleBit] += left / granule;
      tables += countTables(geo, granuleLevel, iova, left, lastWindow);
      continue;
    }
    let paddr = lay.mapPhys[m];
    while (left > 0) {
      iommuPgsizeInto(bitmap, iova, paddr, left, choice);
      const bytes = choice.pgsize * choice.count;
      const bit = log2Pow2(choice.pgsize);
      leaves[bit] += choice.count;
      const level = levelOf[bit];
      if (level > topLevel) topLevel = level;
      tables += countTables(geo, level, iova, bytes, lastWindow);
      iova += bytes;
      paddr += bytes;
      left -= bytes;
    }
  }
  // A dynamic top (generic_pt increase_top) grows only as far as the highest IOVA needs: the
  // full geometry above counted one table for each level above it. Each root it added links the
  // previous one at index 0, so the tables of window 0 from the starting top up exist even when
  // this mapping does not touch them.
  const last = base + lay.total - 1;
  while (topLevel < format.levels && last >= geo.entry[topLevel] * 2 ** format.bitsPerLevel) topLevel++;
  tables -= format.levels - topLevel;
  for (let k = format.startLevels; k < topLevel; k++) if (base >= geo.cover[k]) tables++;
  const sizes: { size: number; count: number }[] = [];
  let leafTotal = 0;
  for (let b = 0; b < 64; b++) {
    if (leaves[b] === 0) continue;
    sizes.push({ size: 2 ** b, count: leaves[b] });
    leafTotal += leaves[b];
  }
  return {
    ...emptyCost(label, placement),
    leaves: sizes,
    leafTotal,
    tablePages: tables,
    iotlbEntries: leafTotal,
  };
}

/** log2 of a power of two below 2^53 with clz32 (Math.log2 is a call into the C library). O(1). */
function log2Pow2(x: number): number {
  return x < 0x100000000 ? 31 - Math.clz32(x) : 63 - Math.clz32(x / 0x100000000);
}

/** The smallest size in `bitmap` above `granule`, or Infinity when there is none. O(bits). */
function nextPageSize(bitmap: number, granule: number): number {
  for (let s = granule * 2; s <= bitmap; s *= 2) if (pgsizeHas(bitmap, s)) return s;
  return Number.POSITIVE_INFINITY;
}

/** The cost of no runs under one configuration and placement. O(1). */
function emptyCost(label: string, placement: "kernel" | "congruent"): IommuCost {
  return {
    bitmap: label,
    placement,
    placementLabel: PLACEMENT_LABEL[placement],
    leaves: [],
    leafTotal: 0,
    tablePages: 0,
    iotlbEntries: 0,
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

/** The level a leaf of `pgsize` sits at: the largest entry size not above it. O(levels). */
function leafLevel(g: TableGeometry, pgsize: number): number {
  let level = 1;
  while (level < g.levels && g.entry[level + 1] <= pgsize) level++;
  return level;
}

/** New table pages needed for leaves at `level` covering [iova, iova + bytes). O(levels). */
function countTables(
  g: TableGeometry,
  level: number,
  iova: number,
  bytes: number,
  last: Float64Array,
): number {
  // Inside the window of the last level-`level` table: every level above holds that window too
  // (the IOVA only grows and each level's window contains the ones below it, so a leaf of a
  // higher level between the two would have left the window), so no table is new: two divisions
  // instead of a pass over the levels, for most leaves.
  const w = Math.floor(iova / g.cover[level]);
  if (w === last[level] && Math.floor((iova + bytes - 1) / g.cover[level]) === w) return 0;
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
 * IOMMU costs of the runs for every configuration a kernel with `pageSize` pages can use
 * ({@link iommuConfigs}) and both placements. O(runs x configurations x levels).
 * @param runs validated runs.
 * @param pageSize the kernel's PAGE_SIZE the memory was read with (default 4096).
 * @returns kernel and congruent (phyr design) costs per configuration, in that order.
 * @throws RangeError for a page size no kernel uses.
 */
export function iommuCosts(runs: RunsInput, pageSize = PAGE_SIZE): IommuCost[] {
  const out: IommuCost[] = [];
  // One dma_map_sg layout per granule, shared by every format and placement using it (the
  // 4 KiB formats all do): the runs are turned into segments and laid out once, not four times.
  const segs = runs.count === 0 ? undefined : runSegments(runs);
  const layouts = new Map<number, SgLayout>();
  // One candidate array for every congruent placement.
  const scratch = segs === undefined ? undefined : new Int32Array(segs.n);
  for (const c of iommuConfigs(pageSize)) {
    const f = ioPgtableFormat(c.format);
    if (segs === undefined) {
      out.push(emptyCost(c.label, "kernel"), emptyCost(c.label, "congruent"));
      continue;
    }
    const granule = minPageSize(f.pgsizeBitmap);
    let lay = layouts.get(granule);
    if (lay === undefined) {
      lay = iommuDmaSgLayout(segs, granule, PCI_SEG_BOUNDARY_MASK);
      layouts.set(granule, lay);
    }
    for (const placement of ["kernel", "congruent"] as const)
      out.push(layoutCost(segs, lay, f, placement, c.label, scratch));
  }
  return out;
}
