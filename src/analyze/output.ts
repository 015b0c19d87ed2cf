/**
 * Output shapes of the analyses: plain JSON-able data, the stable `--json` shape of the CLI
 * (schema name {@link ANALYSIS_SCHEMA}) and the data island of the HTML report. Addresses are hex
 * strings; sizes and counts are integer numbers.
 */

import type { RunMap } from "./run-map.js";
import type { MachineOrigin } from "./types.js";
import type { Verdict } from "./verdict.js";
import type { WhatIfRow } from "./what-if.js";

/** Schema id carried by every JSON document the CLI prints. Bumped on any incompatible change. */
export const ANALYSIS_SCHEMA = "phyr-analysis/1";

/** Run-length histogram: bucket k holds runs of 2^k .. 2^(k+1)-1 pages (4 KiB pages). */
export interface RunHistogram {
  /** Number of runs per bucket (index = order). */
  runs: number[];
  /** Bytes in those runs per bucket. */
  bytes: number[];
}

/** Bytes one representation needs for a buffer's page list. */
export interface FormatCost {
  /** Format name from formats/ (`pages`, `scatterlist`, `phyr16`, ...). */
  name: string;
  /** Bytes of the representation. */
  bytes: number;
}

/** Leaves of one page size. */
export interface LeafCount {
  /** Leaf page size in bytes. */
  size: number;
  count: number;
}

/** IOMMU cost of mapping a buffer under one page-size bitmap and one IOVA placement. */
export interface IommuCost {
  /** Bitmap name, e.g. `x86-64 4K|2M|1G`. */
  bitmap: string;
  /**
   * `kernel`: the kernel's way today (size-aligned IOVA as iommu_dma_alloc_iova gives);
   * `congruent`: the phyr design (IOVA = phys modulo the large page sizes), not the kernel's.
   */
  placement: "kernel" | "congruent";
  /** The placement as printed, naming its side: `kernel 7.2, size-aligned` or `phyr design, congruent`. */
  placementLabel: string;
  /** Leaf entries written, by page size (ascending, only sizes used). */
  leaves: LeafCount[];
  /** Total leaf entries. */
  leafTotal: number;
  /** Page-table pages needed (all levels, including the root). */
  tablePages: number;
  /** IOTLB entries needed to cover the mapping (one per leaf). */
  iotlbEntries: number;
}

/** RDMA memory-registration translation cost (ib_umem_find_best_pgsz). */
export interface RdmaCost {
  /** Device page-size bitmap name. */
  bitmap: string;
  /** Smallest best page size among the buffer's registrations, in bytes (0: no size works). */
  pageSize: number;
  /** Memory registrations counted: one per VA-contiguous group of runs (one ib_umem_get each). */
  registrations: number;
  /** How many registrations got each best page size (ascending sizes; 0: no size works). */
  bestPageSizes: { size: number; registrations: number }[];
  /** MTT entries at the best page size of each registration, summed over registrations. */
  entries: number;
  /** MTT entries at a fixed 4 KiB page size (ODP-style baseline). */
  entries4k: number;
}

/** NVMe descriptors for one I/O of the buffer's first bytes (no IOMMU: DMA address = physical). */
export interface NvmeCost {
  /** I/O size in bytes (1 MiB, or the whole buffer when smaller). */
  ioBytes: number;
  /** PRP data entries (PRP1, PRP2 or listed). */
  prpEntries: number;
  /** PRP list-chain entries. */
  prpChains: number;
  /** Bytes of PRP list memory (small-pool block or whole pages). */
  prpListBytes: number;
  /** SGL data descriptors. */
  sglDescriptors: number;
  /** Bytes of SGL descriptors written (16 B each, in the command and lists). */
  sglBytes: number;
  /** Bytes of SGL list memory. */
  sglListBytes: number;
}

/**
 * Present pages by what backs them (/proc/kpageflags kind of each run, run-map.ts RUN_MAP_KINDS):
 * `unknown` where no page flags were read, `mixed` for merged runs whose parts differ.
 */
export interface BackingPages {
  unknown: number;
  base: number;
  thp: number;
  hugetlb: number;
  zero: number;
  mixed: number;
}

/**
 * What pinning the buffer for a device with VFIO type1 takes (model, from the runs): one
 * VFIO_IOMMU_MAP_DMA per VA-contiguous group of runs (`registrations`, also one ib_umem_get each),
 * and vfio_pin_pages_remote batches of VFIO_BATCH_MAX_CAPACITY pages per registration.
 */
export interface VfioWork {
  registrations: number;
  pinBatches: number;
}

