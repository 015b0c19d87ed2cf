import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PhyrList } from "../phyr/index.js";
import {
  blkDefMaxSectorsCap,
  DEFAULT_QUEUE_LIMITS,
  NVME_QUEUE_LIMITS,
  type QueueLimits,
} from "./block-limits.js";
import { bioSplitAt, buildBios, maxIoBytes, splitBio } from "./block-split.js";
import { BlockError } from "./errors.js";

type R = { addr: number; len: number; provider?: number };
const mk = (rs: R[], cap = 2) => PhyrList.fromRanges(rs, { store: "wide", chunkCapacity: cap });
const lim = (o: Partial<QueueLimits>): QueueLimits => ({ ...DEFAULT_QUEUE_LIMITS, ...o });
/** The defaults with 6.12's BLK_DEF_MAX_SECTORS_CAP 2560 (the cases below were worked out with it). */
const DEFAULTS_612 = lim({ maxSectors: blkDefMaxSectorsCap("6.12") });

describe("bioSplitAt follows bio_split_rw_at", () => {
  // Expected values computed by hand from block/blk-merge.c.
  const cases: { name: string; rs: R[]; l: QueueLimits; split: boolean; bytes: number; nsegs: number }[] = [
    {
      name: "1 MiB contiguous = 16 segments of 64 KiB, fits",
      rs: [{ addr: 0x100000, len: 0x100000 }],
      l: DEFAULTS_612,
      split: false,
      bytes: 0x100000,
      nsegs: 16,
    },
    {
      name: "2 MiB contiguous splits at max_sectors 2560 (1280 KiB, 20 segments)",
      rs: [{ addr: 0x200000, len: 0x200000 }],
      l: DEFAULTS_612,
      split: true,
      bytes: 1280 * 1024,
      nsegs: 20,
    },
    {
      name: "200 scattered pages split at max_segments 128",
      rs: Array.from({ length: 200 }, (_, i) => ({ addr: 0x100000 + i * 0x2000, len: 0x1000 })),
      l: DEFAULTS_612,
      split: true,
      bytes: 128 * 4096,
      nsegs: 128,
    },
    {
      name: "seg_boundary 0xffff cuts a bvec crossing 64 KiB into 2 segments",
      rs: [{ addr: 0x8000, len: 0x10000 }],
      l: lim({ segBoundaryMask: 0xffff }),
      split: false,
      bytes: 0x10000,
      nsegs: 2,
    },
    {
      name: "virt boundary gap after a bvec ending mid-page splits there",
      rs: [
        { addr: 0x1000, len: 0x800 },
        { addr: 0x5000, len: 0x1000 },
      ],
      l: NVME_QUEUE_LIMITS,
      split: true,
      bytes: 0x800,
      nsegs: 1,
    },
    {
      name: "page-aligned bvecs under a virt boundary do not split",
      rs: [
        { addr: 0x1800, len: 0x800 },
        { addr: 0x5000, len: 0x1000 },
        { addr: 0x9000, len: 0x200 },
      ],
      l: NVME_QUEUE_LIMITS,
      split: false,
      bytes: 0x1a00,
      nsegs: 3,
    },
    {
      name: "split rounded down to the 4 KiB logical block, segments recounted",
      rs: [
        { addr: 0x10000, len: 0x1800 },
        { addr: 0x20000, len: 0x1000 },
        { addr: 0x30000, len: 0x1800 },
      ],
      l: lim({ maxSegments: 2, logicalBlockSize: 4096 }),
      split: true,
      bytes: 0x2000,
      nsegs: 2,
    },
    {
      // bvec_split_segs: 0x8000 to the 64 KiB window end, then a full 64 KiB window; max_segments 2
      // stops there with 0x18000 of the bvec taken.
      name: "seg_boundary 0xffff and max_segments 2 cut a 192 KiB bvec after 96 KiB",
      rs: [{ addr: 0x8000, len: 0x30000 }],
      l: lim({ segBoundaryMask: 0xffff, maxSegments: 2 }),
      split: true,
      bytes: 0x18000,
      nsegs: 2,
    },
    {
      // max_sectors 9 = 4608 B; logical block 4096: the cut at 4608 rounds down to 4096.
      name: "max_sectors 9 with 4 KiB blocks splits at 4 KiB, not 4.5 KiB",
      rs: [{ addr: 0x100000, len: 0x2000 }],
      l: lim({ maxSectors: 9, logicalBlockSize: 4096 }),
      split: true,
      bytes: 0x1000,
      nsegs: 1,
    },
    {
      name: "max_segment_size cut off the virt boundary stops the bvec",
      rs: [{ addr: 0x10000, len: 0x3000 }],
      l: lim({ virtBoundaryMask: 0x1fff, maxSegmentSize: 0x1000 }),
      split: true,
      bytes: 0x1000,
      nsegs: 1,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const p = bioSplitAt(mk(c.rs), c.l);
      expect({ split: p.split, bytes: p.bytes, nsegs: p.nsegs }).toEqual({
        split: c.split,
        bytes: c.bytes,
        nsegs: c.nsegs,
      });
    });
  }

  test("a bio that cannot be cut into whole blocks is refused", () => {
    const bio = mk([
      { addr: 0x1000, len: 0x100 },
      { addr: 0x3000, len: 0x100 },
    ]);
    const before = bio.toArray();
    expect(() => splitBio(bio, NVME_QUEUE_LIMITS)).toThrow(BlockError);
    expect(() => bioSplitAt(bio, NVME_QUEUE_LIMITS)).toThrow(/no whole logical block/);
    expect(bio.toArray()).toEqual(before);
    bio.checkValid();
  });

  test("bad limits are refused naming the field", () => {
    const bio = mk([{ addr: 0, len: 4096 }]);
    expect(() => bioSplitAt(bio, lim({ maxSegments: 0 }))).toThrow(/maxSegments/);
    expect(() => bioSplitAt(bio, lim({ segBoundaryMask: 0x1000 }))).toThrow(/segBoundaryMask 0x1000/);
    expect(() => bioSplitAt(bio, lim({ virtBoundaryMask: 3.5 }))).toThrow(/virtBoundaryMask/);
    expect(() => splitBio(mk([{ addr: 0, len: 100 }]), DEFAULT_QUEUE_LIMITS)).toThrow(/not a multiple/);
  });

  test("splitting 2 MiB under 6.12's defaults gives 1280 KiB + 768 KiB views of the input", () => {
    const bio = mk([{ addr: 0x200000, len: 0x200000 }]);
    const pieces = splitBio(bio, DEFAULTS_612);
    expect(pieces.map((p) => [p.list.totalBytes, p.nsegs])).toEqual([
      [0x140000, 20],
      [0xc0000, 12],
    ]);
    expect(pieces[1].list.entry(0).addr).toBe(0x340000);
    for (const p of pieces) p.list.checkValid();
  });
});

