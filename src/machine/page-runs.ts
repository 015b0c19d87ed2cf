/**
 * {@link PageRuns}: the present pages of a virtual range grouped into runs the way page-types -l
 * groups them (tools/mm/page-types.c show_page_range: a run continues while the virtual page and
 * the frame both continue and the flags are equal). Struct-of-arrays typed storage with a
 * capacity separate from the count; no object per run.
 */
import { ADDR_LIMIT, checkAddr, growColumn, hex } from "../core/index.js";

/** Run flag bits (one byte per run), taken from the pagemap word (Documentation/admin-guide/mm/pagemap.rst). */
export const RunFlag = {
  /** Bit 63: page present in RAM (always set on a run). */
  PRESENT: 1,
  /** Bit 61: file-backed page or shared anonymous page. */
  FILE: 2,
  /** Bit 56: page mapped exclusively (by this process only). */
  EXCLUSIVE: 4,
  /** Bit 55: soft-dirty. */
  SOFT_DIRTY: 8,
} as const;

/** What backs a run, from /proc/kpageflags (see kpageflags.ts). */
export const RunKind = {
  /** Not classified, or frames hidden (no CAP_SYS_ADMIN) or kpageflags unreadable. */
  UNKNOWN: 0,
  /** Ordinary (order-0 or non-THP) pages. */
  BASE: 1,
  /** One transparent huge page folio (KPF_THP). */
  THP: 2,
  /** One hugetlbfs page (KPF_HUGE). */
  HUGETLB: 3,
  /** The shared zero page (KPF_ZERO_PAGE), mapped by reading untouched anonymous memory. */
  ZERO: 4,
} as const;

/** Names of {@link RunKind} values, indexed by value. */
export const RUN_KIND_NAMES = ["unknown", "base", "thp", "hugetlb", "zero"] as const;

/** Largest frame number a run may hold (pagemap carries 55 bits; x86-64 physical memory 2^52 bytes). */
export const MAX_PFN = 2 ** 40;

/**
 * Runs of present pages plus page counts over a virtual range. Arrays are valid up to `count`.
 * Append is O(1) amortised (capacity doubles); every read is O(1).
 */
export class PageRuns {
  /** Start virtual address of each run. */
  va: Float64Array;
  /** First frame number of each run (0 when frames are hidden). */
  pfn: Float64Array;
  /** Pages in each run. */
  npages: Float64Array;
  /** {@link RunFlag} bits of each run. */
  flags: Uint8Array;
  /** {@link RunKind} of each run (UNKNOWN until classified). */
  kind: Uint8Array;
  /** Number of runs. */
  count = 0;
  /** Present pages (sum of npages). */
  presentPages = 0;
  /** Pages swapped out (bit 62). */
  swappedPages = 0;
  /** Pages neither present nor swapped. */
  unmappedPages = 0;
  /** Present pages whose frame number read as 0: frames hidden without CAP_SYS_ADMIN. */
  hiddenPages = 0;
  /**
   * Where reading ended: `vaEnd` unless a reader stopped early (pagemap's `stopAfterPages`), in
   * which case the pages from here to `vaEnd` were not read and count as unmapped.
   */
  readEnd: number;

  /**
   * @param vaStart first byte of the range the runs describe (page aligned)
   * @param vaEnd end of the range (exclusive, page aligned)
   * @param capacity initial run capacity (>= 1)
   */
  constructor(
    readonly vaStart: number,
    readonly vaEnd: number,
    capacity = 64,
  ) {
    this.readEnd = vaEnd;
    const c = Math.max(1, capacity);
    this.va = new Float64Array(c);
    this.pfn = new Float64Array(c);
    this.npages = new Float64Array(c);
    this.flags = new Uint8Array(c);
    this.kind = new Uint8Array(c);
  }

  /** Pages in the range. */
  get totalPages(): number {
    return (this.vaEnd - this.vaStart) / 4096;
  }

  /** True when pages are present but every frame number read as 0 (CAP_SYS_ADMIN missing). */
  get framesHidden(): boolean {
    return this.presentPages > 0 && this.hiddenPages === this.presentPages;
  }

