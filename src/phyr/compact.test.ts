import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { compactEntryBytes, ENC, encodeCompact } from "./compact.js";
import { listWriter, PhyrList } from "./list.js";

/** The u32 words and width of the one entry of a compact list holding (addr, len, flags, provider). */
function words(addr: number, len: number, flags = 0, provider = 0): number[] {
  const l = new PhyrList({ chunkCapacity: 2 });
  l.append(addr, len, flags, provider);
  l.checkValid();
  expect(l.entry(0)).toEqual({ addr, len, flags, provider });
  const seg = listWriter().segments(l)[0];
  const w = (seg.chunk as unknown as { words: Uint32Array }).words;
  return [...w.subarray(seg.from, seg.to)];
}

// Expected words computed by hand from the layout in compact.ts:
// lo = frame[19:0] << 12 | provider[6:0] << 5 | flags; hi = mode << 30 | provider[11:7] << 25 | order << 20 | frame[39:20].
describe("compact encoding", () => {
  test.each([
    ["3 pages at pfn 1: mode 01, order 0, count 3 (12 B)", 0x1000, 0x3000, 0, 0, [0x1000, 0x40000000, 3]],
    ["2 pages at odd pfn 1: mode 01, order 0, count 2", 0x1000, 0x2000, 0, 0, [0x1000, 0x40000000, 2]],
    ["4 pages at pfn 2: mode 01, order 1, count 2", 0x2000, 0x4000, 0, 0, [0x2000, 0x40100000, 2]],
    ["2 MiB at 2 MiB: mode 00, order 9 (8 B)", 0x200000, 0x200000, 0, 0, [0x200000, 0x00900000]],
    ["1 GiB at 1 GiB: mode 00, order 18", 0x40000000, 0x40000000, 0, 0, [0x40000000, 0x01200000]],
    ["4 KiB at 0, PINNED|DIRTY, provider 3", 0, 0x1000, 17, 3, [0x71, 0]],
    [
      "4 KiB at pfn 0x123456789, provider 4095 in-word",
      0x123456789000,
      0x1000,
      0,
      4095,
      [0x56789fe0, 0x3e001234],
    ],
    ["5 bytes at 0x1234: mode 10", 0x1234, 5, 0, 0, [0x1000, 0x80000000, 0x5234]],
    [
      "0x1234567 bytes at 0x800: mode 10, length bits 24:20 in order",
      0x800,
      0x1234567,
      0,
      0,
      [0, 0x81200000, 0x34567800],
    ],
    ["page-aligned start, 0x1001 bytes: mode 10", 0x3000, 0x1001, 0, 0, [0x3000, 0x80000000, 0x1001000]],
    [
      "provider 5000 needs mode 11 (bits 15:12 in order)",
      0x1000,
      0x1000,
      0,
      5000,
      [0x1100, 0xce100000, 0xfff000, 0],
    ],
    ["2^25 bytes at 0x10: mode 11", 0x10, 2 ** 25, 0, 0, [0, 0xc0000000, 0xfffff010, 0x1f]],
    ["all of [0, 2^52): mode 01, order 31, count 512", 0, 2 ** 52, 0, 0, [0, 0x41f00000, 512]],
    [
      "2^32 + 1 pages at 0: count overflows, mode 11",
      0,
      (2 ** 32 + 1) * 4096,
      0,
      0,
      [0, 0xc0000000, 0xfff000, 0x1000000],
    ],
    [
      "2^52 - 1 bytes at 1, provider 0xffff: mode 11",
      1,
      2 ** 52 - 1,
      31 & ~2,
      0xffff,
      [0xffd, 0xfef00000, 0xffffe001, 0xffffffff],
    ],
  ])("%s", (_name, addr, len, flags, provider, want) => {
    expect(words(addr, len, flags, provider).map((w) => w >>> 0)).toEqual(want);
    expect(compactEntryBytes(addr, len, flags, provider)).toBe(want.length * 4);
  });

  test("byteSize charges chunk capacity, 32 B per segment and a 48 B header", () => {
    const c = new PhyrList({ chunkCapacity: 4 });
    const w = new PhyrList({ chunkCapacity: 4, store: "wide" });
    for (let i = 0; i < 5; i++) {
      c.append(i * 0x1000, 0x1000);
      w.append(i * 0x1000, 0x1000);
    }
    // compact: 4 slots of 8 B per chunk, 2 chunks; wide: 4 entries of 19 B per chunk, 2 chunks.
    expect(c.byteSize).toBe(2 * 32 + 2 * 32 + 48);
    expect(w.byteSize).toBe(2 * 76 + 2 * 32 + 48);
    // a view shares the chunks: only segment and header bytes are its own, chunks count once.
    expect(c.concat(c).byteSize).toBe(2 * 32 + 4 * 32 + 48);
    // a one-entry list starts with an 8-slot chunk
    expect(PhyrList.fromRanges([{ addr: 0, len: 1 }]).byteSize).toBe(64 + 32 + 48);
  });

  test("at the default 512-slot chunk, compact costs about 8 B per natural chunk and 12 B per irregular run", () => {
    const natural = new PhyrList();
    const irregular = new PhyrList();
    for (let i = 0; i < 100_000; i++) {
      natural.append(i * 0x400000, 0x200000);
      irregular.append(i * 0x400000 + 0x1000, 0x3000);
    }
    natural.checkValid();
    irregular.checkValid();
    // natural: 4096 B chunk / 512 entries = 8 B, + 32 B segment per 512 entries; ramp chunks add slack.
    expect(natural.byteSize / natural.nents).toBeGreaterThanOrEqual(8);
    expect(natural.byteSize / natural.nents).toBeLessThan(8.1);
    // irregular: 341 12-byte entries per 4096 B chunk.
    expect(irregular.byteSize / irregular.nents).toBeGreaterThanOrEqual(12);
    expect(irregular.byteSize / irregular.nents).toBeLessThan(12.2);
  });

  test("every order 0..31 decodes to 2^(order+12) bytes, as one chunk (mode 00) and as a count (mode 01)", () => {
    for (let order = 0; order <= 31; order++) {
      // 2^(order+12) bytes at that alignment: one natural chunk; 3 of them at 0: mode 01, count 3.
      const bytes = 2 ** (order + 12);
      const l = new PhyrList({ chunkCapacity: 2 });
      l.append(bytes, bytes);
      if (3 * bytes <= 2 ** 52) l.append(0, 3 * bytes);
      l.checkValid();
      expect(l.entry(0)).toEqual({ addr: bytes, len: bytes, flags: 0, provider: 0 });
      if (3 * bytes <= 2 ** 52)
        expect(l.entry(1)).toEqual({ addr: 0, len: 3 * bytes, flags: 0, provider: 0 });
      const c = l.cursor();
      expect([c.entryAddr, c.entryLen]).toEqual([bytes, bytes]);
    }
  });

  test("page runs encode as the layout's canonical words (naive arithmetic model), below and above 2^32 frames", () => {
    // The model follows the layout comment with plain arithmetic: order = the largest k <= 31
    // dividing both frame and page count; one natural chunk (mode 00) when the count is 2^t and
    // the frame is aligned to it, else mode 01 with count / 2^k (mode 11 past 2^32 - 1 chunks).
    const model = (frame: number, npages: number, flags: number, provider: number): number[] => {
      let k = 0;
      while (k < 31 && frame % 2 ** (k + 1) === 0 && npages % 2 ** (k + 1) === 0) k++;
      const natural = npages === 2 ** k;
      const lo = (frame % 2 ** 20) * 2 ** 12 + (provider % 128) * 32 + flags;
      const hi = (m: number) =>
        Math.floor(frame / 2 ** 20) + k * 2 ** 20 + Math.floor(provider / 128) * 2 ** 25 + m * 2 ** 30;
      if (natural) return [lo, hi(0)];
      return npages / 2 ** k <= 0xffffffff ? [lo, hi(1), npages / 2 ** k] : [];
    };
    const frameArb = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.integer({ min: 2 ** 32 - 2 ** 20, max: 2 ** 32 + 2 ** 20 }),
      fc
        .tuple(fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: 0, max: 20 }))
        .map(([f, o]) => f * 2 ** o),
    );
    const pagesArb = fc.oneof(
      fc.integer({ min: 1, max: 4096 }),
      fc.integer({ min: 0, max: 32 }).map((t) => 2 ** t),
      fc.integer({ min: 2 ** 32 - 4, max: 2 ** 32 + 4 }),
    );
    fc.assert(
      fc.property(
        frameArb,
        pagesArb,
        fc.integer({ min: 0, max: 31 }).filter((f) => (f & 3) !== 3),
        fc.integer({ min: 0, max: 4095 }),
        (frame, npages, flags, provider) => {
          const want = model(frame, npages, flags, provider);
          fc.pre(want.length > 0); // mode 11 is covered by the table above
          const width = encodeCompact(frame * 4096, npages * 4096, flags, provider);
          expect([...ENC.subarray(0, width)]).toEqual(want);
        },
      ),
      fcRuns(400),
    );
  });
});