/** Naive sector model: pieces of 512 B; segments never span entries; greedy within limits. */
function refSegments(
  rs: R[],
  prefix: number,
  l: QueueLimits,
): { segs: { a: number; len: number; e: number }[] } {
  const segs: { a: number; len: number; e: number }[] = [];
  let left = prefix;
  rs.forEach((r, e) => {
    for (let off = 0; off < r.len && left > 0; off += 512) {
      const a = r.addr + off;
      const n = Math.min(512, r.len - off, left);
      left -= n;
      const last = segs[segs.length - 1];
      const win = l.segBoundaryMask + 1;
      if (
        last &&
        last.e === e &&
        last.a + last.len === a &&
        last.len + n <= l.maxSegmentSize &&
        Math.floor(last.a / win) === Math.floor((a + n - 1) / win)
      )
        last.len += n;
      else segs.push({ a, len: n, e });
    }
  });
  return { segs };
}

function refValid(rs: R[], prefix: number, l: QueueLimits): boolean {
  const { segs } = refSegments(rs, prefix, l);
  if (segs.length > l.maxSegments || prefix > maxIoBytes(l)) return false;
  const v = l.virtBoundaryMask + 1;
  for (let i = 1; i < segs.length; i++) {
    if (v > 1 && ((segs[i - 1].a + segs[i - 1].len) % v !== 0 || segs[i].a % v !== 0)) return false;
  }
  return true;
}

