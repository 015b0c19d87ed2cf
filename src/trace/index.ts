/**
 * trace: the real kernel's own record of its DMA decisions. Reads tracefs text (the `trace` file or
 * `trace_pipe`: dma:, iommu:, swiotlb:, nvme: and block: events, trace_marker lines) into typed
 * events; everything else in phyr compares against what these events say the kernel did.
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
