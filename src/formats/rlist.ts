/**
 * `rlist`: Jason Gunthorpe's 2023 prototype (never merged; docs/design.md). A logical entry
 * {type:2, length:60, base:64, offset:32, extra:32} is stored in the smallest of three encodings,
 * packed into linked 512-byte chunks: 8 B of chunk header then entries; an entry never straddles
 * two chunks (504 / 8 = 63 short entries per chunk, about 8.13 B per entry).
 *
 * This model's layout (all words u64 little-endian; bits 1:0 of the first word = size class):
 *
 * - 8 B, class 0: bits 3:2 type, bits 23:4 npages - 1 (20 bits, up to 4 GiB), bits 63:24 pfn
 *   (40 bits). Page-aligned base and length, extra = 0.
 * - 16 B, class 1: word0 bits 3:2 type, bits 15:4 offset in the page, bits 23:16 zero, bits 63:24
 *   pfn; word1 bits 31:0 length in bytes (< 2^32), bits 63:32 extra.
 * - 24 B, class 2: word0 bits 3:2 type, bits 31:4 zero, bits 63:32 extra; word1 base (byte
 *   address); word2 length (1..2^52; the prototype allows 60 bits).
 *
 * type (2 bits) says how the pages were taken: 0 none, 1 FOLL_PIN (PINNED), 2 FOLL_GET (REF); 3 is
 * invalid. extra (32 bits): bits 2:0 = the BUS_ADDR, MMIO and DIRTY flags (flags >> 2), bits 15:3
 * zero, bits 31:16 provider. The encoding is canonical (the smallest class that holds the entry).
 * Chunk header: u32 next (index of the next chunk; 0 = none, chunk 0 is always the head), u16 bytes
 * of entries used (<= 504), u16 entries.
 *
 * Differences from the prototype: it stores CPU entries either as folio + offset or as physical
 * address + provider; this model has no struct folio here, so every entry is address + provider
 * and `offset` is folded into the base (in-page offset in the 16 B form, byte address in 24 B).
 * The prototype's own type values (CPU folio / CPU phys / DMA) are replaced by the pin type above.
 */
import { ADDR_LIMIT, PAGE_SIZE } from "../core/index.js";
import { PhyrList, type PhyrRead } from "../phyr/index.js";
import { appendDecoded, type Format } from "./format.js";
import { ByteReader, ByteWriter } from "./wire.js";

/** Bytes per chunk. */
export const RLIST_CHUNK_BYTES = 512;
/** Chunk header bytes (link, used, count). */
export const RLIST_CHUNK_HEADER = 8;
const ROOM = RLIST_CHUNK_BYTES - RLIST_CHUNK_HEADER;
const P20 = 2 ** 20;
const P32 = 2 ** 32;

/** Size in bytes (8, 16 or 24) of the smallest rlist encoding that holds the entry. O(1). */
export function rlistEntryBytes(addr: number, len: number, flags: number, provider: number): number {
  if (
    addr % PAGE_SIZE === 0 &&
    len % PAGE_SIZE === 0 &&
    len <= PAGE_SIZE * P20 &&
    flags < 4 &&
    provider === 0
  ) {
    return 8;
  }
  return len >= P32 ? 24 : 16;
}

function chunksFor(list: PhyrRead): number {
  let chunks = 0;
  let used = ROOM;
  list.forEachEntry((addr, len, flags, provider) => {
    const b = rlistEntryBytes(addr, len, flags, provider);
    if (used + b > ROOM) {
      chunks++;
      used = 0;
    }
    used += b;
  });
  return chunks;
}

function pfnHi(pfn: number, low8: number): [number, number] {
  // bits 63:24 pfn: low u32 gets pfn bits 7:0 at 31:24, high u32 gets pfn bits 39:8.
  return [(((pfn % 256) << 24) | low8) >>> 0, Math.floor(pfn / 256)];
}

