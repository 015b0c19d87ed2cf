/**
 * dma/: the DMA API over range lists -- dma-direct with bus offsets, swiotlb, the IOMMU path (one
 * IOVA per list), P2P through providers, DEVICE_PRIVATE owner translation, unmap/sync, the debug
 * checker and the device-side data port; the P2P port over pci/ + p2p/ (p2pPortFor); and the
 * kernel's current ways beside them (baseline.ts: scatterlist dma_map_sg, page-at-a-time IOMMU).
 */
export * from "./access.js";
export * from "./baseline.js";
export * from "./debug.js";
// Not mappingsOf: a device's mapping state is written by dma/ only (mappings.ts).
export { DMA_MASK_32, DMA_MASK_FULL, DmaDevice, type DmaDeviceOptions } from "./device.js";
export * from "./direct.js";
export * from "./iommu-port.js";
export * from "./iova.js";
export * from "./limits.js";
// Not DmaListBuilder: only dma/ builds a DmaList.
export { DmaList } from "./list.js";
export { type DmaMapOptions, dmaMap } from "./map.js";
export * from "./p2p.js";
export * from "./p2p-port.js";
export * from "./phys.js";
export * from "./swiotlb.js";
export * from "./system.js";
export * from "./types.js";
export { dmaSyncForCpu, dmaSyncForDevice, dmaUnmap } from "./unmap.js";
