/**
 * subsys/: the consumers on the model machine, each with the kernel's way beside the design:
 * block O_DIRECT and NVMe (PRP/SGL, the 7.2 DMA iterator and 6.12 lines), RDMA memory
 * registration, VFIO type1 and iommufd, dma-buf, devmem TCP. The named
 * scenarios that run them side by side are one layer up (scenarios/).
 */
export * from "./block-dio.js";
export * from "./block-dio-bios.js";
export * from "./block-limits.js";
export * from "./block-request.js";
export * from "./block-split.js";
export * from "./devmem.js";
export * from "./devmem-place.js";
export * from "./dmabuf.js";
export * from "./errors.js";
export * from "./iommufd.js";
export { IOMMUFD_BATCH_MAX, IOMMUFD_TEMP_MEMORY_LIMIT, IOMMUFD_UPAGES_MAX } from "./iommufd-pages.js";
export * from "./kernel-release.js";
export * from "./nvme-cmd.js";
export * from "./nvme-dev.js";
export * from "./nvme-limits.js";
export * from "./nvme-plan.js";
export * from "./rdma-mr.js";
export * from "./rdma-pgsz.js";
export * from "./testbed.js";
export * from "./vfio.js";
