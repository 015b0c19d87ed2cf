/**
 * The read interface every machine phyr analyses is seen through ({@link MachineSource}: the live
 * machine and snapshots in linux/, the reference machine in machine/reference-source.ts) and the
 * shapes it returns: /proc/iomem resources, sysfs PCI functions and IOMMU groups, processes,
 * smaps VMA counters, the access probe. Types only, no Node API: linux/ re-exports them beside the
 * readers that fill them.
 */

import type { PageRuns } from "./page-runs.js";

/** A machine to analyse: live or from a snapshot. */
export interface MachineSource {
  /** "live" or the snapshot file name. */
  readonly origin: string;
  /** Kernel release, version, hostname, page size. */
  kernel(): KernelInfo;
  /** What could be read (live: probed now; snapshot: as probed at capture). */
  access(): AccessProbe;
  /** /proc/iomem tree. */
  iomem(): IomemResource[];
  /** PCI devices sorted by BDF. */
  pci(): PciDevice[];
  /** IOMMU units and groups. */
  iommus(): IommuInfo;
  /** Processes sorted by pid (a snapshot lists the captured ones). */
  processes(): ProcessInfo[];
  /** VMAs of a process with smaps counters. @throws RangeError for an unknown pid (snapshot) */
  vmas(pid: number): VmaStats[];
  /**
   * Runs of [vaStart, vaEnd), classified by kpageflags when readable.
   * @throws RangeError for a bad range or unknown pid
   */
  runs(pid: number, vaStart: number, vaEnd: number, opts?: RunsOptions): PageRuns;
  /** Releases open files. */
  close(): void;
  /**
   * P2P facts sysfs does not show (ACS control, allowlist, CPU), for a source that knows them (a
   * model machine); absent on the live machine and snapshots.
   */
  p2pPlatform?(): P2pPlatform;
}

/** Options of {@link MachineSource.runs}. */
export interface RunsOptions {
  /** Called after each batch with bytes of virtual range done and in total (a reading source). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /**
   * Pages smaps says the range holds, for a range that is one whole VMA: (Rss + Swap) / 4096, or
   * the hugetlb bytes / 4096 of a hugetlb VMA. The live source, when /proc/kpageflags is readable,
   * stops reading pagemap once that many pages were found (the rest counts as unmapped), so a huge
   * sparse VMA costs its resident part; the runs are the same as a whole read's. Sources holding
   * runs in memory ignore it. Never pass it for a range that is not a whole VMA.
   */
  residentPages?: number;
}

/** P2P facts sysfs does not show but a model machine knows: ACS control per function, allowlist, CPU. */
export interface P2pPlatform {
  /** ACS control word per BDF (functions without ACS are absent). */
  acs: Map<string, number>;
  /** Allowlist entry of every host bridge. */
  allowlist: "none" | "sameHostBridge" | "any";
  /** CPU forwards P2P between root ports (AMD Zen). */
  cpuSupportsP2p: boolean;
}

/** Kernel identity. */
export interface KernelInfo {
  /** `uname -r`, e.g. "6.18.44". */
  release: string;
  /** The /proc/version line. */
  version: string;
  hostname: string;
  /** Base page size in bytes (the readers decode pagemap for 4 KiB pages). */
  pageSize: number;
}

/** One process. */
export interface ProcessInfo {
  pid: number;
  /** Short name (comm, at most 15 bytes in the kernel). */
  comm: string;
  /** Command line with NUL separators turned into spaces ("" for kernel threads). */
  cmdline: string;
}

/** State of one interface: "readable", "hidden" (reads as zeros), "unreadable", or "unknown" (nothing to tell by). */
export type AccessState = "readable" | "hidden" | "unreadable" | "unknown";

/** What could be read: the result of linux/access.ts probeAccess(), or a source's own answer. */
export interface AccessProbe {
  /** Pagemap frame numbers of the probed process. */
  pagemapFrames: AccessState;
  /** /proc/kpageflags. */
  kpageflags: AccessState;
  /** Addresses in /proc/iomem. */
  iomemAddresses: AccessState;
  /** CapEff of the probed process has CAP_SYS_ADMIN (undefined when unknown). */
  capSysAdmin: boolean | undefined;
  /** One plain sentence per missing capability: what is missing, how to get it, what still works. */
  messages: string[];
}

/** One resource: an inclusive physical range, its name, and the resources nested in it. */
export interface IomemResource {
  /** First byte. */
  start: number;
  /** Last byte (inclusive, as the kernel prints it). */
  end: number;
  /** Name after " : ", e.g. "System RAM", "PCI Bus 0000:00", "0000:00:01.0". */
  name: string;
  /** Nesting level: 0 for top-level entries. */
  depth: number;
  /** Nested resources in file order. */
  children: IomemResource[];
}

/** One resource (BAR, ROM or bridge window) of a device. */
export interface PciResource {
  /** Line number in `resource` minus 1: 0-5 BARs, 6 ROM, 7+ bridge windows. */
  index: number;
  /** First byte (CPU physical address). */
  start: number;
  /** Last byte (inclusive). */
  end: number;
  /** IORESOURCE_* flags (include/linux/ioport.h): 0x100 IO, 0x200 MEM, 0x2000 PREFETCH, 0x100000 MEM_64. */
  flags: number;
}

/** One PCI function. */
export interface PciDevice {
  /** Domain:bus:device.function, e.g. "0000:00:01.0". */
  bdf: string;
  vendor: number;
  device: number;
  /** 24-bit class code (base class, subclass, prog-if), e.g. 0x010802 NVMe. */
  class: number;
  /** Non-empty resources (start, end or flags non-zero). */
  resources: PciResource[];
  /** IOMMU group number, or -1 when the device has none. */
  iommuGroup: number;
  /** Host bridge directory the device hangs under, e.g. "pci0000:00". */
  hostBridge: string;
  /** Upstream bridges from the root port down to the parent (empty on the root bus). */
  upstream: string[];
}

/** IOMMU units and groups. */
export interface IommuInfo {
  /** Names under /sys/class/iommu (dmar0, ivhd0, ...); empty without an IOMMU. */
  units: string[];
  /** Groups with their member devices, sorted by group number. */
  groups: { id: number; devices: string[] }[];
}

/** One virtual memory area. */
export interface Vma {
  /** First byte (page aligned). */
  start: number;
  /** One past the last byte (page aligned). */
  end: number;
  /** Permissions as printed: four characters like "rw-p" (p = private, s = shared). */
  perms: string;
  /** File offset in bytes. */
  offset: number;
  /** Device "major:minor" in hex as printed. */
  dev: string;
  /** Inode number (0 for anonymous memory). */
  inode: number;
  /** Backing path, a pseudo name like "[heap]", or "" for anonymous memory. */
  path: string;
}

/** A VMA with its smaps counters, all in bytes. */
export interface VmaStats extends Vma {
  size: number;
  rss: number;
  pss: number;
  anonymous: number;
  /** Bytes of this VMA mapped by PMD-sized transparent huge pages. */
  anonHugePages: number;
  swap: number;
  locked: number;
  /** Bytes of hugetlbfs pages (Shared_Hugetlb + Private_Hugetlb). */
  hugetlb: number;
  /** Page size the kernel uses for this VMA (4096, or a hugetlb size). */
  kernelPageSize: number;
  /** Whether THP may back this VMA (THPeligible: 1). */
  thpEligible: boolean;
  /** VmFlags mnemonics ("rd", "wr", "hg" = MADV_HUGEPAGE, "ht" = hugetlb, ...). */
  vmFlags: string[];
}
