/**
 * The Linux release whose rules the model follows. Every "kernel" figure phyr prints (the
 * baselines, the kernel rows of the IOMMU tables, the kernel side of each scenario) is what this
 * release does; docs/kernel-fidelity.md lists each rule, the file and function followed, and the
 * deliberate departures.
 */
import { PAGE_SIZE } from "./addr.js";

/** Linux release the model follows (major.minor), e.g. `"7.2"`. */
export const KERNEL_MODEL = "7.2" as const;

/**
 * Pages per VFIO type1 pin batch: drivers/vfio/vfio_iommu_type1.c
 * `#define VFIO_BATCH_MAX_CAPACITY (PAGE_SIZE / sizeof(struct page *))`, the page of page pointers
 * vfio_batch_init() allocates = 4096 / 8 = 512 on a 64-bit kernel. Here (not in dma/ or subsys/)
 * because mm/'s page-at-a-time pinUserPages fills batches of the same size.
 */
export const VFIO_BATCH_MAX_CAPACITY = PAGE_SIZE / 8;
