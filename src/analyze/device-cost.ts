/**
 * Device-side costs of a buffer: RDMA memory-registration translation entries at the best page
 * size (drivers/infiniband/core/umem.c ib_umem_find_best_pgsz, via subsys/) and NVMe descriptors
 * for one 1 MiB I/O (drivers/nvme/host/pci.c nvme_pci_setup_prps / nvme_pci_setup_sgls, via
 * subsys/). DMA addresses are the physical addresses (no IOMMU: dma-direct identity).
 */

import { PAGE_SIZE } from "../core/index.js";
import { PhyrList, type PhyrRead } from "../phyr/index.js";
import { nvmeSetupPrps, nvmeSetupSgls, umemFindBestPgsz, umemNumDmaBlocks } from "../subsys/index.js";
import type { NvmeCost, RdmaCost } from "./output.js";
import { forEachVaGroup } from "./runs.js";
import type { RunsInput } from "./types.js";

/** RDMA device page-size bitmaps the analysis reports. */
export const RDMA_CONFIGS: readonly { label: string; bitmap: number }[] = [
  { label: "4K|2M|1G", bitmap: 0x1000 + 0x200000 + 0x40000000 },
  { label: "any 4K..1G", bitmap: 2 ** 31 - 2 ** 12 },
];

/** NVMe I/O size the descriptor counts are for. */
export const NVME_IO_BYTES = 1024 * 1024;

/**
 * RDMA cost: every VA-contiguous group of runs is one memory registration (ib_umem_get of that
 * range); entries are summed over registrations, the registrations are counted, and each
 * registration's best page size is tallied (a sum over registrations can have a small "smallest
 * best page" and still few entries: most registrations may use large pages). O(runs x configurations);
 * one PhyrList per registration, none when `whole` is given and one registration covers every run
 * (a buffer without holes, the usual case).
 * @param runs validated runs.
 * @param whole the runs as one list (runs.ts runsToList of `runs`), reused for such a registration.
 * @returns one cost per {@link RDMA_CONFIGS} entry (empty for no runs).
 */
export function rdmaCosts(runs: RunsInput, whole?: PhyrRead): RdmaCost[] {
  if (runs.count === 0) return [];
  const out: RdmaCost[] = RDMA_CONFIGS.map((c) => ({
    bitmap: c.label,
    pageSize: 0,
    registrations: 0,
    bestPageSizes: [],
    entries: 0,
    entries4k: 0,
  }));
  forEachVaGroup(runs, (first, i, va, end) => {
    const mr = first === 0 && i === runs.count && whole !== undefined ? whole : registration(runs, first, i);
    RDMA_CONFIGS.forEach((c, j) => {
      const pg = umemFindBestPgsz(mr, c.bitmap, va);
      const o = out[j];
      o.registrations++;
      addBestSize(o.bestPageSizes, pg, 1);
      if (pg > 0) {
        o.pageSize = o.pageSize === 0 ? pg : Math.min(o.pageSize, pg);
        o.entries += umemNumDmaBlocks(va, end - va, pg);
      }
      o.entries4k += umemNumDmaBlocks(va, end - va, PAGE_SIZE);
    });
  });
  return out;
}

/** The DMA segments of runs [from, to) as a new list. O(to - from). */
function registration(runs: RunsInput, from: number, to: number): PhyrList {
  const mr = new PhyrList();
  for (let k = from; k < to; k++) mr.append(runs.pfn[k] * PAGE_SIZE, runs.npages[k] * PAGE_SIZE);
  return mr;
}

/**
 * NVMe descriptors for one I/O of the buffer's first min(1 MiB, buffer) present bytes, both as
 * PRPs and as SGLs. O(pages of the I/O).
 * @param runs validated runs.
 * @returns the cost, or null for no runs.
 */
export function nvmeCost(runs: RunsInput): NvmeCost | null {
  if (runs.count === 0) return null;
  const io = new PhyrList();
  let left = NVME_IO_BYTES;
  for (let i = 0; i < runs.count && left > 0; i++) {
    const len = Math.min(left, runs.npages[i] * PAGE_SIZE);
    io.append(runs.pfn[i] * PAGE_SIZE, len);
    left -= len;
  }
  const prp = nvmeSetupPrps(io);
  const sgl = nvmeSetupSgls(io);
  return {
    ioBytes: io.totalBytes,
    prpEntries: prp.descriptors,
    prpChains: prp.chains,
    prpListBytes: prp.listBytes,
    sglDescriptors: sgl.descriptors,
    sglBytes: sgl.descriptorBytes,
    sglListBytes: sgl.listBytes,
  };
}

/**
 * Sums RDMA costs of separate buffers per bitmap (page size: the smallest non-zero). O(configs).
 * @param a running total (may be empty).
 * @param b costs to add.
 * @returns the new total.
 */
export function mergeRdmaCosts(a: readonly RdmaCost[], b: readonly RdmaCost[]): RdmaCost[] {
  const out = a.map((x) => ({ ...x, bestPageSizes: x.bestPageSizes.map((b) => ({ ...b })) }));
  for (const c of b) {
    const t = out.find((x) => x.bitmap === c.bitmap);
    if (!t) out.push({ ...c, bestPageSizes: c.bestPageSizes.map((b) => ({ ...b })) });
    else {
      if (c.pageSize > 0) t.pageSize = t.pageSize === 0 ? c.pageSize : Math.min(t.pageSize, c.pageSize);
      t.registrations += c.registrations;
      for (const b of c.bestPageSizes) addBestSize(t.bestPageSizes, b.size, b.registrations);
      t.entries += c.entries;
      t.entries4k += c.entries4k;
    }
  }
  return out;
}

/** Counts `n` registrations whose best page size is `size`, keeping sizes ascending. O(sizes). */
function addBestSize(into: { size: number; registrations: number }[], size: number, n: number): void {
  const e = into.find((x) => x.size === size);
  if (e) e.registrations += n;
  else {
    into.push({ size, registrations: n });
    into.sort((a, b) => a.size - b.size);
  }
}
