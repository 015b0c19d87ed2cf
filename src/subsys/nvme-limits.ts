/**
 * The queue limits NVMe PCI sets (drivers/nvme/host/pci.c nvme_pci_alloc_dev,
 * nvme_pci_get_virt_boundary; drivers/nvme/host/core.c nvme_set_ctrl_limits, nvme_max_drv_segments;
 * block/blk-settings.c blk_validate_limits), for the release the model follows. O(1) each.
 */
import { hex } from "../core/index.js";
import { blkDefMaxSectorsCap, type QueueLimits, SECTOR_SIZE, UINT_MAX } from "./block-limits.js";
import { DEFAULT_KERNEL_RELEASE, type KernelRelease } from "./kernel-release.js";

/** NVME_MAX_BYTES (7.2) / NVME_MAX_KB_SZ 8192 KiB (6.12): the driver's own cap, 8 MiB. */
export const NVME_MAX_BYTES = 8 * 2 ** 20;

/**
 * NVME_MAX_SEGS: 7.2 `NVME_CTRL_PAGE_SIZE / sizeof(struct nvme_sgl_desc)` = 256, the SGL entries
 * of one descriptor page (no SGL chaining); 6.12: 128.
 */
export function nvmeMaxSegs(release: KernelRelease = DEFAULT_KERNEL_RELEASE): number {
  return release === "6.12" ? 128 : 256;
}

/** What the NVMe queue limits depend on. */
export interface NvmeLimitsInput {
  /** The controller supports SGLs (nvme_ctrl_sgl_supported). */
  sglSupported: boolean;
  /**
   * dma_opt_mapping_size(dev) in bytes: 128 KiB behind dma-iommu, 252 KiB when dma-direct bounces
   * through swiotlb (NVMe's min_align_mask 0xfff), Infinity otherwise (see dma/limits.ts).
   */
  dmaOptMappingSize: number;
  /** The controller's MDTS in bytes (2^MDTS * 4 KiB), or 0 for none. Default 0. */
  mdtsBytes?: number;
  /** Release followed; default "7.2". */
  release?: KernelRelease;
  /** Logical block size of the namespace; default 512. */
  logicalBlockSize?: number;
}

/**
 * max_hw_sectors of an NVMe PCI controller: `min(NVME_MAX_BYTES >> 9, dma_opt_mapping_size >> 9)`
 * (nvme_pci_alloc_dev), then `min_not_zero` with the MDTS (nvme_init_ctrl_finish). O(1).
 * @throws RangeError for a DMA size below one sector or a bad MDTS.
 */
export function nvmeMaxHwSectors(o: NvmeLimitsInput): number {
  if (!(o.dmaOptMappingSize >= SECTOR_SIZE))
    throw new RangeError(
      `dma_opt_mapping_size ${String(o.dmaOptMappingSize)} is invalid: expected at least 512`,
    );
  const mdts = o.mdtsBytes ?? 0;
  if (!Number.isInteger(mdts) || mdts < 0 || (mdts !== 0 && mdts < 4096))
    throw new RangeError(`MDTS ${String(mdts)} bytes is invalid: expected 0 or at least 4096`);
  let s = Math.min(NVME_MAX_BYTES / SECTOR_SIZE, Math.floor(o.dmaOptMappingSize / SECTOR_SIZE));
  if (mdts !== 0) s = Math.min(s, mdts / SECTOR_SIZE);
  return s;
}

/**
 * The NVMe queue limits: max_hw_sectors from {@link nvmeMaxHwSectors}; max_sectors
 * `min(max_hw_sectors, BLK_DEF_MAX_SECTORS_CAP)` (blk_validate_limits); max_segments
 * `min(max_hw_sectors / 8 + 1, NVME_MAX_SEGS)` (nvme_set_ctrl_limits, nvme_max_drv_segments);
 * max_segment_size UINT_MAX; virt_boundary_mask 0 on 7.2 for an SGL-capable controller's I/O queues
 * (nvme_pci_get_virt_boundary: gaps then force SGLs), else NVME_CTRL_PAGE_SIZE - 1. O(1).
 * @throws RangeError as {@link nvmeMaxHwSectors}.
 * @example
 * ```ts
 * // Behind dma-iommu (128 KiB): 256 sectors, 33 segments, no virt boundary with SGLs.
 * nvmeQueueLimits({ sglSupported: true, dmaOptMappingSize: 131072 });
 * // { maxSegments: 33, maxSegmentSize: 4294967295, segBoundaryMask: 4294967295,
 * //   virtBoundaryMask: 0, maxSectors: 256, logicalBlockSize: 512 }
 * ```
 */
export function nvmeQueueLimits(o: NvmeLimitsInput): QueueLimits {
  const release = o.release ?? DEFAULT_KERNEL_RELEASE;
  const hw = nvmeMaxHwSectors(o);
  const lbs = o.logicalBlockSize ?? 512;
  if (hw * SECTOR_SIZE < lbs)
    throw new RangeError(`max_hw_sectors ${hex(hw)} is below the ${lbs}-byte logical block`);
  return {
    maxSegments: Math.min(Math.floor(hw / 8) + 1, nvmeMaxSegs(release)),
    maxSegmentSize: UINT_MAX,
    segBoundaryMask: 0xffffffff,
    virtBoundaryMask: release === "7.2" && o.sglSupported ? 0 : 0xfff,
    maxSectors: Math.min(hw, blkDefMaxSectorsCap(release)),
    logicalBlockSize: lbs,
  };
}
