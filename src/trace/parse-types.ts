/**
 * The typed events of a tracefs text trace (see parse.ts). Each kind mirrors one TP_printk format
 * of the kernel; the comment on each names the header and event class it comes from.
 *
 * Numbers: addresses (physical, DMA/IOVA) and sizes are JS numbers. Every one is checked to be an
 * integer at most `Number.MAX_SAFE_INTEGER` (2^53 - 1, above x86-64's 52-bit physical limit and
 * the 48/57-bit IOVA spaces); a line holding a larger value is counted as malformed, never rounded.
 * Fields that are 64-bit masks or opaque words (`dma_mask`, NVMe `res`) are `bigint`.
 */

/** What every line of the `trace` / `trace_pipe` format carries before the event name. */
export interface TraceContext {
  /** 1-based line number in the text the event came from. */
  line: number;
  /** Task name (`comm`, up to 15 characters as the kernel saved it; untrusted text). */
  task: string;
  /** Thread id that was running. */
  pid: number;
  /** Thread group id when the `record-tgid` option printed it, else -1. */
  tgid: number;
  /** CPU the event was recorded on. */
  cpu: number;
  /** The irqs-off / need-resched / hardirq / preempt columns (`d..1.`) when printed, else "". */
  latency: string;
  /**
   * Timestamp: microseconds when the clock prints `seconds.micros` (local, global, mono, boot...),
   * else the raw counter value (`counter`, `x86-tsc`).
   */
  ts: number;
  /** Event name as printed (the trace line does not name the system: `map` is iommu:map). */
  name: string;
}

/** DMA direction as decode_dma_data_direction() prints it (`0x..` for an unknown value). */
export type DmaDir = "BIDIRECTIONAL" | "TO_DEVICE" | "FROM_DEVICE" | "NONE" | string;

/** include/trace/events/dma.h class dma_map: dma_map_phys (7.x), dma_map_page / dma_map_resource (6.x). */
export interface DmaMapEvent extends TraceContext {
  kind: "dma_map";
  device: string;
  dir: DmaDir;
  dmaAddr: number;
  size: number;
  physAddr: number;
  /** decode_dma_attrs() names (`SKIP_CPU_SYNC`, `MMIO`...); empty when attrs was 0. */
  attrs: string[];
}

/** dma.h class dma_unmap: dma_unmap_phys (7.x), dma_unmap_page / dma_unmap_resource (6.x). */
export interface DmaUnmapEvent extends TraceContext {
  kind: "dma_unmap";
  device: string;
  dir: DmaDir;
  dmaAddr: number;
  size: number;
  attrs: string[];
}

/**
 * dma.h dma_map_sg. `nents` is the scatterlist entries passed in, `ents` the DMA segments the map
 * returned, both the full counts. The arrays hold at most DMA_TRACE_MAX_ENTRIES (128) entries:
 * when either count is larger the kernel prints `nents=128/300 ... [TRUNCATED]` and `truncated` is
 * true. 6.x kernels print no counts: then both are the array lengths and `truncated` is false.
 */
export interface DmaMapSgEvent extends TraceContext {
  kind: "dma_map_sg";
  device: string;
  dir: DmaDir;
  nents: number;
  ents: number;
  truncated: boolean;
  /** CPU physical address of each traced scatterlist entry (sg_phys()). */
  physAddrs: number[];
  /** DMA address of each traced segment (sg_dma_address()). */
  dmaAddrs: number[];
  /** Length of each traced segment (sg_dma_len()). */
  sizes: number[];
  attrs: string[];
}

/** dma.h dma_map_sg_err: the kernel prints the physical addresses under the label `dma_addrs=`. */
export interface DmaMapSgErrEvent extends TraceContext {
  kind: "dma_map_sg_err";
  device: string;
  dir: DmaDir;
  physAddrs: number[];
  err: number;
  attrs: string[];
}

/** dma.h dma_unmap_sg: the physical address of each entry (no lengths are traced). */
export interface DmaUnmapSgEvent extends TraceContext {
  kind: "dma_unmap_sg";
  device: string;
  dir: DmaDir;
  physAddrs: number[];
  attrs: string[];
}

/** dma.h dma_alloc_class (dma_alloc, dma_alloc_pages, dma_alloc_sgt_err) and dma_alloc_sgt. */
export interface DmaAllocEvent extends TraceContext {
  kind: "dma_alloc";
  device: string;
  dir: DmaDir;
  dmaAddr: number;
  size: number;
  /** dma_alloc_sgt only: sg_phys() of each entry; empty for the others. */
  physAddrs: number[];
  /** show_gfp_flags() text, as printed. */
  gfp: string;
  attrs: string[];
}

/** dma.h dma_free_class (dma_free, dma_free_pages) and dma_free_sgt. */
export interface DmaFreeEvent extends TraceContext {
  kind: "dma_free";
  device: string;
  dir: DmaDir;
  dmaAddr: number;
  size: number;
  physAddrs: number[];
  attrs: string[];
}

/** dma.h dma_sync_single (for_cpu / for_device). */
export interface DmaSyncSingleEvent extends TraceContext {
  kind: "dma_sync_single";
  device: string;
  dir: DmaDir;
  dmaAddr: number;
  size: number;
}

/** dma.h dma_sync_sg (for_cpu / for_device). */
export interface DmaSyncSgEvent extends TraceContext {
  kind: "dma_sync_sg";
  device: string;
  dir: DmaDir;
  dmaAddrs: number[];
  sizes: number[];
}

