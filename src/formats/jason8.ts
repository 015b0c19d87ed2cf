/**
 * `jason8`: Jason Gunthorpe's list for "the physical pages underlying a contiguous chunk of VA"
 * (docs/design.md), mode 00 only: every page run is decomposed into naturally aligned
 * power-of-two chunks (core decomposeRun; the 5-bit order field caps a chunk at 2^31 pages), one
 * 8-byte word each, after a 24-byte list header { first_page_offset, total_length, min_alignment }.
 *
 * Word (u64, little-endian): bits 51:12 frame (address >> 12), bits 56:52 order, bits 63:62 mode
 * (00), every other bit zero (the compact store uses the low 12 bits for flags and provider; this
 * format is the pure proposal and holds neither). min_alignment is the smallest chunk in bytes
 * (0 for an empty list). Interior entries are whole pages, so a byte-granular interior entry keeps
 * only its pages; the first offset and the total length keep both ends byte-exact.
 */
import { countNaturalChunks, decomposeRun, PAGE_SIZE } from "../core/index.js";
import { PFN_LIMIT, PhyrList, type PhyrRead } from "../phyr/index.js";
import { appendDecoded, type Format, pagesTouched } from "./format.js";
import { ByteReader, ByteWriter } from "./wire.js";

/** Header bytes: first_page_offset, total_length, min_alignment (u64 each). */
export const JASON8_HEADER_BYTES = 24;
/** Bytes per chunk word. */
export const JASON8_WORD_BYTES = 8;
/** Largest order the 5-bit field holds. */
export const JASON8_MAX_ORDER = 31;
const CAP = 2 ** JASON8_MAX_ORDER;
const P20 = 2 ** 20;

/**
 * Calls `emit(pfn, npages)` for every maximal run of consecutive pages the list touches, further cut
 * at 2^31-page boundaries so that no chunk needs an order above 31. O(n + runs).
 */
function forEachPieceRun(list: PhyrRead, emit: (pfn: number, n: number) => void): void {
  let runPfn = -1;
  let runN = 0;
  const flush = (): void => {
    let pfn = runPfn;
    let n = runN;
    while (n > 0) {
      const piece = Math.min(n, CAP - (pfn % CAP));
      emit(pfn, piece);
      pfn += piece;
      n -= piece;
    }
  };
  list.forEachEntry((addr, len) => {
    const pfn = Math.floor(addr / PAGE_SIZE);
    const n = pagesTouched(addr, len);
    if (runN > 0 && pfn === runPfn + runN) {
      runN += n;
      return;
    }
    if (runN > 0) flush();
    runPfn = pfn;
    runN = n;
  });
  if (runN > 0) flush();
}

interface Jason8Header {
  firstOffset: number;
  totalLength: number;
  minAlign: number;
  words: number;
}

function header(list: PhyrRead): Jason8Header {
  let words = 0;
  let minOrder = 64;
  let first = -1;
  let lastEnd = 0;
  let pageBytes = 0;
  list.forEachEntry((addr, len) => {
    if (first < 0) first = addr % PAGE_SIZE;
    lastEnd = addr + len;
  });
  forEachPieceRun(list, (pfn, n) => {
    words += countNaturalChunks(pfn, n);
    pageBytes += n * PAGE_SIZE;
    decomposeRun(pfn, n, (_p, order) => {
      if (order < minOrder) minOrder = order;
    });
  });
  if (words === 0) return { firstOffset: 0, totalLength: 0, minAlign: 0, words: 0 };
  const tailTrim = (PAGE_SIZE - (lastEnd % PAGE_SIZE)) % PAGE_SIZE;
  return {
    firstOffset: first,
    totalLength: pageBytes - first - tailTrim,
    minAlign: PAGE_SIZE * 2 ** minOrder,
    words,
  };
}

