/**
 * The Format contract every representation implements, and the small helpers they share: walking
 * a list's entries without allocation, struct page pointers, and the page-counted segment split of
 * lib/scatterlist.c.
 */
import { PAGE_SIZE } from "../core/index.js";
import { PFN_LIMIT, type PhyrList, type PhyrRead } from "../phyr/index.js";
import type { ByteReader } from "./wire.js";

/** What survives a round trip through a format. */
export interface FormatHolds {
  /** Entry flags (PINNED, REF, BUS_ADDR, MMIO, DIRTY). */
  flags: boolean;
  /** Provider indices. */
  provider: boolean;
  /** Byte-exact ranges; when false only the sequence of pages touched survives. */
  byteGranular: boolean;
}

/** One representation a PhyrList is measured against: exact byte accounting plus a real codec. */
export interface Format {
  /** Short name, e.g. "scatterlist". */
  readonly name: string;
  /** The kernel file(s) the layout follows. */
  readonly kernelSource: string;
  /** Exact bytes the representation occupies for `list`, computed arithmetically. O(n) or better. */
  bytesFor(list: PhyrRead): number;
  /**
   * The real little-endian byte layout, exactly `bytesFor(list)` bytes. O(n) (O(pages) for the
   * page-per-element formats `pages` and `biovec-page`).
   * @throws RangeError when the encoding would exceed 4 GiB (one buffer).
   */
  encode(list: PhyrRead): Uint8Array;
  /**
   * Parses bytes back into a list (untrusted input).
   * @throws ParseError naming the format and the offending field/offset.
   */
  decode(bytes: Uint8Array): PhyrList;
  /** What survives a round trip. */
  readonly holds: FormatHolds;
}

/** Number of 4 KiB pages [addr, addr + len) touches. O(1). */
export function pagesTouched(addr: number, len: number): number {
  return Math.floor((addr + len - 1) / PAGE_SIZE) - Math.floor(addr / PAGE_SIZE) + 1;
}

/** x86-64 VMEMMAP_START with 4-level paging (Documentation/arch/x86/x86_64/mm.rst), high u32. */
export const VMEMMAP_START_HI = 0xffffea00;
/** sizeof(struct page) on x86-64. */
export const STRUCT_PAGE_SIZE = 64;

const P32 = 0x100000000;

/**
 * Low u32 of the struct page pointer of `pfn`: vmemmap + pfn * 64 (include/asm-generic/memory_model.h
 * __pfn_to_page with SPARSEMEM_VMEMMAP). O(1).
 */
export function pagePtrLo(pfn: number): number {
  return (pfn * STRUCT_PAGE_SIZE) % P32;
}

/**
 * High u32 of the struct page pointer of `pfn`. For pfns of 2^34 and above (beyond the 64 TiB a
 * 4-level vmemmap covers) the value wraps modulo 2^64, which keeps it a bijection. O(1).
 */
export function pagePtrHi(pfn: number): number {
  return (VMEMMAP_START_HI + Math.floor((pfn * STRUCT_PAGE_SIZE) / P32)) >>> 0;
}

/**
 * The pfn of a struct page pointer given as halves (flag bits already masked off), or -1 when the
 * value is not a pointer into the vmemmap array (misaligned, or beyond 2^40 pages). O(1).
 */
export function pfnOfPagePtr(lo: number, hi: number): number {
  if ((lo & (STRUCT_PAGE_SIZE - 1)) !== 0) return -1; // a mask: `%` of a u32 above 2^31 is a slow fmod
  const h = (hi - VMEMMAP_START_HI) >>> 0;
  if (h >= PFN_LIMIT / (P32 / STRUCT_PAGE_SIZE)) return -1;
  return (h * P32 + lo) / STRUCT_PAGE_SIZE;
}

/**
 * Number of segments lib/scatterlist.c sg_alloc_append_table_from_pages() cuts a range into: a
 * segment holds at most `maxSegPages` pages (max_segment is counted in whole pages) and only the
 * first has an in-page offset. O(1).
 */
export function segmentCount(addr: number, len: number, maxSegPages: number): number {
  return Math.ceil(pagesTouched(addr, len) / maxSegPages);
}

/** Calls `emit(addr, len)` for each segment {@link segmentCount} counts. O(segments). */
export function forEachSegment(
  addr: number,
  len: number,
  maxSegPages: number,
  emit: (addr: number, len: number) => void,
): void {
  const span = maxSegPages * PAGE_SIZE;
  let piece = Math.min(len, span - (addr % PAGE_SIZE));
  while (len > 0) {
    emit(addr, piece);
    addr += piece;
    len -= piece;
    piece = Math.min(len, span);
  }
}

/**
 * Appends a decoded entry, turning the list's RangeError for a bad range, flags or provider into a
 * ParseError at offset `at`. O(1) amortised.
 */
export function appendDecoded(
  list: PhyrList,
  r: ByteReader,
  at: number,
  addr: number,
  len: number,
  flags = 0,
  provider = 0,
): void {
  try {
    list.append(addr, len, flags, provider);
  } catch (e) {
    if (e instanceof RangeError) throw r.error(`bad entry: ${e.message}`, at);
    throw e;
  }
}
