/**
 * Byte contents of physical memory for small machines (data mode): a sparse map of 4 KiB pages,
 * zero-filled until written. BARs and other MMIO ranges may register their own byte backing so
 * device memory is read and written through the same calls.
 *
 * Costs: readPhys/writePhys O(len / 4096) page lookups plus the copy.
 */
import { checkRange, hex, PAGE_SIZE } from "../core/index.js";

/** A byte backing for an MMIO range (a BAR's memory). */
export interface MmioBacking {
  /** First byte address. */
  start: number;
  /** The bytes; the range is `[start, start + bytes.length)`. */
  bytes: Uint8Array;
}

/** Sparse physical memory contents. */
export class PhysData {
  private readonly pages = new Map<number, Uint8Array>();
  private readonly mmio: MmioBacking[] = [];

  /**
   * Registers `bytes` as the contents of `[start, start + bytes.length)` (a BAR). O(backings).
   * @throws RangeError for a bad range or an overlap with another backing.
   */
  registerMmio(start: number, bytes: Uint8Array): void {
    checkRange("MMIO backing", start, bytes.length);
    for (const m of this.mmio) {
      if (start < m.start + m.bytes.length && m.start < start + bytes.length) {
        throw new RangeError(
          `MMIO backing ${hex(start)}+${hex(bytes.length)} is invalid: it overlaps ${hex(m.start)}`,
        );
      }
    }
    this.mmio.push({ start, bytes });
  }

  /** Copies `len` bytes starting at physical `addr` into a new array. @throws RangeError */
  readPhys(addr: number, len: number): Uint8Array {
    checkRange("readPhys", addr, len);
    const out = new Uint8Array(len);
    this.copy(addr, len, (pos, buf, off, n) => out.set(buf.subarray(off, off + n), pos), false);
    return out;
  }

  /** Writes `bytes` at physical `addr`. @throws RangeError */
  writePhys(addr: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    checkRange("writePhys", addr, bytes.length);
    this.copy(addr, bytes.length, (pos, buf, off, n) => buf.set(bytes.subarray(pos, pos + n), off), true);
  }

  /** Copies one page's contents to another frame (migration). O(1) map operations. */
  copyFrame(fromPfn: number, toPfn: number, npages: number): void {
    for (let i = 0; i < npages; i++) {
      const src = this.pages.get(fromPfn + i);
      if (src) this.pages.set(toPfn + i, src.slice());
      else this.pages.delete(toPfn + i);
    }
  }

  /** Number of 4 KiB pages holding written data. */
  get touchedPages(): number {
    return this.pages.size;
  }

  private copy(
    addr: number,
    len: number,
    fn: (pos: number, buf: Uint8Array, off: number, n: number) => void,
    create: boolean,
  ): void {
    let pos = 0;
    while (pos < len) {
      const a = addr + pos;
      const m = this.mmio.find((b) => a >= b.start && a < b.start + b.bytes.length);
      if (m) {
        const n = Math.min(len - pos, m.start + m.bytes.length - a);
        fn(pos, m.bytes, a - m.start, n);
        pos += n;
        continue;
      }
      const pfn = Math.floor(a / PAGE_SIZE);
      const off = a % PAGE_SIZE;
      const n = Math.min(len - pos, PAGE_SIZE - off);
      let page = this.pages.get(pfn);
      if (!page) {
        page = new Uint8Array(PAGE_SIZE);
        if (create) this.pages.set(pfn, page);
      }
      fn(pos, page, off, n);
      pos += n;
    }
  }
}
