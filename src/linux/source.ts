/**
 * {@link MachineSource}: one read interface over a live machine and a loaded snapshot, so the
 * analyze layer treats both the same way.
 */
import { existsSync, readFileSync } from "node:fs";
import { type MachineSource, type PageRuns, RunKind } from "../machine/index.js";
import { type AccessProbe, probeAccess } from "./access.js";
import { procPath, type ReaderOptions } from "./io.js";
import { readIomem } from "./iomem.js";
import { classifyRuns, type KpageflagsSource, openKpageflags } from "./kpageflags.js";
import { readSmaps } from "./maps.js";
import { readPagemapRuns } from "./pagemap.js";
import { readIommus, readPciDevices } from "./pci.js";
import { readKernelInfo, readProcesses } from "./processes.js";

/** The interface and the range clipping every source shares, defined with the model (machine/). */
export { clipRuns, type MachineSource, type P2pPlatform, type RunsOptions } from "../machine/index.js";

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
        const zero = runs.pagesOfKind(RunKind.ZERO);
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
