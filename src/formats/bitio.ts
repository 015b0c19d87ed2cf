/**
 * LSB-first bit writing and bounds-checked bit reading for the `packed` codec. Values up to 53
 * bits wide are written as 24-bit pieces with 32-bit integer operations; nothing allocates per
 * value.
 */
import { ilog2, ParseError } from "../core/index.js";

const P24 = 0x1000000;

/** Bits needed to write `v` (0 for 0). Exact below 2^53. O(1). */
export function bitWidth(v: number): number {
  return v === 0 ? 0 : ilog2(v) + 1;
}

/** Zig-zag code of a signed integer (|d| < 2^52): 0, -1, 1, -2 ... -> 0, 1, 2, 3 ... O(1). */
export function zigzag(d: number): number {
  return d >= 0 ? 2 * d : -2 * d - 1;
}

/** Inverse of {@link zigzag}. O(1). */
export function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Writes bit fields into a preallocated byte array. */
export class BitWriter {
  private acc = 0;
  private nacc = 0;

  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
  ) {}

  /** Writes the low `width` (0..53) bits of `v` (a non-negative integer below 2^width). */
  write(v: number, width: number): void {
    while (width > 24) {
      this.small(v % P24, 24);
      v = Math.floor(v / P24);
      width -= 24;
    }
    if (width > 0) this.small(v, width);
  }

  private small(v: number, width: number): void {
    this.acc = (this.acc | (v << this.nacc)) >>> 0;
    this.nacc += width;
    while (this.nacc >= 8) {
      this.bytes[this.pos++] = this.acc & 0xff;
      this.acc >>>= 8;
      this.nacc -= 8;
    }
  }

  /** Pads to the next byte boundary with zero bits. */
  flush(): void {
    if (this.nacc > 0) {
      this.bytes[this.pos++] = this.acc & 0xff;
      this.acc = 0;
      this.nacc = 0;
    }
  }
}

/** Reads bit fields from bytes [pos, end); reading past `end` throws ParseError. */
export class BitReader {
  private acc = 0;
  private nacc = 0;

  constructor(
    readonly format: string,
    readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  /** Reads a `width`-bit (0..53) field named `field`. @throws ParseError when the block runs out. */
  read(width: number, field: string): number {
    let v = 0;
    let scale = 1;
    while (width > 24) {
      v += this.small(24, field) * scale;
      scale *= P24;
      width -= 24;
    }
    if (width > 0) v += this.small(width, field) * scale;
    return v;
  }

  private small(width: number, field: string): number {
    while (this.nacc < width) {
      if (this.pos >= this.end) {
        throw new ParseError(this.format, 0, `at byte ${this.pos}: truncated block while reading ${field}`);
      }
      this.acc = (this.acc | (this.bytes[this.pos++] << this.nacc)) >>> 0;
      this.nacc += 8;
    }
    const v = width === 32 ? this.acc : this.acc & ((1 << width) - 1);
    this.acc = width === 32 ? 0 : this.acc >>> width;
    this.nacc -= width;
    return v >>> 0;
  }

  /** @throws ParseError unless the block is used up to its last byte and the padding bits are zero. */
  finish(): void {
    if (this.pos !== this.end || this.acc !== 0) {
      throw new ParseError(
        this.format,
        0,
        `at byte ${this.pos}: block has ${this.end - this.pos} unused bytes or non-zero padding`,
      );
    }
  }
}
