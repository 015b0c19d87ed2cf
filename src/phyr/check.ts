/**
 * The O(n) invariant check behind `PhyrList.checkValid()` (sorted-btree style): every segment is a
 * well-formed window over its chunk, cached totals agree with the entries, trims leave every entry
 * non-empty, every entry is a valid range with valid flags and provider, and every compact entry is
 * in its canonical encoding.
 */
import { ADDR_LIMIT, hex } from "../core/index.js";
import { EntrySlot, type Segment } from "./chunk.js";
import { type CompactChunk, ENC, encodeCompact } from "./compact.js";
import { MAX_PROVIDER, PHYR_FLAG_MASK, PhyrFlag, type PhyrStoreKind } from "./types.js";

/**
 * Checks a list's segments against its cached `nents` and `totalBytes`. O(n).
 * @throws Error naming the segment, entry and broken invariant.
 */
export function checkSegments(
  segs: readonly Segment[],
  store: PhyrStoreKind,
  nents: number,
  bytes: number,
): void {
  const slot = new EntrySlot();
  let ents = 0;
  let total = 0;
  for (let si = 0; si < segs.length; si++) {
    const s = segs[si];
    const c = s.chunk;
    const where = `segment ${si}`;
    if (c.kind !== store) fail(`${where}: chunk store ${c.kind} differs from list store ${store}`);
    if (s.entStart !== ents) fail(`${where}: entStart ${s.entStart} != ${ents}`);
    if (s.byteStart !== total) fail(`${where}: byteStart ${hex(s.byteStart)} != ${hex(total)}`);
    if (!(s.n >= 1)) fail(`${where}: empty segment`);
    if (!(0 <= s.from && s.from < s.to && s.to <= c.used && c.used <= c.limit)) {
      fail(`${where}: window [${s.from}, ${s.to}) outside chunk used ${c.used} / limit ${c.limit}`);
    }
    if (s.head < 0 || s.tail < 0 || !Number.isInteger(s.head) || !Number.isInteger(s.tail)) {
      fail(`${where}: bad trims head ${s.head} tail ${s.tail}`);
    }
    let pos = s.from;
    let segBytes = 0;
    let k = 0;
    for (; pos < s.to; k++) {
      const at = pos;
      pos = c.decode(pos, slot);
      const { addr, len, flags, provider } = slot;
      const what = `${where} entry ${k} (list entry ${ents + k}) at ${hex(addr)}+${hex(len)}`;
      if (
        !Number.isInteger(addr) ||
        addr < 0 ||
        !Number.isInteger(len) ||
        len < 1 ||
        addr + len > ADDR_LIMIT
      ) {
        fail(`${what}: not a range below 2^52`);
      }
      if ((flags & ~PHYR_FLAG_MASK) !== 0 || (flags & (PhyrFlag.PINNED | PhyrFlag.REF)) === 3) {
        fail(`${what}: bad flags ${hex(flags)}`);
      }
      if (provider < 0 || provider > MAX_PROVIDER) fail(`${what}: bad provider ${provider}`);
      if (c.kind === "compact") {
        const w = (c as CompactChunk).words;
        const width = encodeCompact(addr, len, flags, provider);
        if (width !== pos - at) fail(`${what}: width ${pos - at} words, canonical is ${width}`);
        for (let j = 0; j < width; j++) {
          if (w[at + j] !== ENC[j])
            fail(`${what}: word ${j} ${hex(w[at + j])} is not canonical ${hex(ENC[j])}`);
        }
      }
      let eff = len;
      if (k === 0) eff -= s.head;
      if (pos >= s.to) eff -= s.tail;
      if (eff < 1) fail(`${what}: trims head ${s.head} tail ${s.tail} leave ${eff} bytes`);
      segBytes += eff;
    }
    if (pos !== s.to) fail(`${where}: entries end at ${pos}, not at window end ${s.to}`);
    if (k !== s.n) fail(`${where}: holds ${k} entries, cached n is ${s.n}`);
    if (segBytes !== s.bytes) fail(`${where}: holds ${hex(segBytes)} bytes, cached ${hex(s.bytes)}`);
    ents += k;
    total += segBytes;
  }
  if (ents !== nents) fail(`list holds ${ents} entries, cached nents is ${nents}`);
  if (total !== bytes) fail(`list holds ${hex(total)} bytes, cached totalBytes is ${hex(bytes)}`);
}

function fail(message: string): never {
  throw new Error(`PhyrList.checkValid: ${message}`);
}
