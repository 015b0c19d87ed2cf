/**
 * Per-buffer analysis: pages, runs, run-length histogram, bytes in every representation of
 * formats/, IOMMU costs, RDMA translation entries and NVMe descriptors; and the sum over buffers.
 */

import { hex, PAGE_SIZE, VFIO_BATCH_MAX_CAPACITY } from "../core/index.js";
import { FORMATS } from "../formats/index.js";
import { mergeRdmaCosts, nvmeCost, rdmaCosts } from "./device-cost.js";
import { iommuCosts } from "./iommu-cost.js";
import type { BackingPages, BufferAnalysis, IommuCost, VfioWork } from "./output.js";
import { encodeMergedRuns, RUN_MAP_KINDS } from "./run-map.js";
import {
  checkRuns,
  countPages,
  forEachVaGroup,
  type MergedRuns,
  mergeContiguousRuns,
  mergeHistogram,
  runHistogram,
  runsToList,
} from "./runs.js";
import type { BufferInput, RunsInput } from "./types.js";

/** Options of {@link analyzeBuffer}. */
export interface BufferAnalysisOptions {
  /**
   * Include the run map (default true): what the HTML report's memory map and the `--json` output
   * carry. A terminal summary does not show it, and for a million runs it is tens of megabytes.
   */
  runMap?: boolean;
}

/**
 * Analyses one buffer: runs are first merged where virtual and physical pages both continue
 * ({@link mergeContiguousRuns}). O(runs x (formats + IOMMU configurations)).
 * @param input the buffer's runs and identity.
 * @param opts whether to include the run map.
 * @returns the analysis (plain data).
 * @throws RangeError when the runs are malformed (see {@link checkRuns}).
 */
export function analyzeBuffer(input: BufferInput, opts: BufferAnalysisOptions = {}): BufferAnalysis {
  checkRuns(input.runs);
  const runs = mergeContiguousRuns(input.runs);
  const list = runsToList(runs);
  const out: BufferAnalysis = {
    label: input.label,
    pid: input.pid,
    comm: input.comm,
    vaStart: hex(input.vaStart),
    vaLength: input.vaLength,
    pages: countPages(runs),
    runs: runs.count,
    swapped: input.swapped,
    unmapped: input.unmapped,
    histogram: runHistogram(runs),
    formats: FORMATS.map((f) => ({ name: f.name, bytes: list.nents === 0 ? 0 : f.bytesFor(list) })),
    iommu: iommuCosts(runs),
    rdma: rdmaCosts(runs, list),
    nvme: nvmeCost(runs),
    backing: backingPages(runs),
    vfio: vfioWork(runs),
  };
  if (opts.runMap !== false) out.runMap = encodeMergedRuns(runs);
  return out;
}

/** Present pages by backing (the merged runs' kinds). O(runs). */
export function backingPages(runs: MergedRuns): BackingPages {
  const by = new Float64Array(RUN_MAP_KINDS.length);
  for (let i = 0; i < runs.count; i++) by[runs.kind[i]] += runs.npages[i];
  return { unknown: by[0], base: by[1], thp: by[2], hugetlb: by[3], zero: by[4], mixed: by[5] };
}

/**
 * VFIO type1 work of pinning the runs (what-if.ts): one registration per VA-contiguous group of
 * runs and ceil(pages / VFIO_BATCH_MAX_CAPACITY) pin batches in each. O(runs).
 */
export function vfioWork(runs: RunsInput): VfioWork {
  let registrations = 0;
  let pinBatches = 0;
  forEachVaGroup(runs, (_from, _to, vaStart, vaEnd) => {
    registrations++;
    pinBatches += Math.ceil((vaEnd - vaStart) / PAGE_SIZE / VFIO_BATCH_MAX_CAPACITY);
  });
  return { registrations, pinBatches };
}

/**
 * Sums analyses: pages, runs, histograms, format bytes, IOMMU leaves and tables
 * (each buffer is a separate mapping, so sums are what all of them cost together).
 * O(buffers x fields).
 * @param buffers per-buffer analyses.
 * @returns a `total` analysis (label "total", pid -1, nvme null).
 */
export function sumBuffers(buffers: readonly BufferAnalysis[]): BufferAnalysis {
  const t: BufferAnalysis = {
    label: "total",
    pid: -1,
    comm: "",
    vaStart: hex(0),
    vaLength: 0,
    pages: 0,
    runs: 0,
    swapped: 0,
    unmapped: 0,
    histogram: { runs: [], bytes: [] },
    formats: FORMATS.map((f) => ({ name: f.name, bytes: 0 })),
    iommu: [],
    rdma: [],
    nvme: null,
    backing: { unknown: 0, base: 0, thp: 0, hugetlb: 0, zero: 0, mixed: 0 },
    vfio: { registrations: 0, pinBatches: 0 },
  };
  for (const b of buffers) {
    for (const k of Object.keys(t.backing) as (keyof BackingPages)[]) t.backing[k] += b.backing[k];
    t.vfio.registrations += b.vfio.registrations;
    t.vfio.pinBatches += b.vfio.pinBatches;
    t.vaLength += b.vaLength;
    t.pages += b.pages;
    t.runs += b.runs;
    t.swapped += b.swapped;
    t.unmapped += b.unmapped;
    mergeHistogram(t.histogram, b.histogram);
    for (const f of b.formats) {
      const tf = t.formats.find((x) => x.name === f.name);
      if (tf) tf.bytes += f.bytes;
    }
    for (const c of b.iommu) mergeIommu(t.iommu, c);
    t.rdma = mergeRdmaCosts(t.rdma, b.rdma);
  }
  return t;
}

function mergeIommu(into: IommuCost[], c: IommuCost): void {
  let t = into.find((x) => x.bitmap === c.bitmap && x.placement === c.placement);
  if (!t) {
    t = {
      bitmap: c.bitmap,
      placement: c.placement,
      placementLabel: c.placementLabel,
      leaves: [],
      leafTotal: 0,
      tablePages: 0,
      iotlbEntries: 0,
    };
    into.push(t);
  }
  for (const l of c.leaves) {
    const tl = t.leaves.find((x) => x.size === l.size);
    if (tl) tl.count += l.count;
    else t.leaves.push({ size: l.size, count: l.count });
  }
  t.leaves.sort((a, b) => a.size - b.size);
  t.leafTotal += c.leafTotal;
  t.tablePages += c.tablePages;
  t.iotlbEntries += c.iotlbEntries;
}
