/**
 * analyze/: cost analyses over buffers of runs, returned as plain data (no printing): every
 * representation's bytes, IOMMU layouts and leaves for each page-size set and IOVA placement,
 * RDMA MTT and NVMe descriptor costs, the P2P matrix, the run map, the verdict, what-if rows and
 * the glossary of every printed term.
 */
export * from "./analysis.js";
export * from "./buffer.js";
export * from "./device-cost.js";
export * from "./glossary.js";
export * from "./iommu-cost.js";
export * from "./output.js";
export * from "./p2p.js";
export * from "./platform-summary.js";
export * from "./run-map.js";
export * from "./runs.js";
export * from "./types.js";
export * from "./verdict.js";
export * from "./what-if.js";
