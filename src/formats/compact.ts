/**
 * `compact`: the PhyrList compact store itself (src/phyr/compact.ts, Jason Gunthorpe's word form
 * with escapes), serialised the way the store lays a long list out in memory at its full chunk
 * capacity (DEFAULT_CHUNK_CAPACITY = 512 slots): 48 B list header + per chunk (32 B segment record
 * + 4 KiB of words, unused words zero), the byteSize accounting of PhyrList. (The store itself
 * opens small chunks first and doubles them up to that capacity, so a short list's own byteSize
 * is smaller.) An entry takes 2, 3 or 4 u32 words and never straddles two chunks.
 *
 * Layout (little-endian): header { u32 nents, u32 chunks, u64 totalBytes, u32 capacity (8-byte
 * slots), 28 B zero }; each chunk: record { u32 usedWords, u32 entries, u64 bytes, 16 B zero } then
 * capacity * 2 u32 words. Holds everything: flags, providers up to 0xffff, byte ranges.
 */
// The store's own word codec. src/phyr/index.ts keeps it internal, so it is imported from its
// module: this format is, by definition, those exact words (the decoder appends them as they are).
import { EntrySlot } from "../phyr/chunk.js";
import { decodeCompact, ENC, encodeCompact } from "../phyr/compact.js";
import {
  checkEntry,
  DEFAULT_CHUNK_CAPACITY,
  LIST_HEADER_BYTES,
  PhyrList,
  type PhyrRead,
  SEGMENT_BYTES,
} from "../phyr/index.js";
// The decoder is a builder: it appends through the list's writer (not exported by phyr/index.ts).
import { listWriter } from "../phyr/list.js";
import type { Format } from "./format.js";
import { ByteReader, ByteWriter } from "./wire.js";

const W = listWriter();

/** Largest chunk capacity (8-byte slots) the decoder accepts. */
export const COMPACT_MAX_CAPACITY = 1 << 20;
const CAP_WORDS = DEFAULT_CHUNK_CAPACITY * 2;

/** Width in u32 words of each entry's compact encoding, via the store's own encoder. O(1). */
export function compactWords(addr: number, len: number, flags: number, provider: number): number {
  return encodeCompact(addr, len, flags, provider);
}

function chunksFor(list: PhyrRead): number {
  let chunks = 0;
  let used = CAP_WORDS;
  list.forEachEntry((addr, len, flags, provider) => {
    const w = encodeCompact(addr, len, flags, provider);
    if (used + w > CAP_WORDS) {
      chunks++;
      used = 0;
    }
    used += w;
  });
  return chunks;
}

