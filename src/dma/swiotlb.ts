/**
 * The swiotlb bounce-buffer pool (kernel/dma/swiotlb.c): 2 KiB slots (IO_TLB_SHIFT 11) grouped in
 * segments of IO_TLB_SEGSIZE = 128 slots, so one mapping is at most 256 KiB; the default pool is
 * 64 MiB (IO_TLB_DEFAULT_SIZE). `list[i]` holds the number of free contiguous slots from slot i to
 * the end of its segment (0 = in use), exactly as `io_tlb_slot.list`, and allocation and release
 * follow swiotlb_search_pool_area() and swiotlb_release_slots().
 *
 * Deliberate simplification: one area (the kernel splits the pool per CPU; with one CPU it has one
 * area too), and the pool's DMA address equals its CPU address for the alignment tests.
 *
 * Storage is struct-of-arrays over the slots (Uint8Array list, Float64Array orig_addr and
 * alloc_size): a 64 MiB pool is 32,768 slots, 557 KiB of typed arrays, no per-slot objects.
 */
import { checkAddr, checkLen, DmaApiError, hex, PAGE_SIZE, SwiotlbFull } from "../core/index.js";

/** IO_TLB_SHIFT: a slot is 2^11 bytes. */
export const IO_TLB_SHIFT = 11;
/** IO_TLB_SIZE: 2 KiB. */
export const IO_TLB_SIZE = 2048;
/** IO_TLB_SEGSIZE: at most this many contiguous slots per mapping. */
export const IO_TLB_SEGSIZE = 128;
/** swiotlb_max_mapping_size() without a min_align_mask: 256 KiB. */
export const SWIOTLB_MAX_MAPPING = IO_TLB_SIZE * IO_TLB_SEGSIZE;
/** IO_TLB_DEFAULT_SIZE: 64 MiB. */
export const IO_TLB_DEFAULT_SIZE = 64 * 1024 * 1024;

/** Options of a {@link SwiotlbPool}. */
export interface SwiotlbOptions {
  /** CPU physical start of the pool (must be 256 KiB aligned, in RAM the devices can reach). */
  start: number;
  /** Pool bytes; a multiple of 256 KiB (nslabs rounded to IO_TLB_SEGSIZE). Default 64 MiB. */
  size?: number;
}

/** nr_slots(): slots covering `bytes`. */
function nrSlots(bytes: number): number {
  return Math.ceil(bytes / IO_TLB_SIZE);
}

/** Low 32 bits (masks here are at most 32 bits wide; addresses go to 2^52). */
function low32(n: number): number {
  return n % 0x100000000;
}

/** The bounce pool. Operations are O(slots scanned) like the kernel's linear search. */
export class SwiotlbPool {
  /** CPU physical address of slot 0. */
  readonly start: number;
  /** Pool size in bytes. */
  readonly size: number;
  /** Number of slots (nslabs). */
  readonly nslabs: number;
  /** Slots in use (area->used). */
  used = 0;
  /** Highest `used` seen (the kernel's hiwater). */
  hiwater = 0;
  /** Next slot the search starts from (area->index). */
  index = 0;
  /** @internal free-run counts per slot (io_tlb_slot.list). */
  readonly list: Uint8Array;
  /** @internal original CPU address per slot (io_tlb_slot.orig_addr), -1 when free. */
  readonly origAddr: Float64Array;
  /** @internal bytes from this slot to the end of its mapping (io_tlb_slot.alloc_size), 0 when free. */
  readonly allocSize: Float64Array;

