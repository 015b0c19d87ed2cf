/**
 * Little-endian byte writing and bounds-checked reading shared by every codec. 64-bit fields are
 * handled as two u32 halves (no BigInt). Readers are untrusted-input parsers: every read checks
 * the remaining bytes and throws {@link ParseError} naming the format, the field and the offset.
 */
import { hex, ParseError } from "../core/index.js";

const P32 = 0x100000000;

/** Largest encoding one Uint8Array holds here (Node's buffer.constants.MAX_LENGTH, 4 GiB). */
export const MAX_ENCODED_BYTES = 2 ** 32;

/** Fixed-size little-endian writer over a fresh Uint8Array. O(1) per field, no allocation per field. */
export class ByteWriter {
  /** The output bytes (exactly the size given to the constructor). */
  readonly bytes: Uint8Array;
  /** Next write offset. */
  pos = 0;
  private readonly view: DataView;

  /**
   * @param size exact output length in bytes.
   * @param format name used in the error message.
   * @throws RangeError when `size` exceeds {@link MAX_ENCODED_BYTES}.
   */
  constructor(size: number, format = "encoder") {
    if (size > MAX_ENCODED_BYTES) {
      throw new RangeError(
        `${format} encoding size ${hex(size)} is invalid: one buffer holds at most ${hex(MAX_ENCODED_BYTES)} bytes`,
      );
    }
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Writes an unsigned byte. */
  u8(v: number): void {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }

  /** Writes an unsigned 16-bit value. */
  u16(v: number): void {
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }

  /** Writes an unsigned 32-bit value. */
  u32(v: number): void {
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  /** Writes a 64-bit word given as halves. */
  u64h(lo: number, hi: number): void {
    this.view.setUint32(this.pos, lo >>> 0, true);
    this.view.setUint32(this.pos + 4, hi >>> 0, true);
    this.pos += 8;
  }

  /** Writes a non-negative integer below 2^53 as a u64. */
  u64(v: number): void {
    this.u64h(v % P32, Math.floor(v / P32));
  }

  /** Skips `n` zero bytes. */
  zeros(n: number): void {
    this.pos += n;
  }

  /**
   * Returns the bytes after checking that exactly the declared size was written.
   * @throws Error when the codec's size arithmetic and its writer disagree (a bug, not bad input).
   */
  finish(format: string): Uint8Array {
    if (this.pos !== this.bytes.length) {
      throw new Error(`${format}: encoder wrote ${this.pos} bytes but bytesFor() said ${this.bytes.length}`);
    }
    return this.bytes;
  }
}

/** Bounds-checked little-endian reader; every failure is a {@link ParseError} with `path` = format name. */
export class ByteReader {
  /** Next read offset. */
  pos = 0;
  /** Low half of the last {@link u64h} read. */
  lo = 0;
  /** High half of the last {@link u64h} read. */
  hi = 0;
  private readonly view: DataView;

  constructor(
    readonly format: string,
    readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** A ParseError for this format naming the offset. */
  error(reason: string, at = this.pos): ParseError {
    return new ParseError(this.format, 0, `at byte ${at}: ${reason}`);
  }

  /** @throws ParseError unless `n` more bytes are available for `field`. */
  need(n: number, field: string): void {
    if (n > this.remaining) {
      throw this.error(`truncated: ${field} needs ${n} bytes, ${this.remaining} left`);
    }
  }

  /** Reads a byte. @throws ParseError */
  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  /** Reads a u16. @throws ParseError */
  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  /** Reads a u32. @throws ParseError */
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Reads a u64 into {@link lo}/{@link hi}. @throws ParseError */
  u64h(field: string): void {
    this.need(8, field);
    this.lo = this.view.getUint32(this.pos, true);
    this.hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
  }

  /**
   * Reads a u64 that must be below `limit` (at most 2^53). @throws ParseError naming the value.
   */
  u64(field: string, limit = 2 ** 52): number {
    const at = this.pos;
    this.u64h(field);
    const v = this.hi * P32 + this.lo;
    if (this.hi >= 0x200000 || v >= limit) {
      throw this.error(
        `${field} 0x${this.hi.toString(16)}${this.lo.toString(16).padStart(8, "0")} is too large (limit ${hex(limit)})`,
        at,
      );
    }
    return v;
  }

  /** Reads `n` bytes that must all be zero (reserved / padding). @throws ParseError */
  zeros(n: number, field: string): void {
    this.need(n, field);
    for (let i = 0; i < n; i++) {
      if (this.bytes[this.pos + i] !== 0) throw this.error(`${field} must be zero`, this.pos + i);
    }
    this.pos += n;
  }

  /** @throws ParseError unless every byte was consumed. */
  end(): void {
    if (this.remaining !== 0) throw this.error(`${this.remaining} trailing bytes`);
  }
}