/** include/trace/events/iommu.h map: one iommu_map() call (no device is recorded). */
export interface IommuMapEvent extends TraceContext {
  kind: "iommu_map";
  iova: number;
  paddr: number;
  size: number;
}

/** iommu.h unmap: one iommu_unmap() call; `unmappedSize` is what it really removed. */
export interface IommuUnmapEvent extends TraceContext {
  kind: "iommu_unmap";
  iova: number;
  size: number;
  unmappedSize: number;
}

/** iommu.h iommu_device_event (attach_device_to_domain, detach_device_from_domain). */
export interface IommuDeviceEvent extends TraceContext {
  kind: "iommu_device";
  device: string;
}

/** iommu.h iommu_group_event (add_device_to_group, remove_device_from_group). */
export interface IommuGroupEvent extends TraceContext {
  kind: "iommu_group";
  groupId: number;
  device: string;
}

/** iommu.h io_page_fault. */
export interface IoPageFaultEvent extends TraceContext {
  kind: "io_page_fault";
  driver: string;
  device: string;
  iova: number;
  flags: number;
}

/** include/trace/events/swiotlb.h swiotlb_bounced: one mapping that went through the bounce pool. */
export interface SwiotlbBouncedEvent extends TraceContext {
  kind: "swiotlb_bounced";
  device: string;
  dmaMask: bigint;
  /** phys_to_dma() of the original buffer (swiotlb_map()). */
  devAddr: number;
  size: number;
  /** `FORCE` (swiotlb=force or the device needs it) vs `NORMAL`; undefined when not printed. */
  force: boolean | undefined;
}

/** drivers/nvme/host/trace.h nvme_setup_cmd. */
export interface NvmeSetupCmdEvent extends TraceContext {
  kind: "nvme_setup_cmd";
  ctrl: number;
  /** Disk name, "" when the request has no disk (admin queue). */
  disk: string;
  qid: number;
  cmdid: number;
  nsid: number;
  flags: number;
  meta: number;
  /** Opcode name (`nvme_cmd_read`, `nvme_admin_identify`...) as show_opcode_name() prints it. */
  opcode: string;
  /** The command's decoded arguments (`slba`, `len` (blocks - 1), `ctrl`...): decimal or hex numbers. */
  args: Record<string, number>;
}

/** nvme trace.h nvme_complete_rq. */
export interface NvmeCompleteRqEvent extends TraceContext {
  kind: "nvme_complete_rq";
  ctrl: number;
  disk: string;
  qid: number;
  cmdid: number;
  result: bigint;
  retries: number;
  flags: number;
  status: number;
}

/**
 * include/trace/events/block.h: block_rq class (insert, issue, merge, io_start, io_done), the
 * block_rq_completion class (complete, error) and block_bio class (queue, backmerge, frontmerge,
 * getrq) and block_bio_complete.
 */
export interface BlockEvent extends TraceContext {
  kind: "block";
  /** `MAJOR,MINOR` of the disk. */
  dev: string;
  rwbs: string;
  /** blk_rq_bytes() for the block_rq class; -1 for the others. */
  bytes: number;
  sector: number;
  nrSector: number;
  /** The issuing task (block_rq, block_bio); "" when the format prints an error instead. */
  comm: string;
  /** The error (block_rq_completion, block_bio_complete); 0 otherwise. */
  error: number;
}

/** A `trace_marker` write (`tracing_mark_write: TEXT`): the lab cuts per-I/O windows with them. */
export interface MarkerEvent extends TraceContext {
  kind: "marker";
  text: string;
}

/** Any other event, kept with its body as printed. */
export interface OtherEvent extends TraceContext {
  kind: "other";
  body: string;
}

/** One parsed trace line. Discriminate on `kind`. */
export type TraceEvent =
  | DmaMapEvent
  | DmaUnmapEvent
  | DmaMapSgEvent
  | DmaMapSgErrEvent
  | DmaUnmapSgEvent
  | DmaAllocEvent
  | DmaFreeEvent
  | DmaSyncSingleEvent
  | DmaSyncSgEvent
  | IommuMapEvent
  | IommuUnmapEvent
  | IommuDeviceEvent
  | IommuGroupEvent
  | IoPageFaultEvent
  | SwiotlbBouncedEvent
  | NvmeSetupCmdEvent
  | NvmeCompleteRqEvent
  | BlockEvent
  | MarkerEvent
  | OtherEvent;

/** The event kinds, for `event.kind`. */
export type TraceEventKind = TraceEvent["kind"];

/** A line that looked like trace output but could not be read; kept for the message. */
export interface MalformedLine {
  line: number;
  reason: string;
}

/** Everything read from one trace text. */
export interface ParsedTrace {
  /** Events in text order. */
  events: TraceEvent[];
  /** Lines read (including comments and blank lines). */
  lines: number;
  /** Lines skipped as malformed (never a crash). */
  malformed: number;
  /** The first few malformed lines (at most {@link MALFORMED_KEPT}), for messages. */
  malformedFirst: MalformedLine[];
  /** Events the kernel dropped (`CPU:N [LOST M EVENTS]` lines): the trace is incomplete when > 0. */
  lost: number;
  /** From the `trace` file's header when present: `# tracer: NAME`. */
  tracer: string;
  /** From the header `# entries-in-buffer/entries-written: A/B`: [A, B], or undefined. */
  entries: [number, number] | undefined;
}

/** How many malformed lines a ParsedTrace keeps verbatim. */
export const MALFORMED_KEPT = 10;
