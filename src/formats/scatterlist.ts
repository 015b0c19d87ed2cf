/**
 * `scatterlist`: struct scatterlist chains as sg_alloc_table_from_pages() builds them
 * (include/linux/scatterlist.h, lib/scatterlist.c), and that function itself as the baseline the
 * bench measures PhyrList against.
 *
 * struct scatterlist, 32 B (CONFIG_NEED_SG_DMA_LENGTH): page_link u64 (struct page * | bit0 SG_CHAIN
 * | bit1 SG_END), offset u32, length u32, dma_address u64, dma_length u32, dma_flags u32.
 * Entries live in chunks of at most SG_MAX_SINGLE_ALLOC = 128 slots; get_next_sg() allocates
 * min(entries still needed, 128) slots and, when more are needed, turns the chunk's last slot into
 * a chain link (__sg_chain). So n <= 128 entries take n slots, and n > 128 take
 * n + ceil((n - 128) / 127). struct sg_table (sgl u64, nents u32, orig_nents u32) adds 16 B.
 * kmalloc slab rounding of short final chunks is not counted.
 *
 * Encoding: the sg_table (sgl = 0, i.e. chunk 0; nents = 0, not DMA-mapped; orig_nents = entries),
 * then the chunks back to back. A chain slot's page_link is (next chunk index * 4) | SG_CHAIN, the
 * chunk index standing in for the pointer; the last entry carries SG_END. Each list entry is cut into
 * segments of at most max_segment = 0xFFFFF000 (UINT_MAX rounded down to PAGE_SIZE), counted in whole
 * pages as the kernel does; every segment records its own in-page offset (sg_set_page allows it;
 * sg_alloc_table_from_pages itself only ever produces one on the first entry).
 */
import { checkCount, hex, PAGE_SIZE } from "../core/index.js";
import { PhyrList, type PhyrRead } from "../phyr/index.js";
import {
  appendDecoded,
  type Format,
  forEachSegment,
  pagePtrHi,
  pagePtrLo,
  pfnOfPagePtr,
  segmentCount,
  VMEMMAP_START_HI,
} from "./format.js";
import { ByteReader, ByteWriter } from "./wire.js";

/** sizeof(struct scatterlist) on x86-64. */
export const SG_ENTRY_BYTES = 32;
/** sizeof(struct sg_table). */
export const SG_TABLE_BYTES = 16;
/** SG_MAX_SINGLE_ALLOC: PAGE_SIZE / sizeof(struct scatterlist). */
export const SG_MAX_SINGLE_ALLOC = 128;
/** page_link bit 0. */
export const SG_CHAIN = 1;
/** page_link bit 1. */
export const SG_END = 2;
/** Default max_segment: UINT_MAX rounded down to PAGE_SIZE. */
export const SG_MAX_SEGMENT = 0xfffff000;
const MAX_SEG_PAGES = SG_MAX_SEGMENT / PAGE_SIZE;

/** Slots (data + chain) a chained table of `nents` entries occupies (see module comment). O(1). */
export function sgSlots(nents: number): number {
  return nents <= SG_MAX_SINGLE_ALLOC ? nents : nents + Math.ceil((nents - SG_MAX_SINGLE_ALLOC) / 127);
}

/** Scatterlist entries (segments at max_segment) a list needs. O(n). */
export function sgEntriesFor(list: PhyrRead, maxSegment = SG_MAX_SEGMENT): number {
  const segPages = Math.floor(maxSegment / PAGE_SIZE);
  let n = 0;
  list.forEachEntry((addr, len) => {
    n += segmentCount(addr, len, segPages);
  });
  return n;
}

