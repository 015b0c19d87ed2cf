/**
 * `pages`: the struct page * array get_user_pages() / pin_user_pages() fill today (mm/gup.c): one
 * 8-byte pointer per 4 KiB page touched, nothing else. The in-page offset of the first byte and
 * the total length are not part of the array (GUP callers keep them separately), so only the page
 * sequence survives a round trip.
 *
 * Layout: n little-endian u64 struct page pointers, vmemmap_base + pfn * sizeof(struct page)
 * (include/asm-generic/memory_model.h, SPARSEMEM_VMEMMAP).
 */
import { PAGE_SIZE } from "../core/index.js";
import { type PhyrList, type PhyrRead, phyrFromPfns } from "../phyr/index.js";
import { type Format, pagePtrHi, pagePtrLo, pagesTouched, pfnOfPagePtr } from "./format.js";
import { ByteReader, ByteWriter } from "./wire.js";

/** Bytes of one struct page pointer. */
export const PAGE_PTR_BYTES = 8;

/** Pages every entry of `list` touches, summed. O(n). */
export function totalPagesTouched(list: PhyrRead): number {
  let pages = 0;
  list.forEachEntry((addr, len) => {
    pages += pagesTouched(addr, len);
  });
  return pages;
}

/**
 * The page-array representation. bytesFor O(n); encode and decode O(pages).
 * decode throws ParseError for a length that is not a multiple of 8 or a value that is not a
 * struct page pointer.
 */
export const pagesFormat: Format = {
  name: "pages",
  kernelSource: "mm/gup.c (pin_user_pages), include/asm-generic/memory_model.h",
  holds: { flags: false, provider: false, byteGranular: false },
  bytesFor(list: PhyrRead): number {
    return PAGE_PTR_BYTES * totalPagesTouched(list);
  },
  encode(list: PhyrRead): Uint8Array {
    const w = new ByteWriter(this.bytesFor(list), this.name);
    list.forEachEntry((addr, len) => {
      const first = Math.floor(addr / PAGE_SIZE);
      const n = pagesTouched(addr, len);
      for (let pfn = first; pfn < first + n; pfn++) w.u64h(pagePtrLo(pfn), pagePtrHi(pfn));
    });
    return w.finish(this.name);
  },
  decode(bytes: Uint8Array): PhyrList {
    const r = new ByteReader(this.name, bytes);
    if (bytes.length % PAGE_PTR_BYTES !== 0) {
      throw r.error(`length ${bytes.length} is not a multiple of ${PAGE_PTR_BYTES}`, bytes.length);
    }
    const pfns = new Float64Array(bytes.length / PAGE_PTR_BYTES);
    for (let i = 0; i < pfns.length; i++) {
      const at = r.pos;
      r.u64h("struct page pointer");
      const pfn = pfnOfPagePtr(r.lo, r.hi);
      if (pfn < 0) throw r.error(`pages[${i}] is not a struct page pointer`, at);
      pfns[i] = pfn;
    }
    return phyrFromPfns(pfns);
  },
};
