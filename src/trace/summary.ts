/**
 * Per-device summary of a trace: what the kernel did (traced) beside what the phyr design would
 * have built for the same physical ranges (model). Plain JSON-able data: the `phyr trace --json`
 * document and the report's trace section.
 *
 * Kernel side (traced): map calls by kind, scatterlist entries in (`nents`), DMA segments out
 * (`ents`, one per dma_map_phys), bytes mapped, scatterlist bytes the callers filled
 * (sizeof(struct scatterlist) = 32 on x86-64, include/linux/scatterlist.h, per entry passed in),
 * iommu:map calls and their leaves by size (each call split as __iommu_map() does, with
 * drivers/iommu/iommu.c iommu_pgsize() over the domain's page sizes), swiotlb bounces.
 * Design side (model): one range list per mapping (coalesced physical ranges; bytes as phyr16,
 * struct phys_vec of 16 B), one IOVA per list, one range iommu_map per list at the congruent
 * placement (analyze/iommu-cost.ts iommuCost, "congruent"), for the devices that used the IOMMU.
 */

import type { LeafCount } from "../analyze/index.js";
import { iommuCost } from "../analyze/index.js";
import { PAGE_SIZE } from "../core/index.js";
import { phyr16Format, SG_ENTRY_BYTES } from "../formats/index.js";
import {
  type IoPgtableFormatName,
  iommuPgsizeInto,
  ioPgtableFormat,
  type PgsizeChoice,
} from "../iommu/index.js";
import { PhyrBuilder, type PhyrList } from "../phyr/index.js";
import type { ParsedTrace } from "./parse-types.js";
import { type DeviceWalk, type TracedMapping, walkTrace } from "./summary-walk.js";

/** What the kernel did for one device, as traced. */
export interface TraceKernelSide {
  /** DMA map calls: dma_map_sg; dma_map_phys (7.x); dma_map_page (6.x); MMIO (dma_map_resource or attrs MMIO); coherent allocations. */
  mapCalls: { sg: number; phys: number; page: number; resource: number; alloc: number };
  /** Runs of iommu:map calls with no dma: event: requests mapped through the two-step IOVA API (7.x). */
  iovaRuns: number;
  /** Scatterlist entries passed to dma_map_sg (full `nents`, also past the 128 traced). */
  sgEntriesIn: number;
  /** DMA segments returned: dma_map_sg `ents` plus one per single map. */
  dmaSegmentsOut: number;
  /** Bytes mapped (sum of DMA segment lengths; see `partialBytesCalls`). */
  bytesMapped: number;
  /** Bytes of struct scatterlist the callers filled: 32 x sgEntriesIn. */
  scatterlistBytes: number;
  /** dma_map_sg calls printed `[TRUNCATED]` (more than 128 entries or segments). */
  truncatedCalls: number;
  /** dma_map_sg calls with more than 128 segments: bytesMapped counts only their first 128. */
  partialBytesCalls: number;
  /** IOVA allocations: mappings (coherent ones included) that made iommu:map calls (one iommu_dma_alloc_iova / dma_iova_try_alloc each). */
  iovaAllocs: number;
  /** iommu:map calls attributed to the device. */
  iommuMapCalls: number;
  /** Bytes those calls mapped. */
  iommuBytes: number;
  /** Leaves those calls wrote, by page size (iommu_pgsize split). */
  leaves: LeafCount[];
  /**
   * How the iommu maps were attributed (summary-walk.ts): by the DMA map event that followed them in
   * the same task, by the NVMe command that preceded them, or as the only IOMMU device.
   */
  iommuAttributed: { byEvent: number; nvmeCommand: number; onlyDevice: number };
  /** swiotlb_bounced events and their bytes. */
  bounces: number;
  bounceBytes: number;
}

/** What the phyr design would build for the same physical ranges (model). */
export interface TraceDesignSide {
  /**
   * Range lists: one per NVMe request (all its mappings together), else one per kernel mapping,
   * whose physical ranges the trace tells; coherent allocations have none.
   */
  lists: number;
  /** Requests or mappings whose physical ranges the trace does not tell (not modelled). */
  listsUnknown: number;
  /** Entries of those lists after coalescing contiguous ranges. */
  rangeEntries: number;
  /** Bytes of those lists as phyr16 (struct phys_vec, 16 B per entry). */
  rangeListBytes: number;
  /** Lists built from granule-aligned IOMMU ranges (exact bytes not traced). */
  listsGranuleAligned: number;
  /** IOVA allocations: one per list, for a device behind the IOMMU; 0 otherwise. */
  iovas: number;
  /** iommu_map calls: one range map per list, for a device behind the IOMMU. */
  iommuMapCalls: number;
  /** Leaves of those maps at the congruent IOVA placement, by page size. */
  leaves: LeafCount[];
}