/** The scatterlist representation (see module comment). bytesFor/encode/decode O(n). */
export const scatterlistFormat: Format = {
  name: "scatterlist",
  kernelSource: "include/linux/scatterlist.h, lib/scatterlist.c",
  holds: { flags: false, provider: false, byteGranular: true },
  bytesFor(list: PhyrRead): number {
    return SG_TABLE_BYTES + SG_ENTRY_BYTES * sgSlots(sgEntriesFor(list));
  },
  encode(list: PhyrRead): Uint8Array {
    const n = sgEntriesFor(list);
    const w = new ByteWriter(SG_TABLE_BYTES + SG_ENTRY_BYTES * sgSlots(n), this.name);
    w.u64(0);
    w.u32(0);
    w.u32(n);
    let written = 0;
    let inChunk = 0;
    let chunkSlots = Math.min(n, SG_MAX_SINGLE_ALLOC);
    let chunk = 0;
    const put = (addr: number, len: number): void => {
      if (inChunk === chunkSlots - 1 && n - written > 1) {
        // get_next_sg(): the chunk's last slot becomes the chain link to the next chunk.
        chunk++;
        w.u64h(chunk * 4 + SG_CHAIN, 0);
        w.zeros(24);
        chunkSlots = Math.min(n - written, SG_MAX_SINGLE_ALLOC);
        inChunk = 0;
      }
      const pfn = Math.floor(addr / PAGE_SIZE);
      written++;
      inChunk++;
      w.u64h(pagePtrLo(pfn) + (written === n ? SG_END : 0), pagePtrHi(pfn));
      w.u32(addr % PAGE_SIZE);
      w.u32(len);
      w.zeros(16);
    };
    list.forEachEntry((addr, len) => forEachSegment(addr, len, MAX_SEG_PAGES, put));
    return w.finish(this.name);
  },
  decode(bytes: Uint8Array): PhyrList {
    const r = new ByteReader(this.name, bytes);
    r.u64h("sg_table.sgl");
    if (r.lo !== 0 || r.hi !== 0) throw r.error("sg_table.sgl must point to chunk 0", 0);
    if (r.u32("sg_table.nents") !== 0) throw r.error("sg_table.nents must be 0 (table is not DMA-mapped)", 8);
    const n = r.u32("sg_table.orig_nents");
    const slots = sgSlots(n);
    if (bytes.length !== SG_TABLE_BYTES + SG_ENTRY_BYTES * slots) {
      throw r.error(`length ${bytes.length} does not match orig_nents ${n} (${slots} slots)`, 12);
    }
    const list = new PhyrList({ store: "wide" });
    let inChunk = 0;
    let chunkSlots = Math.min(n, SG_MAX_SINGLE_ALLOC);
    let chunk = 0;
    for (let i = 0; i < n; ) {
      const at = r.pos;
      r.u64h("page_link");
      const link: number = r.lo & 3;
      if (inChunk === chunkSlots - 1 && n - i > 1) {
        if (link !== SG_CHAIN || r.lo !== (chunk + 1) * 4 + SG_CHAIN || r.hi !== 0) {
          throw r.error(`slot ${inChunk} of chunk ${chunk} must chain to chunk ${chunk + 1}`, at);
        }
        r.zeros(24, "chain slot");
        chunk++;
        chunkSlots = Math.min(n - i, SG_MAX_SINGLE_ALLOC);
        inChunk = 0;
        continue;
      }
      const wantEnd = i === n - 1 ? SG_END : 0;
      if (link !== wantEnd) throw r.error(`entry ${i}: page_link flags ${link}, expected ${wantEnd}`, at);
      const pfn = pfnOfPagePtr(r.lo - link, r.hi);
      if (pfn < 0) throw r.error(`entry ${i}: page_link is not a struct page pointer`, at);
      const offset = r.u32("offset");
      if (offset >= PAGE_SIZE)
        throw r.error(`entry ${i}: offset ${hex(offset)} is not below PAGE_SIZE`, at + 8);
      const len = r.u32("length");
      if (len === 0) throw r.error(`entry ${i}: length is 0`, at + 12);
      r.zeros(16, "dma_address/dma_length/dma_flags");
      appendDecoded(list, r, at, pfn * PAGE_SIZE + offset, len);
      i++;
      inChunk++;
    }
    r.end();
    return list;
  },
};

/** What {@link sgAllocTableFromPages} builds: a chained table in real 32-byte slots. */
export interface SgTable {
  /** The chunks, each 8 u32 per slot in the struct scatterlist layout (host byte order). */
  readonly chunks: Uint32Array[];
  /** Entries used (orig_nents). */
  readonly origNents: number;
  /** The kernel's total_nents: slots allocated minus the chain links. */
  readonly totalNents: number;
}

/**
 * A struct page * array for `pfns`, each value stored as its offset into the vmemmap array
 * (pointer - vmemmap_base = pfn * 64), which a Float64Array holds exactly. O(pages).
 */
export function pagePointerArray(pfns: ArrayLike<number>): Float64Array {
  const out = new Float64Array(pfns.length);
  for (let i = 0; i < pfns.length; i++) out[i] = pfns[i] * 64;
  return out;
}

