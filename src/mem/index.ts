/**
 * mem/: the simulated machine's physical memory — iomem resource tree, sections and subsections,
 * sparse folio state, buddy allocator with aging, hugetlb pools (and their migration for long-term
 * pins), pageblock isolation, the zero page, ZONE_DEVICE pgmaps, hotplug,
 * byte contents, invariant checker and digest.
 */
export * from "./aging.js";
export * from "./buddy.js";
export * from "./check.js";
export * from "./folios.js";
export * from "./hotplug.js";
export * from "./hugetlb.js";
export * from "./iomem.js";
export * from "./isolation.js";
export * from "./memory.js";
export * from "./pgmap.js";
export * from "./physdata.js";
export * from "./sections.js";
export * from "./spec.js";
export * from "./types.js";