/** One device's row. */
export interface TraceDeviceSummary {
  /** dev_name() as traced (untrusted text). */
  device: string;
  /** True when the device used the IOMMU in this trace (see summary-walk.ts). */
  iommu: boolean;
  kernel: TraceKernelSide;
  design: TraceDesignSide;
}

/** The whole summary. */
export interface TraceSummary {
  /** Events read, lines skipped as malformed, events the kernel lost. */
  events: number;
  malformed: number;
  lost: number;
  /** Events of each system that matter here. */
  dmaEvents: number;
  iommuEvents: number;
  swiotlbEvents: number;
  markers: number;
  /** False when the trace holds no dma:, iommu: or swiotlb: event: no device used the DMA API. */
  usesDmaApi: boolean;
  /** One line that says what the trace shows (or that it shows no DMA API use). */
  message: string;
  /** IOMMU page sizes the leaves are split with. */
  pgtable: IoPgtableFormatName;
  devices: TraceDeviceSummary[];
  /** iommu:map calls no device could be named for (several IOMMU devices, no following DMA event). */
  unattributed: { iommuMapCalls: number; iommuBytes: number };
  /** Departures and limits that apply to these numbers. */
  notes: string[];
}

/** Options of {@link summarizeTrace}. */
export interface TraceSummaryOptions {
  /** Page-table format whose page sizes split the leaves (default `x86-4level`: 4K|2M|1G, VT-d). */
  pgtable?: IoPgtableFormatName;
}

function addLeaves(into: Map<number, number>, leaves: readonly LeafCount[]): void {
  for (const l of leaves) into.set(l.size, (into.get(l.size) ?? 0) + l.count);
}

function leafList(m: Map<number, number>): LeafCount[] {
  return [...m.keys()].sort((a, b) => a - b).map((size) => ({ size, count: m.get(size) ?? 0 }));
}

/**
 * The mappings one design list each covers: all the I/O mappings of one NVMe request together
 * (dma-direct maps a 7.x request segment by segment), any other mapping alone; coherent
 * allocations are left out. Order kept. O(mappings).
 */
function designGroups(mappings: readonly TracedMapping[]): TracedMapping[][] {
  const out: TracedMapping[][] = [];
  const byRequest = new Map<number, TracedMapping[]>();
  for (const m of mappings) {
    if (m.coherent) continue;
    if (m.request < 0) {
      out.push([m]);
      continue;
    }
    let g = byRequest.get(m.request);
    if (g === undefined) {
      g = [];
      byRequest.set(m.request, g);
      out.push(g);
    }
    g.push(m);
  }
  return out;
}

