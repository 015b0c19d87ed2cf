/**
 * Per-buffer analysis: pages, runs, run-length histogram, bytes in every representation of
 * formats/, IOMMU costs, RDMA translation entries and NVMe descriptors; and the sum over buffers.
 */

import { hex } from "../core/index.js";
import { FORMATS } from "../formats/index.js";
import { mergeRdmaCosts, nvmeCost, rdmaCosts } from "./device-cost.js";
import { iommuCosts } from "./iommu-cost.js";
import type { BufferAnalysis, IommuCost } from "./output.js";
import { encodeMergedRuns } from "./run-map.js";
import {
  checkRuns,
  countPages,
  mergeContiguousRuns,
  mergeHistogram,
  runHistogram,
  runsToList,
} from "./runs.js";
import type { BufferInput } from "./types.js";

/**
 * Analyses one buffer: runs are first merged where virtual and physical pages both continue
 * ({@link mergeContiguousRuns}). O(runs x (formats + IOMMU configurations)).
 * @param input the buffer's runs and identity.
 * @returns the analysis (plain data).
 * @throws RangeError when the runs are malformed (see {@link checkRuns}).
 */
export function analyzeBuffer(input: BufferInput): BufferAnalysis {
  checkRuns(input.runs);
  const runs = mergeContiguousRuns(input.runs);
  const list = runsToList(runs);
  return {
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
    runMap: encodeMergedRuns(runs),
  };
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
  };
  for (const b of buffers) {
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
