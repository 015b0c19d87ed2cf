/**
 * The wide store: one chunk is four parallel typed arrays (struct of arrays), 19 bytes per entry
 * slot. Holds any byte range below 2^52 and any provider up to 0xffff, at a fixed cost per entry.
 */
import type { Chunk, EntrySlot } from "./chunk.js";

/** Bytes of storage per wide entry slot: addr (f64) + len (f64) + flags (u8) + provider (u16). */
export const WIDE_ENTRY_BYTES = 19;

/** A fixed-capacity wide chunk. Appends are O(1) and never move stored entries. */
export class WideChunk implements Chunk {
  readonly kind = "wide" as const;
  used = 0;
  readonly limit: number;
  readonly addr: Float64Array;
  readonly len: Float64Array;
  readonly flags: Uint8Array;
  readonly provider: Uint16Array;

  /** @param capacity entries; @param owner the list allowed to append. */
  constructor(
    readonly capacity: number,
    readonly owner: object,
  ) {
    this.limit = capacity;
    this.addr = new Float64Array(capacity);
    this.len = new Float64Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.provider = new Uint16Array(capacity);
  }

  get byteSize(): number {
    return this.capacity * WIDE_ENTRY_BYTES;
  }

  /** Appends one validated entry at `used`; the caller checked `used < limit`. O(1). */
  push(addr: number, len: number, flags: number, provider: number): void {
    const i = this.used;
    this.addr[i] = addr;
    this.len[i] = len;
    this.flags[i] = flags;
    this.provider[i] = provider;
    this.used = i + 1;
  }

  decode(pos: number, out: EntrySlot): number {
    out.addr = this.addr[pos];
    out.len = this.len[pos];
    out.flags = this.flags[pos];
    out.provider = this.provider[pos];
    return pos + 1;
  }
}
