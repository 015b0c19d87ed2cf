/**
 * The DMA API's size limits as a driver reads them (kernel/dma/mapping.c dma_max_mapping_size /
 * dma_opt_mapping_size; kernel/dma/swiotlb.c swiotlb_max_mapping_size; drivers/iommu/dma-iommu.c
 * iommu_dma_opt_mapping_size; drivers/iommu/iova.c iova_rcache_range). Each is the kernel's rule,
 * as of Linux 7.2 (unchanged since 6.0 for the opt size and 6.9 for the min_align_mask rounding);
 * docs/kernel-fidelity.md lists them. All are O(1).
 */
import { checkCount, hex, PAGE_SIZE } from "../core/index.js";
import { IOVA_RANGE_CACHE_MAX_SIZE } from "../iommu/index.js";
import type { DmaDevice } from "./device.js";
import { IO_TLB_SEGSIZE, IO_TLB_SIZE } from "./swiotlb.js";
import type { DmaSystem } from "./system.js";

/** "No limit" (the kernel's SIZE_MAX), as a JS number above any mapping size. */
export const DMA_SIZE_MAX = Number.POSITIVE_INFINITY;

/**
 * iova_rcache_range() (drivers/iommu/iova.c): `PAGE_SIZE << (IOVA_RANGE_CACHE_MAX_SIZE - 1)`, the
 * largest IOVA size the per-CPU caches serve: 128 KiB with 4 KiB pages. O(1).
 * @param pageSize the kernel's PAGE_SIZE (default 4096).
 * @throws RangeError for a page size that is not a power of two of at least 4 KiB.
 */
export function iovaRcacheRange(pageSize = PAGE_SIZE): number {
  if (!Number.isInteger(pageSize) || pageSize < PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) {
    throw new RangeError(`page size ${String(pageSize)} is invalid: expected a power of two >= 4096`);
  }
  return pageSize * 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1);
}

/**
 * swiotlb_max_mapping_size() (kernel/dma/swiotlb.c): IO_TLB_SIZE * IO_TLB_SEGSIZE = 256 KiB, less
 * `roundup(min_align_mask, IO_TLB_SIZE)` when the device has a min_align_mask, because
 * swiotlb_find_slots() skips slots to keep the offset under the mask. NVMe sets the mask to
 * NVME_CTRL_PAGE_SIZE - 1 (drivers/nvme/host/pci.c nvme_pci_alloc_dev), so its limit is 252 KiB. O(1).
 * @param minAlignMask dma_get_min_align_mask(dev): 0 or 2^k - 1.
 * @throws RangeError for a mask that is not 0 or 2^k - 1 below 2^31.
 */
export function swiotlbMaxMappingSize(minAlignMask: number): number {
  if (
    !Number.isInteger(minAlignMask) ||
    minAlignMask < 0 ||
    minAlignMask >= 2 ** 31 ||
    ((minAlignMask + 1) & minAlignMask) !== 0
  ) {
    throw new RangeError(`min_align_mask ${String(minAlignMask)} is invalid: expected 0 or 2^k - 1`);
  }
  const minAlign = minAlignMask === 0 ? 0 : Math.ceil(minAlignMask / IO_TLB_SIZE) * IO_TLB_SIZE;
  return IO_TLB_SIZE * IO_TLB_SEGSIZE - minAlign;
}

/** How a device maps, for the size limits: through dma-iommu, dma-direct bouncing, or dma-direct. */
export type DmaMappingKind = "iommu" | "swiotlb" | "direct";

/** The limit inputs of one device (what dma_max_mapping_size / dma_opt_mapping_size look at). */
export interface DmaLimitInput {
  /** dma-iommu (a DMA-type domain), dma-direct with bouncing forced or needed, or plain dma-direct. */
  kind: DmaMappingKind;
  /** dma_get_min_align_mask(dev). Default 0. */
  minAlignMask?: number;
  /** The kernel's PAGE_SIZE. Default 4096. */
  pageSize?: number;
}

/**
 * dma_max_mapping_size() (kernel/dma/mapping.c -> dma_direct_max_mapping_size /
 * iommu_dma_max_mapping_size): swiotlb_max_mapping_size() when dma-direct bounces (swiotlb=force
 * or an addressing limit); SIZE_MAX otherwise (a trusted device behind dma-iommu never bounces). O(1).
 */
export function dmaMaxMappingSize(d: DmaLimitInput): number {
  return d.kind === "swiotlb" ? swiotlbMaxMappingSize(d.minAlignMask ?? 0) : DMA_SIZE_MAX;
}

/**
 * dma_opt_mapping_size() (kernel/dma/mapping.c): `min(dma_max_mapping_size(dev), size)` where size
 * is iommu_dma_opt_mapping_size() = iova_rcache_range() behind dma-iommu (128 KiB with 4 KiB
 * pages: IOVAs above it miss the per-CPU caches), else SIZE_MAX. NVMe caps max_hw_sectors with it.
 * O(1).
 */
export function dmaOptMappingSize(d: DmaLimitInput): number {
  const size = d.kind === "iommu" ? iovaRcacheRange(d.pageSize ?? PAGE_SIZE) : DMA_SIZE_MAX;
  return Math.min(dmaMaxMappingSize(d), size);
}

/**
 * The limit inputs of a simulated device: dma-iommu when its domain translates, swiotlb when it
 * forces bouncing, else direct; its min_align_mask, or `minAlignMask` when the driver sets one
 * (NVMe: 0xfff). O(1).
 * @throws RangeError for a bad `minAlignMask`.
 */
export function dmaLimitInputOf(sys: DmaSystem, dev: DmaDevice, minAlignMask?: number): DmaLimitInput {
  if (minAlignMask !== undefined) checkCount("minAlignMask", minAlignMask, 2 ** 31);
  const mask = minAlignMask ?? dev.minAlignMask;
  if (((mask + 1) & mask) !== 0)
    throw new RangeError(`min_align_mask ${hex(mask)} is invalid: expected 0 or 2^k - 1`);
  const kind: DmaMappingKind = sys.iommuOf(dev) ? "iommu" : dev.forceSwiotlb ? "swiotlb" : "direct";
  return { kind, minAlignMask: mask };
}