/**
 * The kernel's sg_alloc_table_from_pages_segment() (lib/scatterlist.c, via
 * sg_alloc_append_table_from_pages and get_next_sg): counts the merged chunks, then fills a chained
 * table, merging page j into the current segment while page_to_pfn(pages[j]) ==
 * page_to_pfn(pages[j-1]) + 1 and the segment stays under max_segment (counted in whole pages).
 * All pages are ordinary memory, so zone_device_pages_have_same_pgmap() always holds. O(pages).
 * @param pages struct page pointers as vmemmap offsets ({@link pagePointerArray}).
 * @param offset byte offset into the first page (0..4095).
 * @param size total bytes, ending in the last page.
 * @param maxSegment bytes, rounded down to PAGE_SIZE; at least PAGE_SIZE (WARN_ON -> -EINVAL).
 * @throws RangeError for an empty page array, a bad offset, size or maxSegment.
 */
export function sgAllocTableFromPages(
  pages: Float64Array,
  offset: number,
  size: number,
  maxSegment = SG_MAX_SEGMENT,
): SgTable {
  const nPages = pages.length;
  if (nPages === 0)
    throw new RangeError("sgAllocTableFromPages: 0 pages is invalid: expected at least one page");
  checkCount("sgAllocTableFromPages offset", offset, PAGE_SIZE - 1);
  const maxSize = nPages * PAGE_SIZE - offset;
  if (!Number.isInteger(size) || size <= maxSize - PAGE_SIZE || size > maxSize) {
    throw new RangeError(
      `sgAllocTableFromPages size ${hex(size)} is invalid: it must end in the last of ${nPages} pages`,
    );
  }
  const segBytes = Math.floor(maxSegment / PAGE_SIZE) * PAGE_SIZE;
  if (!(segBytes >= PAGE_SIZE)) {
    throw new RangeError(`sgAllocTableFromPages maxSegment ${maxSegment} is invalid: below PAGE_SIZE`);
  }
  // compute number of contiguous chunks
  let chunks = 1;
  let segLen = 0;
  for (let i = 1; i < nPages; i++) {
    segLen += PAGE_SIZE;
    if (segLen >= segBytes || pages[i] !== pages[i - 1] + 64) {
      chunks++;
      segLen = 0;
    }
  }
  const out: Uint32Array[] = [];
  let cur: Uint32Array | null = null;
  let s = -1;
  let totalNents = 0;
  let curPage = 0;
  let left = size;
  for (let i = 0; i < chunks; i++) {
    let j = curPage + 1;
    segLen = 0;
    for (; j < nPages; j++) {
      segLen += PAGE_SIZE;
      if (segLen >= segBytes || pages[j] !== pages[j - 1] + 64) break;
    }
    // get_next_sg(): next slot, or a new chunk of min(needed, 128) chained from the last slot.
    const needed = chunks - i;
    if (cur === null || (s + 1 === cur.length / 8 - 1 && needed !== 1)) {
      const alloc = Math.min(needed, SG_MAX_SINGLE_ALLOC);
      const next: Uint32Array = new Uint32Array(alloc * 8);
      next[(alloc - 1) * 8] = SG_END; // sg_init_table() marks the last slot
      if (cur !== null) {
        const c = (s + 1) * 8;
        cur[c] = out.length * 4 + SG_CHAIN; // __sg_chain(): pointer | SG_CHAIN, SG_END cleared
        cur[c + 1] = 0;
        totalNents += alloc - 1;
      } else {
        totalNents = alloc;
      }
      out.push(next);
      cur = next;
      s = 0;
    } else {
      s++;
    }
    const chunkSize = (j - curPage) * PAGE_SIZE - offset;
    const page = pages[curPage];
    const b = s * 8;
    cur[b] = (page % 0x100000000) | (cur[b] & 3); // sg_assign_page keeps the marker bits
    cur[b + 1] = VMEMMAP_START_HI + Math.floor(page / 0x100000000);
    cur[b + 2] = offset;
    cur[b + 3] = Math.min(left, chunkSize);
    left -= chunkSize;
    offset = 0;
    curPage = j;
  }
  cur![s * 8] |= SG_END; // sg_mark_end(s)
  return { chunks: out, origNents: chunks, totalNents };
}