  /** Appends one run (no merging; callers decide run boundaries). O(1) amortised. */
  push(va: number, pfn: number, npages: number, flags: number, kind: number = RunKind.UNKNOWN): void {
    if (this.count === this.va.length) this.grow();
    const i = this.count++;
    this.va[i] = va;
    this.pfn[i] = pfn;
    this.npages[i] = npages;
    this.flags[i] = flags;
    this.kind[i] = kind;
  }

  /**
   * Appends every run of `other` after this list's runs, with one typed-array copy per column (no
   * merging; `other`'s runs must start at or after this list's last run ends). Page counts
   * (present, swapped, ...) are the caller's to add. O(other.count).
   */
  appendRuns(other: PageRuns): void {
    const n = other.count;
    this.reserve(n);
    const at = this.count;
    this.va.set(other.va.subarray(0, n), at);
    this.pfn.set(other.pfn.subarray(0, n), at);
    this.npages.set(other.npages.subarray(0, n), at);
    this.flags.set(other.flags.subarray(0, n), at);
    this.kind.set(other.kind.subarray(0, n), at);
    this.count = at + n;
  }

  /** Makes room for `extra` more runs without further growth. O(count) when it grows. */
  reserve(extra: number): void {
    if (this.va.length < this.count + extra) this.resize(Math.max(this.va.length * 2, this.count + extra));
  }

  /**
   * Doubles capacity, copying the first `count` entries (not the whole old capacity: untouched
   * capacity costs no memory until written, and copying it would fault it in). O(count).
   */
  grow(): void {
    this.resize(this.va.length * 2);
  }

  /** Moves the columns to arrays of capacity `c` (>= count), copying the first `count` entries. O(count). */
  private resize(c: number): void {
    const n = this.count;
    this.va = growColumn(this.va, c, n);
    this.pfn = growColumn(this.pfn, c, n);
    this.npages = growColumn(this.npages, c, n);
    this.flags = growColumn(this.flags, c, n);
    this.kind = growColumn(this.kind, c, n);
  }

  /** Pages of the given kind. O(count). */
  pagesOfKind(kind: number): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.kind[i] === kind) n += this.npages[i];
    return n;
  }

  /**
   * Verifies the invariants in O(count): runs in VA order, not overlapping, inside the range, page
   * aligned, non-empty, PRESENT flag set, frames below 2^40, kinds known, and page counts that add
   * up (present + swapped + unmapped = pages in the range).
   * @throws Error naming the first broken invariant
   */
  checkValid(): void {
    if (this.vaStart % 4096 !== 0 || this.vaEnd % 4096 !== 0 || this.vaEnd < this.vaStart) {
      throw new Error(`PageRuns range ${hex(this.vaStart)}-${hex(this.vaEnd)} is not a page-aligned range`);
    }
    let present = 0;
    let prevEnd = this.vaStart;
    for (let i = 0; i < this.count; i++) {
      const va = this.va[i];
      const n = this.npages[i];
      if (va % 4096 !== 0 || va < prevEnd)
        throw new Error(`run ${i} at ${hex(va)} is unaligned or overlaps the run before`);
      if (!Number.isInteger(n) || n < 1) throw new Error(`run ${i} has ${n} pages`);
      if (va + n * 4096 > this.vaEnd)
        throw new Error(`run ${i} at ${hex(va)} ends beyond ${hex(this.vaEnd)}`);
      if (!Number.isInteger(this.pfn[i]) || this.pfn[i] < 0 || this.pfn[i] + n > MAX_PFN)
        throw new Error(`run ${i} frame ${this.pfn[i]} is out of range`);
      if ((this.flags[i] & RunFlag.PRESENT) === 0 || this.flags[i] > 15)
        throw new Error(`run ${i} flags ${this.flags[i]} are invalid`);
      if (this.kind[i] >= RUN_KIND_NAMES.length) throw new Error(`run ${i} kind ${this.kind[i]} is invalid`);
      present += n;
      prevEnd = va + n * 4096;
    }
    if (present !== this.presentPages)
      throw new Error(`runs hold ${present} pages but presentPages is ${this.presentPages}`);
    if (this.hiddenPages > present)
      throw new Error(`hiddenPages ${this.hiddenPages} exceeds present pages ${present}`);
    if (present + this.swappedPages + this.unmappedPages !== this.totalPages) {
      throw new Error(
        `present ${present} + swapped ${this.swappedPages} + unmapped ${this.unmappedPages} != ${this.totalPages} pages in the range`,
      );
    }
  }
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