describe("splitBio agrees with a sector-by-sector model", () => {
  const entryArb = fc.record({
    page: fc.integer({ min: 1, max: 4000 }),
    off: fc.integer({ min: 0, max: 7 }),
    sectors: fc.integer({ min: 1, max: 40 }),
  });
  const limArb = fc.record({
    maxSegments: fc.integer({ min: 1, max: 8 }),
    maxSegmentSize: fc.constantFrom(4096, 8192, 65536),
    segBoundaryMask: fc.constantFrom(0xfff, 0x3fff, 0xffffffff),
    virtBoundaryMask: fc.constantFrom(0, 0xfff),
    maxSectors: fc.integer({ min: 8, max: 200 }),
    logicalBlockSize: fc.constantFrom(512, 1024, 4096),
  });
  test("each piece is the largest valid block-aligned prefix of the rest", () => {
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 1, maxLength: 12 }), limArb, (es, l) => {
        const rs = es.map((e) => ({ addr: e.page * 0x8000 + e.off * 512, len: e.sectors * 512 }));
        const total = rs.reduce((s, r) => s + r.len, 0);
        const padded =
          total % l.logicalBlockSize === 0
            ? rs
            : [...rs, { addr: 0x10000000, len: l.logicalBlockSize - (total % l.logicalBlockSize) }];
        const bio = mk(padded, 3);
        let pieces: ReturnType<typeof splitBio>;
        // Expected from the model, piece by piece.
        const expected: number[] = [];
        let rest = padded;
        let failed = false;
        while (rest.length > 0) {
          const tot = rest.reduce((s, r) => s + r.len, 0);
          let best = 0;
          for (let p = l.logicalBlockSize; p <= tot; p += l.logicalBlockSize)
            if (refValid(rest, p, l)) best = p;
          if (best === 0) {
            failed = true;
            break;
          }
          expected.push(best);
          // drop `best` bytes from rest
          let drop = best;
          const next: R[] = [];
          for (const r of rest) {
            if (drop >= r.len) drop -= r.len;
            else {
              next.push({ addr: r.addr + drop, len: r.len - drop });
              drop = 0;
            }
          }
          rest = next;
        }
        if (failed) {
          expect(() => splitBio(bio, l)).toThrow(BlockError);
          return;
        }
        pieces = splitBio(bio, l);
        expect(pieces.map((p) => p.list.totalBytes)).toEqual(expected);
        let off = 0;
        for (const p of pieces) {
          p.list.checkValid();
          expect(p.list.toArray()).toEqual(bio.slice(off, p.list.totalBytes).toArray());
          const segsRef = refSegments(p.list.toArray(), p.list.totalBytes, l).segs.length;
          expect(p.nsegs).toBe(segsRef);
          off += p.list.totalBytes;
        }
      }),
      fcRuns(300),
    );
  });
});

