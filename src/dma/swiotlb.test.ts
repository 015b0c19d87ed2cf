import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { DmaApiError, SwiotlbFull } from "../core/index.js";
import { IO_TLB_SEGSIZE, IO_TLB_SIZE, SwiotlbPool } from "./swiotlb.js";

const START = 0x4000000; // 64 MiB, 256 KiB aligned

function listOf(pool: SwiotlbPool, from: number, to: number): number[] {
  return Array.from(pool.list.subarray(from, to));
}

describe("swiotlb slot accounting (kernel/dma/swiotlb.c swiotlb_search_pool_area / release_slots)", () => {
  it("a fresh pool numbers each segment's free runs 128..1", () => {
    const pool = new SwiotlbPool({ start: START, size: 512 * 1024 });
    expect(pool.nslabs).toBe(256);
    expect(listOf(pool, 0, 3)).toEqual([128, 127, 126]);
    expect(pool.list[127]).toBe(1);
    expect(pool.list[128]).toBe(128);
    pool.checkValid();
  });

  it("the default pool is 64 MiB of 32768 slots", () => {
    const pool = new SwiotlbPool({ start: 0 });
    expect(pool.nslabs).toBe(32768);
    expect(pool.size).toBe(64 * 1024 * 1024);
  });

  // Each step's expected slot, list values and `used` are worked out by hand from the kernel loop:
  // stride = ((max(alloc_align_mask, iotlb_align_mask)) >> 11) + 1, page-sized requests get
  // alloc_align_mask 0xfff, the preceding free run is renumbered 1..count, index = slot + nslots.
  it("follows the kernel's search, alignment, wrap and merge rules step by step", () => {
    const pool = new SwiotlbPool({ start: START, size: 512 * 1024 });
    // 1. 2 KiB: slot 0; no run before it; index 1.
    expect(pool.map(0x10000, 2048)).toBe(START);
    expect(pool.list[0]).toBe(0);
    expect(pool.index).toBe(1);
    expect(pool.used).toBe(1);
    pool.checkValid();
    // 2. 4 KiB: page aligned, stride 2. Slot 1 is not 4 KiB aligned -> slot 2 (list 126 >= 2).
    //    Slot 1 becomes a free run of 1; index 4; used 3.
    expect(pool.map(0x20000, 4096)).toBe(START + 2 * IO_TLB_SIZE);
    expect(listOf(pool, 0, 5)).toEqual([0, 1, 0, 0, 124]);
    expect(pool.index).toBe(4);
    expect(pool.used).toBe(3);
    pool.checkValid();
    // 3. 256 KiB = 128 slots: no run in segment 0 is long enough; slot 128 (list 128) fits.
    //    Index 128 + 128 = 256 wraps to 0; used 131.
    expect(pool.map(0x100000, 256 * 1024)).toBe(START + 128 * IO_TLB_SIZE);
    expect(pool.index).toBe(0);
    expect(pool.used).toBe(131);
    pool.checkValid();
    // 4. 1 byte: slot 0 is used, slot 1 (run of 1) fits; index 2.
    expect(pool.map(0x30000, 1)).toBe(START + IO_TLB_SIZE);
    expect(pool.index).toBe(2);
    expect(pool.used).toBe(132);
    // 5. Release the 4 KiB mapping at slot 2: count starts at list[4] = 124, slots 3, 2 get 125, 126;
    //    slot 1 is in use so no merge backwards; used 130.
    pool.unmap(START + 2 * IO_TLB_SIZE);
    expect(listOf(pool, 0, 5)).toEqual([0, 0, 126, 125, 124]);
    expect(pool.used).toBe(130);
    pool.checkValid();
    // 6. Release slot 1: count starts at list[2] = 126 -> slot 1 gets 127; slot 0 in use.
    pool.unmap(START + IO_TLB_SIZE);
    expect(listOf(pool, 0, 3)).toEqual([0, 127, 126]);
    // 7. Release slot 0: it gets 128 -- the whole segment is one run again.
    pool.unmap(START);
    expect(pool.list[0]).toBe(128);
    expect(pool.used).toBe(128);
    pool.checkValid();
    // 8. Release the 128-slot mapping: slot 128 is a segment start; count starts at 0 (segment end).
    pool.unmap(START + 128 * IO_TLB_SIZE);
    expect(pool.list[128]).toBe(128);
    expect(pool.list[255]).toBe(1);
    expect(pool.used).toBe(0);
    pool.checkValid();
  });

  it("a release merges with the free run before it, stopping at the segment start", () => {
    const pool = new SwiotlbPool({ start: START, size: 256 * 1024 });
    const a = pool.map(0, 2048 * 3); // slots 0-2 (6 KiB >= PAGE_SIZE: page aligned at slot 0)
    const b = pool.map(0, 2048); // slot 3
    expect([a, b]).toEqual([START, START + 3 * IO_TLB_SIZE]);
    pool.unmap(a); // slots 2,1,0 get list[3]=0 -> 1,2,3
    expect(listOf(pool, 0, 4)).toEqual([3, 2, 1, 0]);
    pool.unmap(b); // slot 3 gets list[4] + 1 = 125, then 126, 127, 128 backwards
    expect(listOf(pool, 0, 4)).toEqual([128, 127, 126, 125]);
    pool.checkValid();
  });

  it("min_align_mask keeps the original's offset within the slot (NVMe 0xfff)", () => {
    const pool = new SwiotlbPool({ start: START, size: 256 * 1024 });
    // offset = 0x10a00 & 0xfff & 0x7ff = 0x200; iotlb_align_mask = 0xfff & ~0x7ff = 0x800, and
    // 0x10a00 has bit 11 set, so the slot must be odd: slot 1; alloc 0x200+0x400 -> 1 slot.
    const tlb = pool.map(0x10a00, 0x400, 0xfff);
    expect(tlb).toBe(START + IO_TLB_SIZE + 0x200);
    expect(pool.lookup(tlb)).toEqual({ origAddr: 0x10a00, size: 0x400 });
    pool.unmap(tlb);
    pool.checkValid();
    expect(pool.used).toBe(0);
  });

  it("more than 256 KiB never fits and a full pool throws SwiotlbFull, state unchanged", () => {
    const pool = new SwiotlbPool({ start: START, size: 256 * 1024 });
    expect(() => pool.map(0, 256 * 1024 + 1)).toThrow(SwiotlbFull);
    pool.map(0, 256 * 1024);
    const before = [Array.from(pool.list), pool.used, pool.index];
    expect(() => pool.map(0, 1)).toThrow(/swiotlb buffer is full.*used 128 slots/);
    expect([Array.from(pool.list), pool.used, pool.index]).toEqual(before);
    pool.checkValid();
  });

  it("releasing what is not a live mapping throws DmaApiError and changes nothing", () => {
    const pool = new SwiotlbPool({ start: START, size: 256 * 1024 });
    const tlb = pool.map(0, 8192); // slots 0..3
    const before = Array.from(pool.list);
    for (const bad of [START + IO_TLB_SIZE, START + 4 * IO_TLB_SIZE, 0, START + 0x100000]) {
      expect(() => pool.unmap(bad)).toThrow(DmaApiError);
    }
    expect(Array.from(pool.list)).toEqual(before);
    pool.unmap(tlb);
    expect(() => pool.unmap(tlb)).toThrow(/not a live mapping/);
    pool.checkValid();
  });

  it("rejects bad pool geometry and bad requests with RangeError", () => {
    expect(() => new SwiotlbPool({ start: 0x1000 })).toThrow(/256 KiB alignment/);
    expect(() => new SwiotlbPool({ start: 0, size: 0x1000 })).toThrow(/multiple of 256 KiB/);
    const pool = new SwiotlbPool({ start: 0, size: 256 * 1024 });
    expect(() => pool.map(-1, 16)).toThrow(RangeError);
    expect(() => pool.map(0, 0)).toThrow(RangeError);
    expect(pool.used).toBe(0);
  });

  it("random map/unmap sequences agree with a slot-by-slot occupancy model", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 300 * 1024 }), fc.nat()), {
          maxLength: 60,
        }),
        (ops) => {
          const pool = new SwiotlbPool({ start: START, size: 768 * 1024 });
          const busy = new Uint8Array(pool.nslabs);
          const live: { tlb: number; n: number }[] = [];
          for (const [doMap, size, pick] of ops) {
            if (doMap || live.length === 0) {
              try {
                const tlb = pool.map(pick * 16, size);
                const slot = (tlb - START) / IO_TLB_SIZE;
                const n = Math.ceil(size / IO_TLB_SIZE);
                expect(size <= IO_TLB_SIZE * IO_TLB_SEGSIZE).toBe(true);
                // never crosses a segment, never overlaps, page aligned for >= 4 KiB
                expect(Math.floor(slot / 128)).toBe(Math.floor((slot + n - 1) / 128));
                if (size >= 4096) expect(slot % 2).toBe(0);
                for (let i = slot; i < slot + n; i++) {
                  expect(busy[i]).toBe(0);
                  busy[i] = 1;
                }
                live.push({ tlb, n });
              } catch (e) {
                expect(e).toBeInstanceOf(SwiotlbFull);
              }
            } else {
              const [m] = live.splice(pick % live.length, 1);
              pool.unmap(m.tlb);
              busy.fill(0, (m.tlb - START) / IO_TLB_SIZE, (m.tlb - START) / IO_TLB_SIZE + m.n);
            }
            pool.checkValid();
            expect(pool.used).toBe(busy.reduce((a, b) => a + b, 0));
          }
        },
      ),
      fcRuns(150),
    );
  });
});