/** The mode-00 Jason list. bytesFor/encode O(n + chunks); decode O(chunks). */
export const jason8Format: Format = {
  name: "jason8",
  kernelSource: "linux-mm/dri-devel phyr thread (Jason Gunthorpe, 2022-23); no kernel file",
  holds: { flags: false, provider: false, byteGranular: false },
  bytesFor(list: PhyrRead): number {
    let words = 0;
    forEachPieceRun(list, (pfn, n) => {
      words += countNaturalChunks(pfn, n);
    });
    return JASON8_HEADER_BYTES + JASON8_WORD_BYTES * words;
  },
  encode(list: PhyrRead): Uint8Array {
    const h = header(list);
    const w = new ByteWriter(JASON8_HEADER_BYTES + JASON8_WORD_BYTES * h.words, this.name);
    w.u64(h.firstOffset);
    w.u64(h.totalLength);
    w.u64(h.minAlign);
    const put = (pfn: number, order: number): void => {
      w.u64h((pfn % P20) * PAGE_SIZE, Math.floor(pfn / P20) + order * P20);
    };
    forEachPieceRun(list, (pfn, n) => {
      decomposeRun(pfn, n, put);
    });
    return w.finish(this.name);
  },
  decode(bytes: Uint8Array): PhyrList {
    const r = new ByteReader(this.name, bytes);
    const firstOffset = r.u64("first_page_offset");
    const total = r.u64("total_length", 2 ** 52 + 1);
    const minAlign = r.u64("min_alignment", 2 ** 53);
    if ((bytes.length - JASON8_HEADER_BYTES) % JASON8_WORD_BYTES !== 0) {
      throw r.error(`length ${bytes.length} is not a 24-byte header plus 8-byte words`, bytes.length);
    }
    const n = (bytes.length - JASON8_HEADER_BYTES) / JASON8_WORD_BYTES;
    if (firstOffset >= PAGE_SIZE) throw r.error(`first_page_offset ${firstOffset} is not below PAGE_SIZE`, 0);
    if (n === 0) {
      if (firstOffset !== 0 || total !== 0 || minAlign !== 0)
        throw r.error("an empty list has a non-zero header", 0);
      return new PhyrList();
    }
    // Pass 1: validate the words, merge chunks into runs, check the header against them.
    const runs: number[] = [];
    let pageBytes = 0;
    let minChunk = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const at = r.pos;
      r.u64h("chunk word");
      const lo = r.lo;
      const hi = r.hi;
      if (lo % PAGE_SIZE !== 0 || hi >>> 25 !== 0) {
        throw r.error(`word ${i}: mode must be 00 and bits 11:0 and 61:57 zero`, at);
      }
      const order = (hi >>> 20) & 0x1f;
      const pfn = (hi & 0xfffff) * P20 + lo / PAGE_SIZE;
      const npages = 2 ** order;
      if (pfn % npages !== 0 || pfn + npages > PFN_LIMIT) {
        throw r.error(`word ${i}: frame ${pfn} is not aligned to order ${order}`, at);
      }
      minChunk = Math.min(minChunk, npages * PAGE_SIZE);
      pageBytes += npages * PAGE_SIZE;
      const k = runs.length;
      if (k > 0 && runs[k - 2] + runs[k - 1] === pfn) runs[k - 1] += npages;
      else runs.push(pfn, npages);
    }
    if (minAlign !== minChunk)
      throw r.error(`min_alignment ${minAlign} does not match the chunks (${minChunk})`, 16);
    if (total > pageBytes - firstOffset || total <= pageBytes - firstOffset - PAGE_SIZE) {
      throw r.error(`total_length ${total} does not end in the last page`, 8);
    }
    const list = new PhyrList();
    const tail = pageBytes - firstOffset - total;
    for (let k = 0; k < runs.length; k += 2) {
      const head = k === 0 ? firstOffset : 0;
      const trim = k === runs.length - 2 ? tail : 0;
      appendDecoded(
        list,
        r,
        JASON8_HEADER_BYTES,
        runs[k] * PAGE_SIZE + head,
        runs[k + 1] * PAGE_SIZE - head - trim,
      );
    }
    return list;
  },
};