/** The coalesced list of the mappings' ranges, or null when a range is outside 2^52. */
function rangeList(group: readonly TracedMapping[]): PhyrList | null {
  const b = new PhyrBuilder({ merge: true });
  try {
    for (const m of group) for (const [a, l] of m.ranges) if (l > 0) b.add(a, l);
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
  return b.finish();
}

/** The list as page runs (RunsInput of analyze/), for iommuCost. O(entries). */
function pageRuns(list: PhyrList): { count: number; va: number[]; pfn: number[]; npages: number[] } {
  const pfn: number[] = [];
  const npages: number[] = [];
  const va: number[] = [];
  let v = 0;
  list.forEachEntry((addr, len) => {
    const first = Math.floor(addr / PAGE_SIZE);
    const n = Math.ceil((addr + len) / PAGE_SIZE) - first;
    const last = pfn.length - 1;
    if (last >= 0 && pfn[last] + npages[last] === first) npages[last] += n;
    else {
      pfn.push(first);
      npages.push(n);
      va.push(v);
    }
    v += n * PAGE_SIZE;
  });
  return { count: pfn.length, va, pfn, npages };
}

function deviceSummary(d: DeviceWalk, fmtName: IoPgtableFormatName): TraceDeviceSummary {
  const fmt = ioPgtableFormat(fmtName);
  const kLeaves = new Map<number, number>();
  const choice: PgsizeChoice = { pgsize: 0, count: 0 };
  let iommuMapCalls = 0;
  let iommuBytes = 0;
  for (const m of d.mappings) {
    for (const call of m.iommu) {
      iommuMapCalls++;
      iommuBytes += call.size;
      // drivers/iommu/iommu.c __iommu_map(): while (size) { pgsize = iommu_pgsize(...); map_pages(pgsize, count) }
      let iova = call.iova;
      let paddr = call.paddr;
      let left = call.size;
      while (left > 0) {
        iommuPgsizeInto(fmt.pgsizeBitmap, iova, paddr, left, choice);
        const bytes = choice.pgsize * choice.count;
        kLeaves.set(choice.pgsize, (kLeaves.get(choice.pgsize) ?? 0) + choice.count);
        iova += bytes;
        paddr += bytes;
        left -= bytes;
      }
    }
  }
  const design: TraceDesignSide = {
    lists: 0,
    listsUnknown: 0,
    rangeEntries: 0,
    rangeListBytes: 0,
    listsGranuleAligned: 0,
    iovas: 0,
    iommuMapCalls: 0,
    leaves: [],
  };
  const dLeaves = new Map<number, number>();
  for (const group of designGroups(d.mappings)) {
    const list = group.some((m) => m.ranges.length === 0) ? null : rangeList(group);
    if (list === null || list.nents === 0) {
      design.listsUnknown++;
      continue;
    }
    design.lists++;
    design.rangeEntries += list.nents;
    design.rangeListBytes += phyr16Format.bytesFor(list);
    if (group.some((m) => m.granuleAligned)) design.listsGranuleAligned++;
    if (d.usesIommu) {
      design.iovas++;
      design.iommuMapCalls++;
      addLeaves(dLeaves, iommuCost(pageRuns(list), fmt, "congruent", fmtName).leaves);
    }
  }
  design.leaves = leafList(dLeaves);
  return {
    device: d.device,
    iommu: d.usesIommu,
    kernel: {
      mapCalls: { ...d.mapCalls },
      iovaRuns: d.iovaRuns,
      sgEntriesIn: d.sgEntriesIn,
      dmaSegmentsOut: d.dmaSegmentsOut,
      bytesMapped: d.bytesMapped,
      scatterlistBytes: SG_ENTRY_BYTES * d.sgEntriesIn,
      truncatedCalls: d.truncatedCalls,
      partialBytesCalls: d.partialBytesCalls,
      iovaAllocs: d.mappings.filter((m) => m.iommu.length > 0).length,
      iommuMapCalls,
      iommuBytes,
      leaves: leafList(kLeaves),
      iommuAttributed: {
        byEvent: d.iommuByEvent,
        nvmeCommand: d.iommuByNvmeCommand,
        onlyDevice: d.iommuByOnlyDevice,
      },
      bounces: d.bounces,
      bounceBytes: d.bounceBytes,
    },
    design,
  };
}

/** The one-line message for a trace with no DMA API use. */
export const NO_DMA_API_MESSAGE =
  "no device used the DMA API in this trace (no dma:, iommu: or swiotlb: events): its devices map memory another way (virtio without VIRTIO_F_ACCESS_PLATFORM uses guest-physical addresses directly) or did no I/O";

/**
 * Summarises a parsed trace per device, kernel (traced) beside design (model).
 * Cost: O(events + array entries + ranges x page sizes).
 * @param trace the parsed trace.
 * @param opts the page-table format for leaf sizes.
 * @returns the summary (devices sorted by name).
 * @throws RangeError for an unknown page-table format name.
 */
export function summarizeTrace(trace: ParsedTrace, opts: TraceSummaryOptions = {}): TraceSummary {
  const pgtable = opts.pgtable ?? "x86-4level";
  ioPgtableFormat(pgtable);
  const w = walkTrace(trace.events);
  const devices = [...w.devices.values()]
    .sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0))
    .map((d) => deviceSummary(d, pgtable));
  const usesDmaApi = w.dmaEvents + w.iommuEvents + w.swiotlbEvents > 0;
  const notes: string[] = [];
  if (trace.lost > 0)
    notes.push(`the kernel lost ${trace.lost} events (ring buffer overrun): counts are low`);
  if (trace.malformed > 0) notes.push(`${trace.malformed} malformed lines were skipped`);
  if (devices.some((d) => d.kernel.truncatedCalls > 0)) {
    notes.push(
      "dma_map_sg traces at most 128 entries (DMA_TRACE_MAX_ENTRIES): truncated calls keep their full counts",
    );
  }
  if (devices.some((d) => d.design.listsGranuleAligned > 0)) {
    notes.push("design lists of merged or IOVA-API mappings use the granule-aligned ranges the IOMMU mapped");
  }
  const unBytes = w.unattributed.reduce((s, m) => s + m.size, 0);
  if (w.unattributed.length > 0) {
    notes.push(`${w.unattributed.length} iommu:map calls could not be attributed to one device`);
  }
  const n = devices.length;
  const message = usesDmaApi
    ? `${n} device${n === 1 ? "" : "s"} used the DMA API in this trace (${w.dmaEvents} dma:, ${w.iommuEvents} iommu:, ${w.swiotlbEvents} swiotlb: events)`
    : NO_DMA_API_MESSAGE;
  return {
    events: trace.events.length,
    malformed: trace.malformed,
    lost: trace.lost,
    dmaEvents: w.dmaEvents,
    iommuEvents: w.iommuEvents,
    swiotlbEvents: w.swiotlbEvents,
    markers: w.markers,
    usesDmaApi,
    message,
    pgtable,
    devices,
    unattributed: { iommuMapCalls: w.unattributed.length, iommuBytes: unBytes },
    notes,
  };
}
