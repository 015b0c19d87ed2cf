/**
 * "What if" for the buffers that were read: for the largest buffers, what today's kernel and the
 * range-list design would each do to hand that memory to a device, computed from the buffer's own
 * runs (not from the fixed model scenarios of `phyr simulate`):
 *
 * - VFIO type1 (kernel way, drivers/vfio/vfio_iommu_type1.c vfio_pin_map_dma()): every page is
 *   pinned one by one (vfio_pin_pages_remote() refills a batch of VFIO_BATCH_MAX_CAPACITY = 512
 *   page pointers with one pin_user_pages_remote() call per batch) and iommu_map() is called once
 *   per physically contiguous run it assembles; versus range pinning (design, as the subsys/
 *   IommufdIoas model): one range pin call per registration returning one entry per run, and one
 *   map call for the list.
 * - RDMA (drivers/infiniband/core/umem.c ib_umem_find_best_pgsz()): MTT entries at each
 *   registration's best page size against 4 KiB entries, with the registration count.
 * - NVMe (drivers/nvme/host/pci.c nvme_pci_setup_data_prp() / nvme_pci_setup_data_sgl()): PRP
 *   entries against SGL descriptors for one I/O of the buffer's first bytes.
 *
 * A registration is a VA-contiguous group of runs (one VFIO_IOMMU_MAP_DMA or ib_umem_get each).
 */

import type { BufferAnalysis } from "./output.js";

/** How many of the largest buffers the what-if section covers. */
export const WHAT_IF_BUFFERS = 5;

/** Pin and map work of one way of mapping a buffer for a device. */
export interface PinMapWork {
  /** Pages pinned one at a time (kernel) or entries returned by range pins (design). */
  pinOps: number;
  /** pin_user_pages_remote() batches (kernel) or range pin calls (design). */
  pinCalls: number;
  /** iommu_map() calls. */
  iommuMaps: number;
}

/** The what-if numbers of one buffer, kernel way next to the design. */
export interface WhatIfRow {
  label: string;
  pid: number;
  comm: string;
  pages: number;
  runs: number;
  /** VA-contiguous groups of runs (one MAP_DMA / ib_umem_get each). */
  registrations: number;
  vfio: { kernel: PinMapWork; design: PinMapWork };
  /** First RDMA bitmap of the buffer (4K|2M|1G): MTT entries at the best size vs at 4 KiB. */
  rdma: { bitmap: string; entries: number; entries4k: number } | null;
  /** One I/O of the buffer's first bytes: PRP entries vs SGL descriptors. */
  nvme: { ioBytes: number; prpEntries: number; sglDescriptors: number } | null;
}

/**
 * The what-if rows of the largest buffers (by pages), from each buffer's figures (no run data
 * needed). O(buffers log buffers).
 * @param buffers the analysed buffers.
 * @param limit how many buffers (default {@link WHAT_IF_BUFFERS}).
 * @returns one row per buffer with pages, largest first (empty when no buffer has pages).
 */
export function whatIf(buffers: readonly BufferAnalysis[], limit = WHAT_IF_BUFFERS): WhatIfRow[] {
  return [...buffers]
    .filter((b) => b.pages > 0)
    .sort((x, y) => y.pages - x.pages)
    .slice(0, limit)
    .map(whatIfRow);
}

function whatIfRow(b: BufferAnalysis): WhatIfRow {
  const { registrations, pinBatches: batches } = b.vfio;
  const r = b.rdma[0];
  return {
    label: b.label,
    pid: b.pid,
    comm: b.comm,
    pages: b.pages,
    runs: b.runs,
    registrations,
    vfio: {
      kernel: { pinOps: b.pages, pinCalls: batches, iommuMaps: b.runs },
      design: { pinOps: b.runs, pinCalls: registrations, iommuMaps: registrations },
    },
    rdma: r ? { bitmap: r.bitmap, entries: r.entries, entries4k: r.entries4k } : null,
    nvme: b.nvme
      ? { ioBytes: b.nvme.ioBytes, prpEntries: b.nvme.prpEntries, sglDescriptors: b.nvme.sglDescriptors }
      : null,
  };
}
