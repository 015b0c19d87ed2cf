/**
 * `biovec-page` and `biovec`: arrays of struct bio_vec (include/linux/bvec.h, block/bio.c).
 * struct bio_vec is 16 B: bv_page (struct page *, u64), bv_len u32, bv_offset u32.
 *
 * - `biovec-page`: single-page bvecs, one per page touched (what bio_for_each_segment yields and
 *   what a bio built page by page holds); bv_offset/bv_len cover the bytes of that page.
 * - `biovec`: multi-page bvecs (bio_add_page merging physically contiguous pages), one per run;
 *   bv_len is a u32, so a run is cut into pieces of at most 0xFFFFF000 bytes counted in whole
 *   pages, the way lib/scatterlist.c counts max_segment. bv_page is the run's first page and
 *   bv_offset < PAGE_SIZE the offset into it.
 *
 * Neither holds flags or providers (pgmaps are found from the page). The struct bio around the
 * array is not counted.
 */
import { hex, PAGE_SIZE } from "../core/index.js";
import { PhyrList, type PhyrRead } from "../phyr/index.js";
import {
  appendDecoded,
  type Format,
  forEachSegment,
  pagePtrHi,
  pagePtrLo,
  pagesTouched,
  pfnOfPagePtr,
  segmentCount,
} from "./format.js";
import { totalPagesTouched } from "./pages.js";
import { SG_MAX_SEGMENT } from "./scatterlist.js";
import { ByteReader, ByteWriter } from "./wire.js";

/** sizeof(struct bio_vec). */
export const BVEC_BYTES = 16;
const MAX_SEG_PAGES = SG_MAX_SEGMENT / PAGE_SIZE;

function writeBvec(w: ByteWriter, addr: number, len: number): void {
  const pfn = Math.floor(addr / PAGE_SIZE);
  w.u64h(pagePtrLo(pfn), pagePtrHi(pfn));
  w.u32(len);
  w.u32(addr % PAGE_SIZE);
}

function decodeBvecs(name: string, bytes: Uint8Array, maxLen: number): PhyrList {
  const r = new ByteReader(name, bytes);
  if (bytes.length % BVEC_BYTES !== 0) {
    throw r.error(`length ${bytes.length} is not a multiple of ${BVEC_BYTES}`, bytes.length);
  }
  const list = new PhyrList({ store: "wide" });
  const n = bytes.length / BVEC_BYTES;
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    r.u64h("bv_page");
    const pfn = pfnOfPagePtr(r.lo, r.hi);
    if (pfn < 0) throw r.error(`bvec ${i}: bv_page is not a struct page pointer`, at);
    const len = r.u32("bv_len");
    const off = r.u32("bv_offset");
    if (off >= PAGE_SIZE) throw r.error(`bvec ${i}: bv_offset ${hex(off)} is not below PAGE_SIZE`, at + 12);
    if (len === 0 || off + len > maxLen) {
      throw r.error(`bvec ${i}: bv_len ${hex(len)} at offset ${hex(off)} is out of range`, at + 8);
    }
    appendDecoded(list, r, at, pfn * PAGE_SIZE + off, len);
  }
  return list;
}

/** Single-page bvecs, one per page touched. bytesFor O(n); encode/decode O(pages). */
export const biovecPageFormat: Format = {
  name: "biovec-page",
  kernelSource: "include/linux/bvec.h, block/bio.c",
  holds: { flags: false, provider: false, byteGranular: true },
  bytesFor(list: PhyrRead): number {
    return BVEC_BYTES * totalPagesTouched(list);
  },
  encode(list: PhyrRead): Uint8Array {
    const w = new ByteWriter(this.bytesFor(list), this.name);
    list.forEachEntry((addr, len) => {
      const n = pagesTouched(addr, len);
      for (let k = 0; k < n; k++) {
        const piece = Math.min(len, PAGE_SIZE - (addr % PAGE_SIZE));
        writeBvec(w, addr, piece);
        addr += piece;
        len -= piece;
      }
    });
    return w.finish(this.name);
  },
  decode(bytes: Uint8Array): PhyrList {
    return decodeBvecs(this.name, bytes, PAGE_SIZE);
  },
};

/** Multi-page bvecs, one per run (split at 0xFFFFF000). bytesFor/encode/decode O(n). */
export const biovecFormat: Format = {
  name: "biovec",
  kernelSource: "include/linux/bvec.h, block/bio.c (bio_add_page, multi-page bvecs)",
  holds: { flags: false, provider: false, byteGranular: true },
  bytesFor(list: PhyrRead): number {
    let n = 0;
    list.forEachEntry((addr, len) => {
      n += segmentCount(addr, len, MAX_SEG_PAGES);
    });
    return BVEC_BYTES * n;
  },
  encode(list: PhyrRead): Uint8Array {
    const w = new ByteWriter(this.bytesFor(list), this.name);
    const put = (addr: number, len: number): void => writeBvec(w, addr, len);
    list.forEachEntry((addr, len) => forEachSegment(addr, len, MAX_SEG_PAGES, put));
    return w.finish(this.name);
  },
  decode(bytes: Uint8Array): PhyrList {
    return decodeBvecs(this.name, bytes, SG_MAX_SEGMENT);
  },
};