/** The compact store's own bytes. bytesFor/encode/decode O(n + chunks * capacity). */
export const compactFormat: Format = {
  name: "compact",
  kernelSource: "src/phyr/compact.ts (Jason Gunthorpe's 8-byte word, docs/design.md)",
  holds: { flags: true, provider: true, byteGranular: true },
  bytesFor(list: PhyrRead): number {
    return LIST_HEADER_BYTES + chunksFor(list) * (SEGMENT_BYTES + CAP_WORDS * 4);
  },
  encode(list: PhyrRead): Uint8Array {
    const chunks = chunksFor(list);
    const w = new ByteWriter(LIST_HEADER_BYTES + chunks * (SEGMENT_BYTES + CAP_WORDS * 4), this.name);
    w.u32(list.nents);
    w.u32(chunks);
    w.u64(list.totalBytes);
    w.u32(DEFAULT_CHUNK_CAPACITY);
    const words = new Uint32Array(w.bytes.buffer);
    let rec = -1;
    let used = CAP_WORDS;
    let count = 0;
    let bytes = 0;
    const close = (): void => {
      if (rec < 0) return;
      const v = new DataView(w.bytes.buffer, rec, SEGMENT_BYTES);
      v.setUint32(0, used, true);
      v.setUint32(4, count, true);
      v.setUint32(8, bytes % 0x100000000, true);
      v.setUint32(12, Math.floor(bytes / 0x100000000), true);
    };
    list.forEachEntry((addr, len, flags, provider) => {
      const width = encodeCompact(addr, len, flags, provider);
      if (used + width > CAP_WORDS) {
        close();
        rec = rec < 0 ? LIST_HEADER_BYTES : rec + SEGMENT_BYTES + CAP_WORDS * 4;
        used = 0;
        count = 0;
        bytes = 0;
      }
      const base = (rec + SEGMENT_BYTES) / 4 + used;
      for (let k = 0; k < width; k++) words[base + k] = ENC[k];
      used += width;
      count++;
      bytes += len;
    });
    close();
    w.pos = w.bytes.length;
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
      // Big-endian host: the Uint32Array view wrote host order; the layout is little-endian.
      const dv = new DataView(w.bytes.buffer);
      for (let c = 0; c < chunks; c++) {
        const at = LIST_HEADER_BYTES + c * (SEGMENT_BYTES + CAP_WORDS * 4) + SEGMENT_BYTES;
        for (let k = 0; k < CAP_WORDS; k++) dv.setUint32(at + 4 * k, words[at / 4 + k], true);
      }
    }
    return w.finish(this.name);
  },
  decode(bytes: Uint8Array): PhyrList {
    const r = new ByteReader(this.name, bytes);
    const nents = r.u32("nents");
    const chunks = r.u32("chunks");
    const total = r.u64("totalBytes", 2 ** 53);
    const cap = r.u32("capacity");
    r.zeros(LIST_HEADER_BYTES - 20, "header reserved");
    if (cap < 2 || cap > COMPACT_MAX_CAPACITY)
      throw r.error(`capacity ${cap} is not in 2..${COMPACT_MAX_CAPACITY}`, 16);
    const chunkBytes = SEGMENT_BYTES + cap * 8;
    if (bytes.length !== LIST_HEADER_BYTES + chunks * chunkBytes) {
      throw r.error(`length ${bytes.length} does not match ${chunks} chunks of capacity ${cap}`, 4);
    }
    const list = new PhyrList({ store: "compact", chunkCapacity: cap });
    const words = new Uint32Array(cap * 2 + 4);
    const slot = new EntrySlot();
    // The length check above covers every word: read them straight from a view (little-endian).
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let seenN = 0;
    let seenBytes = 0;
    for (let c = 0; c < chunks; c++) {
      const recAt = r.pos;
      const usedWords = r.u32("usedWords");
      const count = r.u32("entries");
      const chunkTotal = r.u64("bytes", 2 ** 53);
      r.zeros(SEGMENT_BYTES - 16, "segment reserved");
      if (usedWords < 2 || usedWords > cap * 2)
        throw r.error(`chunk ${c}: usedWords ${usedWords} out of range`, recAt);
      const wordsAt = r.pos;
      for (let k = 0; k < cap * 2; k++) words[k] = view.getUint32(wordsAt + 4 * k, true);
      r.pos += cap * 8;
      let p = 0;
      let n = 0;
      let b = 0;
      while (p < usedWords) {
        const mode = words[p + 1] >>> 30;
        const width = mode === 0 ? 2 : mode === 3 ? 4 : 3;
        if (p + width > usedWords) throw r.error(`chunk ${c}: entry straddles usedWords`, wordsAt + 4 * p);
        decodeCompact(words, p, slot);
        const w =
          slot.len > 0 && slot.addr + slot.len <= 2 ** 52
            ? encodeCompact(slot.addr, slot.len, slot.flags, slot.provider)
            : 0;
        for (let k = 0; k < width; k++) {
          if (w !== width || ENC[k] !== words[p + k]) {
            throw r.error(`chunk ${c}: entry is not a canonical compact encoding`, wordsAt + 4 * p);
          }
        }
        // ENC holds this entry's words (the canonical check just encoded it): append them as is.
        try {
          checkEntry(slot.addr, slot.len, slot.flags, slot.provider);
          W.checkGrow(list, slot.len);
        } catch (e) {
          if (e instanceof RangeError) throw r.error(`bad entry: ${e.message}`, wordsAt + 4 * p);
          throw e;
        }
        W.pushEncoded(list, width, slot.len);
        p += width;
        n++;
        b += slot.len;
      }
      for (let k = usedWords; k < cap * 2; k++) {
        if (words[k] !== 0) throw r.error(`chunk ${c}: unused word ${k} is not zero`, wordsAt + 4 * k);
      }
      if (n !== count || b !== chunkTotal)
        throw r.error(`chunk ${c}: record says ${count} entries / ${chunkTotal} bytes`, recAt);
      seenN += n;
      seenBytes += b;
    }
    if (seenN !== nents || seenBytes !== total)
      throw r.error(`header says ${nents} entries / ${total} bytes`, 0);
    return list;
  },
};
