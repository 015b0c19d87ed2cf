/**
 * RDMA memory registration of a user buffer (drivers/infiniband/core/umem.c ib_umem_get,
 * ib_umem_find_best_pgsz; umem_odp.c): pin, DMA-map for the HCA, pick the page size and count the
 * translation (MTT) entries. The baseline is the per-page pin of ib_umem_get before pin-to-ranges
 * (page array, one sg entry per run) with an ODP-style fixed page size.
 */
import { type DmaDevice, type DmaMapping, type DmaSystem, dmaMap, dmaUnmap } from "../dma/index.js";
import { type AddressSpace, pinUserRange, unpinPhyrs } from "../mm/index.js";
import type { PhyrList } from "../phyr/index.js";
import { RdmaError } from "./errors.js";
import { umemFindBestPgsz, umemNumDmaBlocks } from "./rdma-pgsz.js";

/** A registered memory region. */
export interface MemoryRegion {
  va: number;
  length: number;
  /** The pinned ranges. */
  pinned: PhyrList;
  /** The HCA's DMA ranges. */
  dma: DmaMapping;
  /** Chosen page size. */
  pgsz: number;
  /** MTT entries (ib_umem_num_dma_blocks). */
  mttEntries: number;
}

/**
 * ib_reg_user_mr: pins [va, va+length) FOLL_LONGTERM (FOLL_WRITE when `write`), maps it for `dev`,
 * and picks the best page size from `pgszBitmap`. O(ranges).
 * @throws PinFailed for unpinnable memory (fsdax, PFNMAP, holes) and RdmaError "PGSZ_UNSUPPORTED"
 *   when no page size fits; nothing stays pinned or mapped.
 */
export function ibRegUserMr(
  sys: DmaSystem,
  mm: AddressSpace,
  dev: DmaDevice,
  va: number,
  length: number,
  pgszBitmap: number,
  opts: { write?: boolean } = {},
): MemoryRegion {
  const write = opts.write ?? true;
  const pinned = pinUserRange(mm, va, length, { write, longterm: true });
  let dma: DmaMapping | undefined;
  try {
    dma = dmaMap(sys, dev, pinned, "bidirectional");
    const pgsz = umemFindBestPgsz(dma, pgszBitmap, va);
    if (pgsz === 0)
      throw new RdmaError(
        "PGSZ_UNSUPPORTED",
        `Cannot register ${length} bytes at VA ${va}: no page size in the device's bitmap fits the DMA layout`,
      );
    return { va, length, pinned, dma, pgsz, mttEntries: umemNumDmaBlocks(va, length, pgsz) };
  } catch (e) {
    if (dma) dmaUnmap(sys, dev, dma, "bidirectional");
    unpinPhyrs(mm, pinned);
    throw e;
  }
}

/** ib_dereg_mr: unmaps and unpins (marking pages dirty when registered writable). O(ranges). */
export function ibDeregMr(sys: DmaSystem, mm: AddressSpace, dev: DmaDevice, mr: MemoryRegion): void {
  dmaUnmap(sys, dev, mr.dma, "bidirectional");
  unpinPhyrs(mm, mr.pinned, { dirty: true });
}