/** The rlist representation. bytesFor/encode/decode O(n). */
export const rlistFormat: Format = {
  name: "rlist",
  kernelSource: "2023 rlist prototype (Jason Gunthorpe, unmerged); compare include/linux/scatterlist.h",
  holds: { flags: true, provider: true, byteGranular: true },
  bytesFor(list: PhyrRead): number {
    return RLIST_CHUNK_BYTES * chunksFor(list);
  },
  encode(list: PhyrRead): Uint8Array {
    const chunks = chunksFor(list);
    const w = new ByteWriter(chunks * RLIST_CHUNK_BYTES, this.name);
    let chunk = -1;
    let used = ROOM;
    let count = 0;
    const close = (): void => {
      if (chunk < 0) return;
      const h = new DataView(w.bytes.buffer, chunk * RLIST_CHUNK_BYTES, RLIST_CHUNK_HEADER);
      h.setUint32(0, chunk + 1 < chunks ? chunk + 1 : 0, true);
      h.setUint16(4, used, true);
      h.setUint16(6, count, true);
    };
    list.forEachEntry((addr, len, flags, provider) => {
      const b = rlistEntryBytes(addr, len, flags, provider);
      if (used + b > ROOM) {
        close();
        chunk++;
        used = 0;
        count = 0;
        w.pos = chunk * RLIST_CHUNK_BYTES + RLIST_CHUNK_HEADER;
      }
      const type = flags & 3;
      const extra = (flags >>> 2) | (provider << 16);
      if (b === 8) {
        const [lo, hi] = pfnHi(addr / PAGE_SIZE, ((len / PAGE_SIZE - 1) << 4) | (type << 2));
        w.u64h(lo, hi);
      } else if (b === 16) {
        const off = addr % PAGE_SIZE;
        const [lo, hi] = pfnHi((addr - off) / PAGE_SIZE, (off << 4) | (type << 2) | 1);
        w.u64h(lo, hi);
        w.u64h(len, extra);
      } else {
        w.u64h((type << 2) | 2, extra);
        w.u64(addr);
        w.u64(len);
      }
      used += b;
      count++;
    });
    close();
    w.pos = w.bytes.length;
    return w.finish(this.name);
  },
  decode(bytes: Uint8Array): PhyrList {
    const r = new ByteReader(this.name, bytes);
    if (bytes.length % RLIST_CHUNK_BYTES !== 0) {
      throw r.error(`length ${bytes.length} is not a multiple of ${RLIST_CHUNK_BYTES}`, bytes.length);
    }
    const chunks = bytes.length / RLIST_CHUNK_BYTES;
    const list = new PhyrList({ store: "wide" });
    for (let c = 0; c < chunks; c++) {
      r.pos = c * RLIST_CHUNK_BYTES;
      const next = r.u32("chunk next");
      if (next !== (c + 1 < chunks ? c + 1 : 0))
        throw r.error(`chunk ${c}: next link ${next} is wrong`, r.pos - 4);
      const used = r.u16("chunk used");
      const count = r.u16("chunk count");
      if (used > ROOM || count === 0)
        throw r.error(`chunk ${c}: used ${used} / count ${count} invalid`, r.pos - 4);
      const end = r.pos + used;
      let seen = 0;
      while (r.pos < end) {
        const at = r.pos;
        r.u64h("entry word");
        const lo = r.lo;
        const hi = r.hi;
        const cls = lo & 3;
        const type = (lo >>> 2) & 3;
        if (cls === 3 || type === 3) throw r.error(`entry class ${cls} / type ${type} invalid`, at);
        const size = 8 * (cls + 1);
        if (at + size > end) throw r.error(`entry of ${size} bytes straddles the chunk's used end`, at);
        let addr: number;
        let len: number;
        let extra = 0;
        if (cls === 0) {
          addr = (hi * 256 + (lo >>> 24)) * PAGE_SIZE;
          len = (((lo >>> 4) & 0xfffff) + 1) * PAGE_SIZE;
        } else if (cls === 1) {
          if (((lo >>> 16) & 0xff) !== 0) throw r.error("reserved bits 23:16 must be zero", at);
          addr = (hi * 256 + (lo >>> 24)) * PAGE_SIZE + ((lo >>> 4) & 0xfff);
          r.u64h("length/extra");
          len = r.lo;
          extra = r.hi;
        } else {
          if (lo >>> 4 !== 0) throw r.error("reserved bits 31:4 must be zero", at);
          extra = hi;
          addr = r.u64("base");
          len = r.u64("length", ADDR_LIMIT + 1);
        }
        if ((extra & 0xfff8) !== 0) throw r.error("reserved extra bits 15:3 must be zero", at);
        const flags = type | ((extra & 7) << 2);
        const provider = extra >>> 16;
        if (len === 0 || rlistEntryBytes(addr, len, flags, provider) !== size) {
          throw r.error(`entry ${addr}+${len} is not in its canonical ${size}-byte form`, at);
        }
        appendDecoded(list, r, at, addr, len, flags, provider);
        seen++;
      }
      if (seen !== count)
        throw r.error(`chunk ${c}: ${seen} entries, header says ${count}`, c * RLIST_CHUNK_BYTES + 6);
      r.zeros(RLIST_CHUNK_BYTES - RLIST_CHUNK_HEADER - used, "chunk padding");
    }
    return list;
  },
};
