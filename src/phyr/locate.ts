/**
 * Lookups over a segment array: the segment holding a list byte or entry (binary search on the
 * cached starts, O(log segments)), the entry holding a byte inside one segment and entry k of a
 * segment (O(1) wide; compact: O(1) inside a chunk's leading run of 8-byte entries, else a scan
 * from the segment start reading only each skipped entry's mode bits, O(chunk capacity)), and the segment
 * windows of a byte range (what a zero-copy slice is made of).
 */
import { EntrySlot, Segment } from "./chunk.js";
import { type CompactChunk, decodeCompact } from "./compact.js";

/** Index of the last segment whose `key` start is <= v (segments are non-empty). O(log segments). */
export function segmentAt(segs: readonly Segment[], key: "byteStart" | "entStart", v: number): number {
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (segs[mid][key] <= v) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Decodes entry `k` of segment `s`, trimmed to the segment, into `slot`. O(1) wide; compact O(1)
 * within a chunk's leading run of 8-byte entries, else O(chunk capacity) (the widths of the entries
 * before it must be read: see {@link CompactChunk.seek}).
 */
export function decodeEntry(s: Segment, k: number, slot: EntrySlot): EntrySlot {
  const c = s.chunk;
  if (c.kind === "wide") c.decode(s.from + k, slot);
  else {
    const cc = c as CompactChunk;
    decodeCompact(cc.words, cc.seek(s.from, k), slot);
  }
  if (k === 0) {
    slot.addr += s.head;
    slot.len -= s.head;
  }
  if (k === s.n - 1) slot.len -= s.tail;
  return slot;
}

/** Where a list byte lies in a segment: the raw entry's position, next position, index and offset. */
interface BytePlace {
  pos: number;
  next: number;
  k: number;
  rawOff: number;
  rawLen: number;
}

function findByte(s: Segment, b: number, slot: EntrySlot): BytePlace {
  let local = b - s.byteStart;
  let pos = s.from;
  for (let k = 0; ; k++) {
    const next = s.chunk.decode(pos, slot);
    const head = k === 0 ? s.head : 0;
    const eff = slot.len - head - (k === s.n - 1 ? s.tail : 0);
    if (local < eff) return { pos, next, k, rawOff: head + local, rawLen: slot.len };
    local -= eff;
    pos = next;
  }
}

/**
 * The segments covering list bytes [off, end) (off < end <= total), with the first entry trimmed to
 * start at `off` and the last to end at `end`, placed at list position 0.
 * O(log segments + chunk capacity + segments covered).
 */
export function sliceSegments(segs: readonly Segment[], off: number, end: number): Segment[] {
  const slot = new EntrySlot();
  const si = segmentAt(segs, "byteStart", off);
  const ei = segmentAt(segs, "byteStart", end - 1);
  const a = findByte(segs[si], off, slot);
  const b = findByte(segs[ei], end - 1, slot);
  const out: Segment[] = [];
  let ents = 0;
  let bytes = 0;
  for (let i = si; i <= ei; i++) {
    const s = segs[i];
    const from = i === si ? a.pos : s.from;
    const to = i === ei ? b.next : s.to;
    const n = (i === ei ? b.k : s.n - 1) - (i === si ? a.k : 0) + 1;
    const head = i === si ? a.rawOff : s.head;
    const tail = i === ei ? b.rawLen - b.rawOff - 1 : s.tail;
    const len = Math.min(s.byteStart + s.bytes, end) - Math.max(s.byteStart, off);
    out.push(new Segment(s.chunk, from, to, n, len, head, tail, ents, bytes));
    ents += n;
    bytes += len;
  }
  return out;
}