describe("buildBios cuts an O_DIRECT list like bio_iov_iter_get_pages", () => {
  test("256 bvecs per bio; the 257th starts the next", () => {
    const rs = Array.from({ length: 300 }, (_, i) => ({ addr: 0x100000 + i * 0x2000, len: 0x1000 }));
    const bios = buildBios(mk(rs, 4));
    expect(bios.map((b) => [b.nents, b.totalBytes])).toEqual([
      [256, 256 * 4096],
      [44, 44 * 4096],
    ]);
  });
  test("a bio cut mid-block gives its tail to the next bio", () => {
    // maxVecs 2, 1 KiB blocks: the first bio's 0x600 bytes are trimmed to 0x400.
    const bios = buildBios(
      mk([
        { addr: 0x1000, len: 0x300 },
        { addr: 0x3000, len: 0x300 },
        { addr: 0x5000, len: 0x200 },
      ]),
      { maxVecs: 2, logicalBlockSize: 1024 },
    );
    expect(bios.map((b) => b.toArray().map((e) => [e.addr, e.len]))).toEqual([
      [
        [0x1000, 0x300],
        [0x3000, 0x100],
      ],
      [
        [0x3100, 0x200],
        [0x5000, 0x200],
      ],
    ]);
  });
  test("P2P ranges of different providers never share a bio", () => {
    const bios = buildBios(
      mk([
        { addr: 0x1000, len: 0x1000 },
        { addr: 0x2000, len: 0x1000, provider: 3 },
        { addr: 0x9000, len: 0x1000, provider: 3 },
      ]),
    );
    expect(bios.map((b) => b.nents)).toEqual([1, 2]);
  });
  test("1 GiB contiguous becomes bios of at most UINT_MAX bytes: one bio", () => {
    const bios = buildBios(mk([{ addr: 0x40000000, len: 0x40000000 }]));
    expect(bios.length).toBe(1);
    expect(bios[0].totalBytes).toBe(0x40000000);
  });
  test("unaligned totals are refused", () => {
    expect(() => buildBios(mk([{ addr: 0, len: 1000 }]))).toThrow(/not a non-empty multiple/);
    expect(() =>
      buildBios(
        mk([
          { addr: 0, len: 0x100 },
          { addr: 0x3000, len: 0x100 },
        ]),
        { maxVecs: 1 },
      ),
    ).toThrow(/less than one/);
  });
});

describe("BLK_DEF_MAX_SECTORS_CAP per release (block/blk.h 7.2, include/linux/blkdev.h 6.12)", () => {
  test("7.2 caps regular I/O at 4 MiB (8192 sectors), 6.12 at 1280 KiB (2560)", () => {
    expect(blkDefMaxSectorsCap("7.2")).toBe(8192);
    expect(blkDefMaxSectorsCap("6.12")).toBe(2560);
    expect(DEFAULT_QUEUE_LIMITS.maxSectors).toBe(8192);
  });
  test("under 7.2's defaults 8 MiB contiguous splits at 4 MiB (64 segments of 64 KiB)", () => {
    const p = bioSplitAt(mk([{ addr: 0x40000000, len: 0x800000 }]), DEFAULT_QUEUE_LIMITS);
    expect([p.split, p.bytes, p.nsegs]).toEqual([true, 0x400000, 64]);
  });
});

describe("bioSplitAt keeps the lowest seam gap like bio_split_io_at's bi_bvec_gap_bit", () => {
  // gaps |= (next.bv_offset | (prev.bv_offset + prev.bv_len)); ffs(gaps), below PAGE_SIZE, by hand.
  const cases: [string, R[], number][] = [
    ["one bvec has no seam", [{ addr: 0x10200, len: 0x1e00 }], 0],
    [
      "page-aligned seams leave no gap below 4 KiB",
      [
        { addr: 0x10200, len: 0xe00 },
        { addr: 0x30000, len: 0x1000 },
        { addr: 0x50000, len: 0x2000 },
      ],
      0,
    ],
    [
      "a bvec ending 0x600 into a page: gap bit 0x200",
      [
        { addr: 0x10000, len: 0x600 },
        { addr: 0x30000, len: 0x1000 },
      ],
      0x200,
    ],
    [
      "seams at 0x800 and 0x400: the lowest, 0x400",
      [
        { addr: 0x10000, len: 0x800 },
        { addr: 0x30400, len: 0xc00 },
        { addr: 0x50000, len: 0x1000 },
      ],
      0x400,
    ],
  ];
  for (const [name, rs, gap] of cases) {
    test(name, () => {
      expect(bioSplitAt(mk(rs), DEFAULT_QUEUE_LIMITS).physGap).toBe(gap);
    });
  }
});
