/**
 * phyr, the platform-free library: range lists and the formats they are measured against, the
 * machine model (memory, processes, PCI, providers, IOMMUs, the DMA API, the consumers), the
 * analyses, the tracefs reader and the report built on them. Node-only readers of a live machine
 * are in `phyr/node`.
 *
 * The names below are the public API, chosen by hand: what a user of the library needs to build
 * and read lists, run the model, map for DMA, run the consumers and scenarios, analyse memory and
 * read traces. Each layer's own index (src/LAYER/index.ts) holds more, for the other layers; those
 * names are not part of the API. etc/phyr.api.md is the checked-in API report (api-extractor).
 */

export type {
  AccessInput,
  BackingPages,
  BarInput,
  BufferAnalysisOptions,
  Completeness,
  FormatCost,
  IomemInput,
  IommuPresence,
  LeafCount,
  MachineAnalysisOptions,
  MachineOrigin,
  NvmeCost,
  P2pMatrix,
  P2pPlatformInput,
  P2pType,
  PciDeviceSummary,
  PciInput,
  PciSummary,
  PhysMapSummary,
  PhysRegion,
  PinMapWork,
  RdmaCost,
  RUN_MAP_ENCODING,
  RunHistogram,
  RunMap,
  RunsInput,
  ScenarioSummary,
  Verdict,
  VfioWork,
  WhatIfRow,
} from "./analyze/index.js";
// analyze: the analyses as plain data, and the glossary of every term they print.
export {
  ANALYSIS_SCHEMA,
  analyzeBuffer,
  analyzeMachine,
  type BufferAnalysis,
  type BufferInput,
  findGlossaryEntry,
  GLOSSARY,
  type GlossaryEntry,
  type IommuCost,
  type MachineAnalysis,
  type MachineInput,
} from "./analyze/index.js";
// core: sizes, the release modelled, errors every layer throws.
export {
  DmaApiError,
  formatBytes,
  hex,
  IommuFault,
  IovaExhausted,
  KERNEL_MODEL,
  LimitExceeded,
  MemError,
  P2pNotSupported,
  PAGE_SIZE,
  ParseError,
  PhyrError,
  PinFailed,
  parseSize,
  Rng,
  SwiotlbFull,
} from "./core/index.js";
export type {
  DirectAddressing,
  DmaDebugEntry,
  DmaDebugViolation,
  DmaIovaState,
  DmaMapping,
  DmaRangeRegion,
  IommuPort,
  P2pPort,
  P2pProviderView,
  PageAtATimeMapping,
  PrivateOwner,
  SwiotlbOptions,
} from "./dma/index.js";
// dma: the DMA API over range lists, the two-step IOVA API, the kernel's baselines, the checker.
export {
  DmaAttr,
  DmaDebug,
  DmaDevice,
  type DmaDeviceOptions,
  type DmaDirection,
  DmaList,
  type DmaMapKind,
  type DmaMapOptions,
  DmaSystem,
  type DmaSystemOptions,
  deviceReads,
  deviceWrites,
  dmaIovaDestroy,
  dmaIovaFree,
  dmaIovaLink,
  dmaIovaSync,
  dmaIovaTryAlloc,
  dmaIovaUnlink,
  dmaMap,
  dmaMapPhys,
  dmaMapSgDirect,
  dmaSyncForCpu,
  dmaSyncForDevice,
  dmaUnmap,
  dmaUnmapPhys,
  dmaUnmapSgDirect,
  iommuMapPageAtATime,
  iommuUnmapPageAtATime,
  SwiotlbPool,
} from "./dma/index.js";
// formats: every representation a list is measured against.
export {
  FORMATS,
  type Format,
  type FormatHolds,
  formatByName,
  packedDecode,
  packedEncode,
  type SgTable,
  sgAllocTableFromPages,
} from "./formats/index.js";
export type {
  DmaIovaOptions,
  IommuAccess,
  IommuDomainStats,
  IommuFaultReason,
  IommuFaultRecord,
  IoPgtableFormat,
  IoPgtableFormatName,
  IoPteLookup,
  IotlbOptions,
  IovaDeviceState,
  IovaDomainOptions,
  PgsizeChoice,
  SgLayoutInput,
} from "./iommu/index.js";
// iommu: domains, IO page tables, the IOVA allocator, IOTLB, page-size choice.
export {
  IommuDomain,
  type IommuDomainOptions,
  type IommuDomainType,
  IommuProt,
  IoPageTable,
  Iotlb,
  IovaDomain,
  iommuDmaSgLayout,
  iommuMap,
  iommuPgsize,
  iommuUnmap,
  PGSIZE_AMD_V1,
  PGSIZE_ARM_4K,
  PGSIZE_X86,
  type SgLayout,
} from "./iommu/index.js";
export type {
  PciIdentity,
  ReferencePci,
  ReferenceProcess,
  ReferenceVma,
  SysfsPciDevice,
  VmaLayout,
} from "./machine/index.js";
// machine: the embedded reference machine.
export { type ReferenceMachine, referenceMachine } from "./machine/index.js";
// Types the API's signatures name (type-only: no runtime name is added).
export type {
  FolioTable,
  FreeArea,
  HugeSize,
  HugetlbPlacement,
  IomemTree,
  MigrationClient,
  PageInfo,
  Pgmap,
  PhysData,
  Resource,
  SectionMap,
  SectionState,
  Zone,
  ZoneId,
} from "./mem/index.js";
// mem, mm: the model's physical memory and address spaces; pinning.
export {
  type AllocOptions,
  checkMemory,
  hotAddMemory,
  hotRemoveMemory,
  MachineMemory,
  type MemorySpec,
  memoryDigest,
  type PgmapSpec,
  type PgmapType,
} from "./mem/index.js";
export type {
  FileMapper,
  MappedFile,
  PageTable,
  ThpPolicy,
} from "./mm/index.js";
export {
  AddressSpace,
  type AddressSpaceOptions,
  checkAddressSpace,
  type MmapSpec,
  type PinOptions,
  pinUserPages,
  pinUserRange,
  type UnpinOptions,
  unpinPhyrs,
  unpinUserPages,
  type Vma,
  type VmaKind,
} from "./mm/index.js";
export type {
  RevokeListener,
  RevokeReason,
} from "./p2p/index.js";
export { Provider, ProviderRegistry, ProviderRevoked, type ProviderSpec } from "./p2p/index.js";
export type {
  Bdf,
  P2pMapResult,
  PciBar,
  PciBarSpec,
  PciBridgeSpec,
  PciDev,
  PciDevKind,
  PciEndpointSpec,
  PciHostBridge,
  PciHostBridgeSpec,
  PciP2pAllowlist,
  PciWindow,
} from "./pci/index.js";
// pci, p2p: the PCI tree, the P2P distance, providers over BARs.
export {
  calcMapType,
  formatBdf,
  lspciTree,
  type P2pMapType,
  PciTopology,
  type PciTopologyOptions,
  parseBdf,
} from "./pci/index.js";
// phyr: the range list, its builders and whole-list operations.
export {
  coalesce,
  type EntryVisitor,
  type FromPfnsOptions,
  PhyrBuilder,
  type PhyrBuilderOptions,
  type PhyrCursor,
  type PhyrEntry,
  PhyrFlag,
  PhyrList,
  type PhyrListOptions,
  type PhyrRead,
  type PhyrStoreKind,
  phyrFromPfns,
  splitAtBoundary,
  toPfns,
} from "./phyr/index.js";
export type {
  Paint,
  ReportAssets,
  SummaryOptions,
} from "./report/index.js";
// report: the terminal summary and the offline HTML report.
export { renderReportHtml, renderSummary } from "./report/index.js";
export type { Metrics } from "./scenarios/index.js";
// scenarios: the named what-if scenarios of `phyr simulate`, design beside the kernel's way.
export {
  runScenario,
  SCENARIOS,
  type ScenarioOptions,
  type ScenarioResult,
  ScenarioSizeError,
} from "./scenarios/index.js";
export type {
  DirectIoMetrics,
  DirectIoOptions,
  DmaBufAttachment,
  IoasPinPath,
  MemoryRegion,
  NetBuffers,
  NetRxQueues,
  NvmeDataPtr,
  NvmeStats,
  Placement,
  PlaceOptions,
  QueueLimits,
  VfioIovaRange,
  VfioMapStats,
  VfioType1Options,
  VfioUnmapStats,
} from "./subsys/index.js";
// subsys: the consumers (block/NVMe, RDMA, VFIO/iommufd, dma-buf, devmem).
export {
  BlockError,
  DevmemBinding,
  DevmemError,
  DmaBuf,
  DmaBufError,
  IommufdIoas,
  ibDeregMr,
  ibRegUserMr,
  KERNEL_RELEASES,
  type KernelRelease,
  NvmeController,
  NvmeError,
  nvmeDirectIo,
  RdmaError,
  umemFindBestPgsz,
  VfioError,
  VfioType1Container,
} from "./subsys/index.js";
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
  ReplayMismatch,
  ReplayRequest,
  SwiotlbBouncedEvent,
  TraceContext,
  TraceDesignSide,
  TraceDeviceSummary,
  TraceKernelSide,
  TraceSummaryOptions,
} from "./trace/index.js";
// trace: tracefs text -> typed events, per-device kernel-vs-design summary, lab replay.
export {
  type ParsedTrace,
  parseTrace,
  type ReplayResult,
  replayLabRecord,
  summarizeTrace,
  type TraceEvent,
  type TraceSummary,
} from "./trace/index.js";
