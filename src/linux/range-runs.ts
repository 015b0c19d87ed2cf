/**
 * {@link mappedRangeRuns}: the runs of a virtual range of one process, reading only the parts of
 * the range that lie inside the process's VMAs. Holes between VMAs are unmapped by definition and
 * are counted without a read, so the work is proportional to the mapped part of the range, not
 * to its length (`--range 0x0:0xfffffffffffff` reads what the process maps, not 2^52 bytes of
 * pagemap). The range is clipped to the span of the VMAs it overlaps, which also keeps reads below
 * the top of the user address space, where pagemap ends (fs/proc/task_mmu.c pagemap_read():
 * `end_vaddr = mm->task_size`; a read at or past it returns 0 bytes).
 */

import { hex, PAGE_SIZE } from "../core/index.js";
import { PageRuns } from "../machine/index.js";
import type { MachineSource } from "./source.js";

/** What {@link mappedRangeRuns} read. */
export interface RangeRuns {
  /** Runs over the clipped range [start, end); holes between VMAs count as unmapped pages. */
  runs: PageRuns;
  /** The requested range clipped to the span of the VMAs it overlaps (page aligned). */
  start: number;
  end: number;
  /** Bytes of the clipped range inside VMAs: what pagemap was read for. */
  mappedBytes: number;
}

/**
 * Reads the runs of [start, end) of `pid`, clipped to its VMAs. O(log VMAs + VMAs in the range +
 * pages inside them); memory O(runs).
 * @param src the machine.
 * @param pid the process.
 * @param start first byte (rounded down to a page).
 * @param end end (exclusive; rounded up to a page).
 * @param onProgress called with bytes of mapped range read so far and in total.
 * @returns the runs and the clipped range.
 * @throws RangeError naming the range and the span of the VMAs when the range overlaps none of
 *   them; what `src.vmas` and `src.runs` throw (a process that exited, an unreadable pagemap).
 */
export function mappedRangeRuns(
  src: MachineSource,
  pid: number,
  start: number,
  end: number,
  onProgress?: (doneBytes: number, totalBytes: number) => void,
): RangeRuns {
  const a = Math.floor(start / PAGE_SIZE) * PAGE_SIZE;
  const b = Math.ceil(end / PAGE_SIZE) * PAGE_SIZE;
  const vmas = src.vmas(pid);
  let lo = 0;
  let hi = vmas.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (vmas[mid].end <= a) lo = mid + 1;
    else hi = mid;
  }
  const parts: { start: number; end: number }[] = [];
  for (let i = lo; i < vmas.length && vmas[i].start < b; i++) {
    parts.push({ start: Math.max(a, vmas[i].start), end: Math.min(b, vmas[i].end) });
  }
  if (parts.length === 0) {
    const span =
      vmas.length === 0
        ? "it has no VMAs"
        : `its VMAs lie in ${hex(vmas[0].start)}-${hex(vmas[vmas.length - 1].end)}`;
    throw new RangeError(`range ${hex(a)}-${hex(b)} is invalid: it overlaps no VMA of pid ${pid} (${span})`);
  }
  const cs = parts[0].start;
  const ce = parts[parts.length - 1].end;
  const total = parts.reduce((t, p) => t + p.end - p.start, 0);
  if (parts.length === 1) {
    // One VMA: its runs over exactly [cs, ce) are the answer (no copy).
    const p = parts[0];
    const r = src.runs(pid, p.start, p.end, {
      onProgress: onProgress ? (d) => onProgress(d, total) : undefined,
    });
    onProgress?.(total, total);
    return { runs: r, start: cs, end: ce, mappedBytes: total };
  }
  const out = new PageRuns(cs, ce);
  let done = 0;
  let prevEnd = cs;
  for (const p of parts) {
    out.unmappedPages += (p.start - prevEnd) / PAGE_SIZE;
    const r = src.runs(pid, p.start, p.end, {
      onProgress: onProgress ? (d) => onProgress(done + d, total) : undefined,
    });
    out.appendRuns(r);
    out.presentPages += r.presentPages;
    out.swappedPages += r.swappedPages;
    out.unmappedPages += r.unmappedPages;
    out.hiddenPages += r.hiddenPages;
    done += p.end - p.start;
    onProgress?.(done, total);
    prevEnd = p.end;
  }
  return { runs: out, start: cs, end: ce, mappedBytes: total };
}