  /**
   * Creates a pool with every slot free (`list[i] = IO_TLB_SEGSIZE - i % IO_TLB_SEGSIZE`).
   * O(nslabs).
   * @throws RangeError for an unaligned start or a size that is not a positive multiple of 256 KiB.
   */
  constructor(opts: SwiotlbOptions) {
    const size = opts.size ?? IO_TLB_DEFAULT_SIZE;
    checkAddr("swiotlb start", opts.start);
    checkLen("swiotlb size", size);
    if (opts.start % SWIOTLB_MAX_MAPPING !== 0) {
      throw new RangeError(`swiotlb start ${hex(opts.start)} is invalid: expected 256 KiB alignment`);
    }
    if (size % SWIOTLB_MAX_MAPPING !== 0) {
      throw new RangeError(
        `swiotlb size ${hex(size)} is invalid: expected a multiple of 256 KiB (128 slots)`,
      );
    }
    checkAddr("swiotlb end", opts.start + size - 1);
    this.start = opts.start;
    this.size = size;
    this.nslabs = size / IO_TLB_SIZE;
    this.list = new Uint8Array(this.nslabs);
    this.origAddr = new Float64Array(this.nslabs).fill(-1);
    this.allocSize = new Float64Array(this.nslabs);
    for (let i = 0; i < this.nslabs; i++) this.list[i] = IO_TLB_SEGSIZE - (i % IO_TLB_SEGSIZE);
  }

  /** True when [addr, addr+len) lies inside the pool. O(1). */
  contains(addr: number, len = 1): boolean {
    return addr >= this.start && addr + len <= this.start + this.size;
  }

  /**
   * swiotlb_tbl_map_single() slot search: reserves slots for `size` bytes bounced from `origAddr`
   * and returns the bounce buffer's CPU address. Allocations of a page or more are page aligned;
   * with `minAlignMask` (dma_get_min_align_mask, e.g. NVMe's 0xfff) the bounce address keeps
   * `origAddr`'s low bits under the mask. O(slots scanned).
   * @throws SwiotlbFull when no free run fits (always for more than 256 KiB), naming size and use.
   * @throws RangeError for a bad address or size.
   */
  map(origAddr: number, size: number, minAlignMask = 0): number {
    checkAddr("swiotlb orig address", origAddr);
    checkLen("swiotlb mapping size", size);
    // swiotlb_align_offset(dev, 0, orig_addr): keeps the low bits under min_align_mask within a slot.
    const offset = (origAddr % IO_TLB_SIZE) & minAlignMask;
    const allocSize = size + offset;
    const slot = this.search(origAddr, allocSize, minAlignMask);
    if (slot < 0) {
      throw new SwiotlbFull(
        `Cannot bounce ${hex(origAddr)}+${hex(size)}: swiotlb buffer is full (sz: ${size} bytes, max ${SWIOTLB_MAX_MAPPING}), total ${this.nslabs} slots, used ${this.used} slots`,
      );
    }
    const n = nrSlots(allocSize);
    for (let i = 0; i < n; i++) this.origAddr[slot + i] = origAddr - offset + i * IO_TLB_SIZE;
    return this.start + slot * IO_TLB_SIZE + offset;
  }

  /** swiotlb_search_pool_area(): returns the first slot index or -1. */
  private search(origAddr: number, allocSize: number, minAlignMask: number): number {
    const nslots = nrSlots(allocSize);
    let allocAlignMask = 0;
    let iotlbAlignMask = minAlignMask;
    if (iotlbAlignMask === 0 && allocSize >= PAGE_SIZE) allocAlignMask = PAGE_SIZE - 1;
    allocAlignMask |= IO_TLB_SIZE - 1;
    iotlbAlignMask &= ~allocAlignMask;
    const stride = (Math.max(allocAlignMask, iotlbAlignMask) >>> IO_TLB_SHIFT) + 1;
    if (nslots > this.nslabs - this.used || nslots > IO_TLB_SEGSIZE) return -1;
    let index = this.index;
    for (let checked = 0; checked < this.nslabs; ) {
      const tlbAddr = this.start + index * IO_TLB_SIZE;
      if (
        tlbAddr % (allocAlignMask + 1) !== 0 ||
        (low32(tlbAddr) & iotlbAlignMask) !== (low32(origAddr) & iotlbAlignMask)
      ) {
        index = this.wrap(index + 1);
        checked++;
        continue;
      }
      if (this.list[index] >= nslots) return this.take(index, nslots, allocSize);
      index = this.wrap(index + stride);
      checked += stride;
    }
    return -1;
  }

  /** wrap_area_index(): past the end goes back to 0 (not modulo). */
  private wrap(index: number): number {
    return index >= this.nslabs ? 0 : index;
  }

