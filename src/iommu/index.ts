/**
 * iommu/: the IOMMU model: IO page-table formats (x86 and AMD v1 generic_pt rules, ARM LPAE),
 * iommu_pgsize and the map/unmap walks, the IOVA allocator with its caches, the IOTLB and its
 * gather, domains, and the one dma_map_sg IOVA layout the DMA path and the analysis share.
 */
export * from "./dma-iova.js";
export * from "./domain.js";
export * from "./format.js";
export * from "./iotlb.js";
export * from "./iova.js";
export * from "./map.js";
export * from "./pgsize.js";
export * from "./pgtable.js";
export * from "./prot.js";
export * from "./sg-layout.js";
