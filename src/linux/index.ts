/**
 * linux/: the Node readers of a real Linux machine: /proc (maps, smaps, pagemap, kpageflags,
 * iomem, processes), /sys (PCI, IOMMU units and groups), access probing, snapshots (capture with
 * its limits, streaming load), atomic file writes, all behind the MachineSource interface. That
 * interface, the shapes it returns, PageRuns and the reference machine's source view are defined in
 * machine/ (no Node API there) and re-exported here.
 */

export {
  MAX_PFN,
  PageRuns,
  processRuns,
  REFERENCE_NOTE,
  REFERENCE_ORIGIN,
  ReferenceSource,
  RUN_KIND_NAMES,
  RunFlag,
  RunKind,
  referenceSource,
  vmaStats,
} from "../machine/index.js";
export * from "./access.js";
export { AtomicFile, writeFileAtomic } from "./atomic-file.js";
export { MAX_TEXT_BYTES, type ReaderOptions } from "./io.js";
export * from "./iomem.js";
export * from "./kpageflags.js";
export * from "./maps.js";
export * from "./pagemap.js";
export * from "./pci.js";
export * from "./phyr-runs.js";
export * from "./processes.js";
export * from "./range-runs.js";
export { cutString, SnapshotFit } from "./snapshot-fit.js";
export * from "./snapshot-read.js";
export * from "./snapshot-schema.js";
export * from "./snapshot-write.js";
export * from "./source.js";
