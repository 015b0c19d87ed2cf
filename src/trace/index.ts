/**
 * trace: the real kernel's own record of its DMA decisions. Reads tracefs text (the `trace` file or
 * `trace_pipe`: dma:, iommu:, swiotlb:, nvme: and block: events, trace_marker lines) into typed
 * events, and summarises them per device: what the kernel did (traced) beside what the phyr design
 * would have built for the same physical ranges (model).
 */

export {
  DMA_TRACE_MAX_ENTRIES,
  type LineResult,
  parseTrace,
  parseTraceLine,
  TraceReader,
} from "./parse.js";
export type {
  BlockEvent,
  DmaAllocEvent,
  DmaDir,
  DmaFreeEvent,
  DmaMapEvent,
  DmaMapSgErrEvent,
  DmaMapSgEvent,
  DmaSyncSgEvent,
  DmaSyncSingleEvent,
  DmaUnmapEvent,
  DmaUnmapSgEvent,
  IommuDeviceEvent,
  IommuGroupEvent,
  IommuMapEvent,
  IommuUnmapEvent,
  IoPageFaultEvent,
  MalformedLine,
  MarkerEvent,
  NvmeCompleteRqEvent,
  NvmeSetupCmdEvent,
  OtherEvent,
  ParsedTrace,
  SwiotlbBouncedEvent,
  TraceContext,
  TraceEvent,
  TraceEventKind,
} from "./parse-types.js";
export { MALFORMED_KEPT } from "./parse-types.js";
export {
  type ReplayMismatch,
  type ReplayRequest,
  type ReplayResult,
  replayLabRecord,
} from "./replay.js";
export {
  opRanges,
  type ReplayBuffer,
  type ReplayOp,
  type ReplayRecord,
  readReplayRecord,
} from "./replay-record.js";
export {
  NO_DMA_API_MESSAGE,
  summarizeTrace,
  type TraceDesignSide,
  type TraceDeviceSummary,
  type TraceKernelSide,
  type TraceSummary,
  type TraceSummaryOptions,
} from "./summary.js";
export {
  type DeviceWalk,
  type PhysRange,
  type TracedMapping,
  type TraceWalk,
  walkTrace,
} from "./summary-walk.js";
