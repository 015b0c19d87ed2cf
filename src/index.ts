/**
 * phyr, the platform-free library: range lists and the formats they are measured against, the
 * machine model (memory, processes, PCI, providers, IOMMUs, the DMA API, the consumers), and the
 * analysis and report built on them. Node-only readers of a live machine are in `phyr/node`.
 */
export * from "./analyze/index.js";
export * from "./core/index.js";
export * from "./dma/index.js";
export * from "./formats/index.js";
export * from "./iommu/index.js";
export * from "./machine/index.js";
export * from "./mem/index.js";
export * from "./mm/index.js";
export * from "./p2p/index.js";
export * from "./pci/index.js";
export * from "./phyr/index.js";
export * from "./report/index.js";
export * from "./subsys/index.js";
export * from "./trace/index.js";
