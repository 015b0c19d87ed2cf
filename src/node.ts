/**
 * phyr for Node: everything in the main entry plus the readers of a real Linux machine (/proc,
 * /sys, /proc/kpageflags, tracefs, snapshots) behind {@link MachineSource}. Chosen by hand like
 * the main entry (etc/phyr-node.api.md is its API report).
 */

export * from "./index.js";
export type { HeaderRecord, headerRecord } from "./linux/index.js";
// linux: the live machine and snapshots through one interface, and the readers under it.
export {
  type AccessProbe,
  type AccessState,
  type CaptureOptions,
  type CaptureResult,
  type ClassifyOptions,
  capture,
  classifyRuns,
  type IomemResource,
  type IommuInfo,
  type KernelInfo,
  type KpageflagsSource,
  type LiveSourceOptions,
  type LoadOptions,
  liveSource,
  loadSnapshot,
  loadSnapshotStream,
  type MachineSource,
  openKpageflags,
  type P2pPlatform,
  type PagemapOptions,
  PageRuns,
  type PciDevice,
  type PciResource,
  type ProcessInfo,
  parseIomem,
  probeAccess,
  type ReaderOptions,
  ReferenceSource,
  RunFlag,
  RunKind,
  type RunsOptions,
  readIomem,
  readKernelInfo,
  readMaps,
  readPagemapRuns,
  readPciDevices,
  readProcesses,
  readSmaps,
  referenceSource,
  SNAPSHOT_LIMITS,
  type SnapshotSource,
  type Vma as MapsVma,
  type VmaStats,
} from "./linux/index.js";
// tracefs, live: enable, read and restore the kernel's DMA tracepoints as root.
export { type LiveTrace, type LiveTraceOptions, readLiveTrace, TraceAccessError } from "./trace/live.js";
