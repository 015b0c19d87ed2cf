/**
 * phyr for Node: everything in the main entry plus the readers of a real Linux machine (/proc,
 * /sys, snapshots) behind {@link MachineSource}.
 */

// Both name a VMA: `Vma` stays the model's (mm/), the /proc/PID/maps line is `MapsVma`.
export type { Vma } from "./index.js";
export * from "./index.js";
export type { Vma as MapsVma } from "./linux/index.js";
export * from "./linux/index.js";
export {
  bufferSizeToRestore,
  LIVE_BUFFER_KB,
  LIVE_SYSTEMS,
  type LiveTrace,
  type LiveTraceOptions,
  readLiveTrace,
  TRACEFS_MOUNTS,
  TraceAccessError,
} from "./trace/live.js";