/** Everything computed for one buffer. */
export interface BufferAnalysis {
  label: string;
  pid: number;
  comm: string;
  vaStart: string;
  vaLength: number;
  /** Present pages (4 KiB). */
  pages: number;
  /** Physically contiguous runs (page-types -l style). */
  runs: number;
  swapped: number;
  unmapped: number;
  histogram: RunHistogram;
  formats: FormatCost[];
  iommu: IommuCost[];
  rdma: RdmaCost[];
  /** Null when the buffer has no present pages. */
  nvme: NvmeCost | null;
  /** Present pages by backing (sums on `total`). */
  backing: BackingPages;
  /** VFIO type1 pinning work of the buffer (sums on `total`). */
  vfio: VfioWork;
  /**
   * The buffer's runs (PFN, VA, pages, backing) for the report's physical memory map; absent on
   * `total`, and when the caller asked for none (the terminal summary shows no map).
   */
  runMap?: RunMap;
}

/** One region of the physical map (a /proc/iomem node down to depth 1). */
export interface PhysRegion {
  name: string;
  start: string;
  /** Inclusive end, as /proc/iomem prints it. */
  end: string;
  bytes: number;
  /** 0 = top level, 1 = child. */
  depth: number;
}

/** Physical map summary. */
export interface PhysMapSummary {
  /** Top-level regions and their direct children, in address order. */
  regions: PhysRegion[];
  /** Bytes per top-level resource name (e.g. `System RAM`), largest first. */
  totals: { name: string; bytes: number }[];
  /** Bytes of top-level `System RAM`. */
  systemRam: number;
}

/** One PCI function in the summary. */
export interface PciDeviceSummary {
  bdf: string;
  vendor: string;
  device: string;
  classCode: string;
  /** `bridge`, `nvme`, `network`, `display`, `storage`, ... from the class code. */
  kind: string;
  bars: { index: number; start: string; bytes: number; prefetch: boolean; is64: boolean }[];
  iommuGroup: number;
  upstream: string[];
}

/** PCI tree summary. */
export interface PciSummary {
  devices: PciDeviceSummary[];
  /** Printable tree, one line per function (lspci -tv like). */
  tree: string[];
}

/** P2P map type of one (provider, client) pair: drivers/pci/p2pdma.c names. */
export type P2pType = "NONE" | "NOT_SUPPORTED" | "BUS_ADDR" | "THRU_HOST_BRIDGE";

/** Every memory-BAR provider x every DMA-capable client. */
export interface P2pMatrix {
  /** Providers: one per memory BAR of a DMA-capable function, with its size. */
  providers: { bdf: string; bar: number; bytes: number }[];
  /** DMA-capable client functions: every function but bridges, the host bridge function and non-DMA system peripherals (see isDmaCapable). */
  clients: string[];
  /** Row-major cells: `cells[p * clients.length + c]`. */
  cells: { type: P2pType; distance: number }[];
  /** What the matrix assumes, or why it is empty. */
  notes: string[];
}

/** IOMMU presence. */
export interface IommuPresence {
  present: boolean;
  units: string[];
  /** Number of distinct IOMMU groups among PCI functions. */
  groups: number;
}

/**
 * Whether a result is whole. `empty`: no present pages were read; `partial`: something asked for
 * was left out (a process that could not be read, a range widened or partly unmapped); each
 * note is one line saying what and why.
 */
export interface Completeness {
  status: "complete" | "partial" | "empty";
  notes: string[];
}

/** Results of one simulated scenario (scenarios/ runScenario), for the report: model numbers, not this machine's. */
export interface ScenarioSummary {
  name: string;
  description: string;
  seed: number;
  size: number;
  design: Record<string, number>;
  baseline: Record<string, number>;
  ratios: Record<string, number>;
  /** How the numbers were obtained when not plainly (e.g. an extrapolated baseline). */
  notes: string[];
}

/** The whole machine analysis: the `phyr report --json` / `phyr analyze --json` document. */
export interface MachineAnalysis {
  schema: typeof ANALYSIS_SCHEMA;
  /** Linux release whose rules every kernel-side figure follows (core/kernel.ts KERNEL_MODEL), e.g. `"7.2"`. */
  kernelModel: string;
  origin: MachineOrigin;
  host: { hostname: string; kernel: string; pageSize: number };
  access: { pfns: boolean; iomem: boolean; messages: string[] };
  physmap: PhysMapSummary;
  pci: PciSummary;
  iommu: IommuPresence;
  p2p: P2pMatrix;
  /** Per-buffer analyses (one per process or per requested range). */
  buffers: BufferAnalysis[];
  /** Sums over all buffers (label `total`, pid -1). */
  total: BufferAnalysis;
  /**
   * Fixed model scenarios of `phyr simulate` (a simulated machine, not this one): filled only when
   * asked (`phyr report --scenarios`), empty otherwise.
   */
  scenarios: ScenarioSummary[];
  /** Kernel way vs design for the largest buffers read, computed from their runs. */
  whatIf: WhatIfRow[];
  /** Shares of contiguous memory and the savings that matter most, with sentences. */
  verdict: Verdict;
  /** Empty or partial result, said in one line each. */
  completeness: Completeness;
}
