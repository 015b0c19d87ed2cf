/**
 * {@link MachineSource}: one read interface over a live machine and a loaded snapshot, so the
 * analyze layer treats both the same way.
 */
import { existsSync, readFileSync } from "node:fs";
import { ADDR_LIMIT, checkAddr, hex } from "../core/index.js";
import { type AccessProbe, probeAccess } from "./access.js";
import { procPath, type ReaderOptions } from "./io.js";
import { type IomemResource, readIomem } from "./iomem.js";
import { classifyRuns, type KpageflagsSource, openKpageflags } from "./kpageflags.js";
import { readSmaps, type VmaStats } from "./maps.js";
import { type PagemapOptions, readPagemapRuns } from "./pagemap.js";
import { type IommuInfo, type PciDevice, readIommus, readPciDevices } from "./pci.js";
import { type KernelInfo, type ProcessInfo, readKernelInfo, readProcesses } from "./processes.js";
import { PageRuns, RunKind } from "./runs.js";

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
export interface RunsOptions extends Pick<PagemapOptions, "onProgress"> {
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

/** Live machine options. */
export interface LiveSourceOptions extends ReaderOptions {
  /** Classify runs with /proc/kpageflags when readable (default true). */
  classify?: boolean;
}

/**
 * A {@link MachineSource} reading /proc and /sys now. Access is probed once, on first use.
 * @param opts roots and classification switch
 */
export function liveSource(opts: LiveSourceOptions = {}): MachineSource {
  let probe: AccessProbe | undefined;
  let kpf: KpageflagsSource | null | undefined;
  const kpageflags = (): KpageflagsSource | null => {
    if (kpf !== undefined) return kpf;
    try {
      kpf = opts.classify === false ? null : openKpageflags(opts);
    } catch {
      kpf = null;
    }
    return kpf;
  };
  return {
    origin: "live",
    kernel: () => readKernelInfo(opts),
    access: () => {
      probe ??= probeAccess(opts);
      return probe;
    },
    iomem: () => readIomem(opts),
    pci: () => readPciDevices(opts),
    iommus: () => readIommus(opts),
    processes: () => readProcesses(opts),
    vmas(pid) {
      const v = readSmaps(pid, opts);
      // A process killed while being read is torn down, then a zombie until reaped: its smaps
      // shows VMAs with no Rss, then nothing, as a kernel thread's does. Alive after the read
      // means alive during it; otherwise say it exited instead of reporting "no memory".
      if (!processAlive(pid, opts)) throw exitedError(pid);
      return v;
    },
    runs(pid, vaStart, vaEnd, o) {
      const read = (stopAfterPages?: number): PageRuns => {
        let runs: PageRuns;
        try {
          runs = readPagemapRuns(pid, vaStart, vaEnd, { ...opts, onProgress: o?.onProgress, stopAfterPages });
        } catch (e) {
          // fs/proc/task_mmu.c pagemap_read(): once the mm is gone (!mmget_not_zero) a read returns
          // 0 bytes, which the reader reports as a short file; say what happened instead.
          if (!processAlive(pid, opts)) throw exitedError(pid);
          throw e;
        }
        // Pages of an exiting process read as not present: only a read the process outlived is whole.
        if (!processAlive(pid, opts)) throw exitedError(pid);
        const src = runs.presentPages > runs.hiddenPages ? kpageflags() : null;
        return src ? classifyRuns(runs, src) : runs;
      };
      // Early stop only where the zero page can be told apart (kpageflags readable): smaps Rss
      // leaves it out (fs/proc/task_mmu.c smaps_pte_entry(): vm_normal_page() is NULL for the zero
      // pfn; smaps_pmd_entry(): vm_normal_page_pmd() for the huge zero page), pagemap shows it present.
      const resident = o?.residentPages;
      if (resident === undefined || kpageflags() === null) return read();
      let limit = resident;
      for (;;) {
        const runs = read(limit);
        if (runs.readEnd >= vaEnd) return runs;
        // Stopped early: every page smaps counts was found, unless zero pages (not in Rss) were
        // counted towards the limit, or frames were hidden (nothing classified): read on past them.
        if (runs.presentPages > 0 && runs.hiddenPages === runs.presentPages) return read();
        const zero = zeroPages(runs);
        if (resident + zero <= limit) return runs;
        limit = resident + zero;
      }
    },
    close() {
      if (kpf) kpf.close();
      kpf = undefined;
    },
  };
}

/** Pages of zero-page runs (RunKind.ZERO). O(runs). */
function zeroPages(runs: PageRuns): number {
  let n = 0;
  for (let i = 0; i < runs.count; i++) if (runs.kind[i] === RunKind.ZERO) n += runs.npages[i];
  return n;
}

/**
 * Whether process `pid` still runs: in `<procRoot>/<pid>/stat` its state is neither Z (zombie)
 * nor X (dead) (fs/proc/array.c task_state_array) and its flags lack PF_EXITING; without a stat
 * file, whether its directory exists. O(1).
 */
export function processAlive(pid: number, opts: ReaderOptions = {}): boolean {
  try {
    const stat = readFileSync(procPath(opts, String(pid), "stat"), "utf8");
    // "pid (comm) S ppid pgrp session tty_nr tpgid flags ...": comm may hold spaces and
    // parentheses, so the fields follow the last ')' (fs/proc/array.c do_task_stat).
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const flags = Number(f[6]);
    // include/linux/sched.h PF_EXITING (0x4), set first thing in do_exit(): the mm may already
    // be gone while the state still reads R or D.
    return f[0] !== "Z" && f[0] !== "X" && !(Number.isInteger(flags) && (flags & PF_EXITING) !== 0);
  } catch {
    // No stat (a fixture tree holds only some files): alive while its directory exists.
    return existsSync(procPath(opts, String(pid)));
  }
}

/** include/linux/sched.h: the task is getting shut down. */
const PF_EXITING = 0x4;

/** The error of a process that exited while being read (code ESRCH, as kill(2) gives). */
function exitedError(pid: number): Error {
  return Object.assign(new Error(`process ${pid} exited while being read`), { code: "ESRCH" });
}

/**
 * Runs of `parts` (each covering its own VA range, ascending, not overlapping) restricted to
 * [vaStart, vaEnd); pages of the range no part covers count as unmapped.
 * O(log parts + overlapping parts x log runs + runs in the range).
 * @throws RangeError for a bad or unaligned range (the end may be 2^52 itself: it is exclusive)
 */
export function clipRuns(parts: readonly PageRuns[], vaStart: number, vaEnd: number): PageRuns {
  checkAddr("range start", vaStart);
  if (vaEnd !== ADDR_LIMIT) checkAddr("range end", vaEnd);
  if (vaStart % 4096 !== 0 || vaEnd % 4096 !== 0 || vaEnd <= vaStart) {
    throw new RangeError(`range ${hex(vaStart)}-${hex(vaEnd)} is invalid: expected page-aligned start < end`);
  }
  const out = new PageRuns(vaStart, vaEnd);
  let covered = 0;
  // Parts are ascending and disjoint: start at the first one ending after vaStart and stop at the
  // first one starting at or after vaEnd, so clipping each VMA of a process is not O(VMAs) each.
  for (let k = firstPartEndingAfter(parts, vaStart); k < parts.length; k++) {
    const p = parts[k];
    if (p.vaStart >= vaEnd) break;
    const lo = Math.max(p.vaStart, vaStart);
    const hi = Math.min(p.vaEnd, vaEnd);
    if (lo >= hi) continue;
    covered += (hi - lo) / 4096;
    const whole = lo === p.vaStart && hi === p.vaEnd;
    if (whole) {
      out.swappedPages += p.swappedPages;
      out.hiddenPages += p.hiddenPages;
    }
    let present = 0;
    for (let i = firstRunEndingAfter(p, lo); i < p.count && p.va[i] < hi; i++) {
      const a = Math.max(p.va[i], lo);
      const b = Math.min(p.va[i] + p.npages[i] * 4096, hi);
      if (a >= b) continue;
      const skip = (a - p.va[i]) / 4096;
      const n = (b - a) / 4096;
      out.push(a, p.pfn[i] === 0 ? 0 : p.pfn[i] + skip, n, p.flags[i], p.kind[i]);
      present += n;
      if (!whole && p.pfn[i] === 0) out.hiddenPages += n;
    }
    out.presentPages += present;
    // Swapped pages are counted per range, not located: a partial overlap cannot split them, so
    // they are reported as not present (unmapped) there.
    out.unmappedPages += (hi - lo) / 4096 - present - (whole ? p.swappedPages : 0);
  }
  out.unmappedPages += (vaEnd - vaStart) / 4096 - covered;
  return out;
}

/** Index of the first part that ends after `va` (parts are ascending and disjoint). O(log parts). */
function firstPartEndingAfter(parts: readonly PageRuns[], va: number): number {
  let lo = 0;
  let hi = parts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (parts[mid].vaEnd <= va) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first run of `p` that ends after `va` (runs are ascending). O(log runs). */
function firstRunEndingAfter(p: PageRuns, va: number): number {
  let lo = 0;
  let hi = p.count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (p.va[mid] + p.npages[mid] * 4096 <= va) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
