/**
 * The analyze layer's input and output shapes. Inputs describe a machine the way both the live
 * readers and snapshots (`linux/`) give it, and any other machine description can; outputs are plain,
 * JSON-able data (the `--json` shape of the CLI and the data island of the HTML report).
 *
 * Conventions of the output: addresses are hex strings (`"0x1000"`), sizes and counts are numbers
 * (bytes or entries, always integers below 2^53).
 */

/** Page runs of one VA range as struct-of-arrays (a run: virtual and physical pages both continue). */
export interface RunsInput {
  /** Number of runs used in the arrays. */
  readonly count: number;
  /** Virtual address of each run's first page. */
  readonly va: ArrayLike<number>;
  /** Page frame number of each run's first page. */
  readonly pfn: ArrayLike<number>;
  /** Pages in each run. */
  readonly npages: ArrayLike<number>;
  /** Backing of each run (machine/page-runs.ts RunKind: 0 unknown, 1 base, 2 THP, 3 hugetlb, 4 zero page), when known. */
  readonly kind?: ArrayLike<number>;
}

/** One buffer to analyze: the present pages of a VA range, in VA order. */
export interface BufferInput {
  /** Human label, e.g. `"1234 nginx [heap]"` (untrusted text). */
  readonly label: string;
  /** Process id, or -1 when the buffer is not tied to a process. */
  readonly pid: number;
  /** Process name (untrusted text). */
  readonly comm: string;
  /** Start of the VA range (bytes). */
  readonly vaStart: number;
  /** Length of the VA range (bytes). */
  readonly vaLength: number;
  /** The present pages of the range as runs, sorted by VA. */
  readonly runs: RunsInput;
  /** Pages of the range that were swapped out (not in `runs`). */
  readonly swapped: number;
  /** Pages of the range that were not mapped (not in `runs`). */
  readonly unmapped: number;
}

/** One node of the physical resource tree (/proc/iomem style). */
export interface IomemInput {
  readonly start: number;
  /** Inclusive end address, as /proc/iomem prints it. */
  readonly end: number;
  /** Resource name (untrusted text). */
  readonly name: string;
  readonly children: readonly IomemInput[];
}

/** One PCI BAR. */
export interface BarInput {
  /** BAR index 0..5 (or the resource line index for ROM/bridge windows). */
  readonly index: number;
  /** CPU physical start address. */
  readonly start: number;
  /** Size in bytes (> 0). */
  readonly size: number;
  /** Memory BAR (true) or I/O port BAR (false). */
  readonly mem: boolean;
  readonly prefetch: boolean;
  readonly is64: boolean;
}

/** One PCI function. */
export interface PciInput {
  /** Domain:bus:device.function, e.g. `0000:00:03.0`. */
  readonly bdf: string;
  readonly vendor: number;
  readonly device: number;
  /** 24-bit class code. */
  readonly classCode: number;
  readonly bars: readonly BarInput[];
  /** IOMMU group number, or -1 without an IOMMU. */
  readonly iommuGroup: number;
  /** Upstream bridges from the root down to the device's parent (BDFs), as the sysfs path gives them. */
  readonly upstream: readonly string[];
  /** ACS control bits (PciAcs) when known (a model machine); absent: unknown, assumed off. */
  readonly acsCtrl?: number;
}

/** P2P facts sysfs does not show, given when the machine description knows them (a model machine). */
export interface P2pPlatformInput {
  /** Host bridges' entry on the P2P allowlist (drivers/pci/p2pdma.c pci_p2pdma_whitelist). */
  readonly allowlist: "none" | "sameHostBridge" | "any";
  /** The CPU forwards P2P between root ports (cpu_supports_p2pdma: AMD family >= 0x17). */
  readonly cpuSupportsP2p: boolean;
}

/** Where a machine's data came from: the live machine, a snapshot file, or phyr's reference machine. */
export type MachineOrigin = "live" | "snapshot" | "reference";

/** Which privileged data could be read. */
export interface AccessInput {
  /** Page frame numbers in /proc/PID/pagemap are real (not zeroed). */
  readonly pfns: boolean;
  /** /proc/iomem addresses are real. */
  readonly iomem: boolean;
  /** Plain sentences saying what is missing and how to get it. */
  readonly messages: readonly string[];
}

/** Machine-level facts the analysis needs, with no behaviour (live machine or snapshot). */
export interface MachineInput {
  readonly origin: MachineOrigin;
  readonly hostname: string;
  readonly kernel: string;
  readonly pageSize: number;
  readonly access: AccessInput;
  readonly iomem: readonly IomemInput[];
  readonly pci: readonly PciInput[];
  /** IOMMU unit names from /sys/class/iommu (empty: no IOMMU). */
  readonly iommus: readonly string[];
  /** Allowlist and CPU P2P support when known; absent: assumed not allowlisted, no CPU forwarding. */
  readonly p2pPlatform?: P2pPlatformInput;
}
