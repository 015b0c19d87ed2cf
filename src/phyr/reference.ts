/**
 * Naive page-by-page reference model of a range list, used by the tests as the oracle for every
 * PhyrList operation. Plain arrays of plain objects; clarity over speed. Not exported by index.ts.
 */
import { PAGE_SIZE } from "../core/index.js";
import type { PhyrEntry } from "./types.js";

/** One page-sized (or smaller) piece of an entry: the entry split at every page boundary. */
export interface RefPiece extends PhyrEntry {
  /** Index of the entry the piece belongs to. */
  entry: number;
}

/** Number of pages the entries touch (a page shared by two entries counts twice). O(n). */
export function refPageCount(entries: readonly PhyrEntry[]): number {
  let n = 0;
  for (const e of entries)
    n += Math.floor((e.addr + e.len - 1) / PAGE_SIZE) - Math.floor(e.addr / PAGE_SIZE) + 1;
  return n;
}

/**
 * Splits every entry at page boundaries: the page-by-page view two lists are compared on. O(pages).
 * @throws RangeError above `maxPages` pages (huge entries are compared entry by entry instead).
 */
export function refPieces(entries: readonly PhyrEntry[], maxPages = 1e5): RefPiece[] {
  if (refPageCount(entries) > maxPages) throw new RangeError("refPieces: too many pages to expand");
  const out: RefPiece[] = [];
  entries.forEach((e, i) => {
    let a = e.addr;
    const end = e.addr + e.len;
    while (a < end) {
      const next = Math.min(end, (Math.floor(a / PAGE_SIZE) + 1) * PAGE_SIZE);
      out.push({ addr: a, len: next - a, flags: e.flags, provider: e.provider, entry: i });
      a = next;
    }
  });
  return out;
}

/** Total bytes of the entries. */
export function refTotal(entries: readonly PhyrEntry[]): number {
  return entries.reduce((s, e) => s + e.len, 0);
}

/** Bytes [off, off + len) of the list, entries trimmed to the window. O(n). */
export function refSlice(entries: readonly PhyrEntry[], off: number, len: number): PhyrEntry[] {
  const out: PhyrEntry[] = [];
  let pos = 0;
  for (const e of entries) {
    const lo = Math.max(pos, off);
    const hi = Math.min(pos + e.len, off + len);
    if (lo < hi) out.push({ addr: e.addr + (lo - pos), len: hi - lo, flags: e.flags, provider: e.provider });
    pos += e.len;
  }
  return out;
}

/** Where list byte `b` lies: entry index, offset in it and its address; done at the end. O(n). */
export function refAt(
  entries: readonly PhyrEntry[],
  b: number,
): { done: boolean; index: number; offset: number; addr: number } {
  let pos = 0;
  for (let i = 0; i < entries.length; i++) {
    if (b < pos + entries[i].len)
      return { done: false, index: i, offset: b - pos, addr: entries[i].addr + b - pos };
    pos += entries[i].len;
  }
  return { done: true, index: entries.length, offset: 0, addr: 0 };
}

/** Options of {@link refFromPfns} (same meaning as FromPfnsOptions). */
export interface RefPfnOptions {
  flags?: number;
  provider?: (pfn: number) => number;
  maxSegment?: number;
  segBoundaryMask?: number;
  firstOffset?: number;
  totalBytes?: number;
}

/**
 * Page-by-page version of sg_alloc_table_from_pages (lib/scatterlist.c): each page joins the
 * current entry when its pfn is the previous + 1, the provider is the same, the entry has fewer
 * than maxSegment / PAGE_SIZE pages, and the page does not start a new boundary window; then the
 * first entry loses firstOffset bytes and the last ends at totalBytes. O(pages).
 */
export function refFromPfns(pfns: readonly number[], o: RefPfnOptions = {}): PhyrEntry[] {
  const prov = o.provider ?? (() => 0);
  const maxPages =
    o.maxSegment === undefined ? Number.POSITIVE_INFINITY : Math.floor(o.maxSegment / PAGE_SIZE);
  const window = o.segBoundaryMask === undefined ? Number.POSITIVE_INFINITY : o.segBoundaryMask + 1;
  const runs: { pfn: number; pages: number; provider: number }[] = [];
  for (let i = 0; i < pfns.length; i++) {
    const p = pfns[i];
    const cur = runs[runs.length - 1];
    const joins =
      cur !== undefined &&
      p === cur.pfn + cur.pages &&
      prov(p) === cur.provider &&
      cur.pages < maxPages &&
      (p * PAGE_SIZE) % window !== 0;
    if (joins) cur.pages++;
    else runs.push({ pfn: p, pages: 1, provider: prov(p) });
  }
  const entries = runs.map((r) => ({
    addr: r.pfn * PAGE_SIZE,
    len: r.pages * PAGE_SIZE,
    flags: o.flags ?? 0,
    provider: r.provider,
  }));
  const first = o.firstOffset ?? 0;
  const total = o.totalBytes ?? pfns.length * PAGE_SIZE - first;
  return refSlice(entries, first, total);
}