  /** The `found:` part: mark slots used, shrink the preceding free run, advance the index. */
  private take(slot: number, nslots: number, allocSize: number): number {
    for (let i = slot; i < slot + nslots; i++) {
      this.list[i] = 0;
      this.allocSize[i] = allocSize - (i - slot) * IO_TLB_SIZE;
    }
    let count = 0;
    for (let i = slot - 1; i >= 0 && i % IO_TLB_SEGSIZE !== IO_TLB_SEGSIZE - 1 && this.list[i] !== 0; i--) {
      this.list[i] = ++count;
    }
    this.index = this.wrap(slot + nslots);
    this.used += nslots;
    if (this.used > this.hiwater) this.hiwater = this.used;
    return slot;
  }

  /**
   * The mapping that `tlbAddr` starts: `{ origAddr, size }` (size = alloc_size minus the kept
   * offset), or undefined when `tlbAddr` does not start a live mapping. O(1).
   */
  lookup(tlbAddr: number): { origAddr: number; size: number } | undefined {
    if (!this.contains(tlbAddr)) return undefined;
    const rel = tlbAddr - this.start;
    const slot = Math.floor(rel / IO_TLB_SIZE);
    const offset = rel % IO_TLB_SIZE;
    if (this.list[slot] !== 0 || this.allocSize[slot] === 0) return undefined;
    if (
      slot > 0 &&
      this.list[slot - 1] === 0 &&
      this.allocSize[slot - 1] === this.allocSize[slot] + IO_TLB_SIZE
    ) {
      return undefined; // an interior slot of a longer mapping
    }
    return { origAddr: this.origAddr[slot] + offset, size: this.allocSize[slot] - offset };
  }

  /**
   * swiotlb_release_slots(): frees the mapping starting at `tlbAddr`, merging the freed run with
   * the free runs after and before it within the segment. O(slots freed + run before).
   * @throws DmaApiError (code SWIOTLB_NOT_MAPPED) when `tlbAddr` does not start a live mapping.
   */
  unmap(tlbAddr: number): void {
    const info = this.lookup(tlbAddr);
    if (!info) {
      throw new DmaApiError(
        "SWIOTLB_NOT_MAPPED",
        `Cannot release swiotlb buffer ${hex(tlbAddr)}: not a live mapping`,
      );
    }
    const index = Math.floor((tlbAddr - this.start) / IO_TLB_SIZE);
    const nslots = nrSlots(this.allocSize[index]);
    const segEnd = (Math.floor(index / IO_TLB_SEGSIZE) + 1) * IO_TLB_SEGSIZE;
    let count = index + nslots < segEnd ? this.list[index + nslots] : 0;
    for (let i = index + nslots - 1; i >= index; i--) {
      this.list[i] = ++count;
      this.origAddr[i] = -1;
      this.allocSize[i] = 0;
    }
    for (let i = index - 1; i >= 0 && i % IO_TLB_SEGSIZE !== IO_TLB_SEGSIZE - 1 && this.list[i] !== 0; i--) {
      this.list[i] = ++count;
    }
    this.used -= nslots;
  }

  /**
   * Verifies the invariants: every free slot's count equals 1 + the next slot's count within the
   * segment (1 at a segment end), used slots have a size, `used` equals the used-slot count. O(nslabs).
   * @throws Error naming the first broken slot.
   */
  checkValid(): void {
    let used = 0;
    for (let i = 0; i < this.nslabs; i++) {
      const l = this.list[i];
      if (l === 0) {
        used++;
        if (this.allocSize[i] <= 0) throw new Error(`swiotlb slot ${i} is in use with alloc_size 0`);
        continue;
      }
      const lastInSeg = i % IO_TLB_SEGSIZE === IO_TLB_SEGSIZE - 1;
      const want = lastInSeg ? 1 : this.list[i + 1] + 1;
      if (l !== want) throw new Error(`swiotlb slot ${i} list ${l} is invalid: expected ${want}`);
      if (this.allocSize[i] !== 0)
        throw new Error(`swiotlb slot ${i} is free with alloc_size ${this.allocSize[i]}`);
    }
    if (used !== this.used) throw new Error(`swiotlb used ${this.used} is invalid: ${used} slots are in use`);
  }
}
