/**
 * The reading half of `capture()`: one process's VMAs (smaps) and each VMA's runs (pagemap), as
 * plain data: the VMA record's page counts and its `runs` records as ready lines. Nothing here
 * depends on the order processes are read in (names, paths and truncation counting stay with the
 * writer, snapshot-write.ts), so any thread with its own source can read any process and the file
 * is the same.
 */

import { hex, PAGE_SIZE } from "../core/index.js";
import type { VmaStats } from "./maps.js";
import { RUNS_PER_RECORD } from "./snapshot-schema.js";
import type { MachineSource } from "./source.js";

/** VmFlags of VMAs whose pages smaps may not count (fs/proc/task_mmu.c show_smap_vma_flags()). */
const NO_STRUCT_PAGE = new Set(["pf", "mm", "io"]);

/**
 * The pages smaps says a whole VMA holds, so a live source may stop reading its pagemap once it
 * found them: (Rss + Swap + hugetlb bytes) / 4096 (a hugetlb VMA's Rss is 0; smaps counts its pages
 * as Shared/Private_Hugetlb). None (read the whole VMA) for VM_PFNMAP, VM_MIXEDMAP and VM_IO VMAs
 * (VmFlags pf, mm, io): their pages may have no struct page, which smaps leaves out
 * (fs/proc/task_mmu.c smaps_pte_entry(): vm_normal_page() is NULL) while pagemap shows them
 * present. The same rule as collect.ts residentVmas (report/analyze). O(VmFlags).
 */
export function residentPagesOf(v: VmaStats): number | undefined {
  return v.vmFlags.some((f) => NO_STRUCT_PAGE.has(f)) ? undefined : (v.rss + v.swap + v.hugetlb) / PAGE_SIZE;
}

/** Page counts of a VMA record (pages not read count as unmapped). */
export interface VmaPages {
  present: number;
  swapped: number;
  unmapped: number;
  hidden: number;
}

/** One VMA read: its record's counts, and its `runs` records as lines (`text`, `records` of them). */
export interface VmaRead {
  pages: VmaPages;
  /** Runs in all (the VMA record's `runs`). */
  runs: number;
  /** Why pagemap could not be read (the raw message; the writer cuts it to the format's limit). */
  error?: string;
  /** The `runs` records, one JSON line each (UTF-8 bytes when sent from a worker thread). */
  text?: string | Uint8Array;
  /** `runs` records in `text`. */
  records: number;
}

/** One process read: its VMAs and their reads (in VMA order), or why it could not be read. */
export type ProcessRead =
  | { pid: number; vmas: VmaStats[]; reads: Iterable<VmaRead> }
  | { pid: number; error: { message: string; code?: string } };

/**
 * Where `capture()` gets processes from, in the order asked: called once with the pids to read,
 * it yields one {@link ProcessRead} per pid, in that order. `return()` stops it early (the capture
 * failed). In this thread by default ({@link readProcessesHere}); capture-workers.ts reads on threads.
 */
export type ProcessReader = (pids: readonly number[]) => AsyncIterator<ProcessRead>;

/**
 * Reads one VMA's runs: none when smaps says nothing is resident (Rss and hugetlb 0: the VMA is
 * swapped out or never touched), else pagemap up to the last resident page
 * ({@link residentPagesOf}). O(pages read + runs).
 */
export function readVma(src: MachineSource, pid: number, v: VmaStats): VmaRead {
  const total = (v.end - v.start) / PAGE_SIZE;
  if (v.rss === 0 && v.hugetlb === 0) {
    // Nothing resident: no pagemap read needed. A hugetlb VMA always shows Rss 0, so it is read.
    const swapped = Math.min(total, Math.floor(v.swap / PAGE_SIZE));
    return { pages: { present: 0, swapped, unmapped: total - swapped, hidden: 0 }, runs: 0, records: 0 };
  }
  let runs: ReturnType<MachineSource["runs"]>;
  try {
    runs = src.runs(pid, v.start, v.end, { residentPages: residentPagesOf(v) });
  } catch (e) {
    return {
      pages: { present: 0, swapped: 0, unmapped: total, hidden: 0 },
      runs: 0,
      error: plainError(e).message,
      records: 0,
    };
  }
  const lines: string[] = [];
  for (let s = 0; s < runs.count; s += RUNS_PER_RECORD) {
    const e = Math.min(runs.count, s + RUNS_PER_RECORD);
    const va: string[] = [];
    const pfn: string[] = [];
    for (let i = s; i < e; i++) {
      va.push(hex(runs.va[i]));
      pfn.push(hex(runs.pfn[i]));
    }
    const record = {
      type: "runs",
      pid,
      vma: hex(v.start),
      va,
      pfn,
      npages: Array.from(runs.npages.subarray(s, e)),
      flags: Array.from(runs.flags.subarray(s, e)),
      kind: Array.from(runs.kind.subarray(s, e)),
    };
    lines.push(`${JSON.stringify(record)}\n`);
  }
  return {
    pages: {
      present: runs.presentPages,
      swapped: runs.swappedPages,
      unmapped: runs.unmappedPages,
      hidden: runs.hiddenPages,
    },
    runs: runs.count,
    records: lines.length,
    ...(lines.length > 0 ? { text: lines.join("") } : {}),
  };
}

/** An error as plain data (message and errno code), as a worker thread can send it. O(1). */
export function plainError(e: unknown): { message: string; code?: string } {
  const code = (e as NodeJS.ErrnoException)?.code;
  const message = String((e as Error)?.message ?? e);
  return typeof code === "string" ? { message, code } : { message };
}

/**
 * One process read now, whole (smaps, then every VMA's runs), with the runs lines as UTF-8 bytes:
 * what a worker thread sends back, `transfer` listing the buffers to move rather than copy.
 * O(pages read + runs); memory O(the process's runs).
 */
export function readProcessWhole(
  src: MachineSource,
  pid: number,
): { read: ProcessRead; transfer: ArrayBuffer[] } {
  let vmas: VmaStats[];
  try {
    vmas = src.vmas(pid);
  } catch (e) {
    return { read: { pid, error: plainError(e) }, transfer: [] };
  }
  const enc = new TextEncoder();
  const transfer: ArrayBuffer[] = [];
  const reads = vmas.map((v) => {
    const r = readVma(src, pid, v);
    if (typeof r.text !== "string") return r;
    const bytes = enc.encode(r.text);
    transfer.push(bytes.buffer as ArrayBuffer);
    return { ...r, text: bytes };
  });
  return { read: { pid, vmas, reads }, transfer };
}

/**
 * The reader of `capture()` on one thread: each process's smaps when it is asked for, each VMA's
 * runs as the writer reaches it, so memory stays O(one VMA's runs). O(pages read + runs).
 */
export function readProcessesHere(src: MachineSource): ProcessReader {
  return (pids) => {
    let k = 0;
    return {
      next: async (): Promise<IteratorResult<ProcessRead>> => {
        if (k >= pids.length) return { done: true, value: undefined };
        const pid = pids[k++];
        let vmas: VmaStats[];
        try {
          vmas = src.vmas(pid);
        } catch (e) {
          return { done: false, value: { pid, error: plainError(e) } };
        }
        const reads = (function* () {
          for (const v of vmas) yield readVma(src, pid, v);
        })();
        return { done: false, value: { pid, vmas, reads } };
      },
    };
  };
}
