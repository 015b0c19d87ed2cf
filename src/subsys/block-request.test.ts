import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PhyrList } from "../phyr/index.js";
import { DEFAULT_QUEUE_LIMITS, NVME_QUEUE_LIMITS, type QueueLimits } from "./block-limits.js";
import { type Bio, blkMergeBio, blkRqFromBio, blkRqMapSg, blkTryMerge } from "./block-request.js";
import { buildBios } from "./block-split.js";
import { BlockError } from "./errors.js";

type R = { addr: number; len: number; provider?: number };
const mk = (rs: R[]) => PhyrList.fromRanges(rs, { store: "wide", chunkCapacity: 2 });
const bio = (sector: number, rs: R[], write = true): Bio => ({ sector, list: mk(rs), write });
const lim = (o: Partial<QueueLimits>): QueueLimits => ({ ...DEFAULT_QUEUE_LIMITS, ...o });

describe("blkTryMerge follows blk_try_merge / ll_back_merge_fn / bio_will_gap", () => {
  // Expected decisions worked out by hand from block/blk-merge.c.
  const cases: { name: string; req: Bio; b: Bio; l: QueueLimits; kind: string; reason: string }[] = [
    {
      name: "bio starting at the request's end merges at the back",
      req: bio(0, [{ addr: 0x10000, len: 0x1000 }]),
      b: bio(8, [{ addr: 0x11000, len: 0x1000 }]),
      l: DEFAULT_QUEUE_LIMITS,
      kind: "back",
      reason: "",
    },
    {
      name: "bio ending at the request's start merges at the front",
      req: bio(8, [{ addr: 0x10000, len: 0x1000 }]),
      b: bio(0, [{ addr: 0x30000, len: 0x1000 }]),
      l: DEFAULT_QUEUE_LIMITS,
      kind: "front",
      reason: "",
    },
    {
      name: "a sector gap never merges",
      req: bio(0, [{ addr: 0x10000, len: 0x1000 }]),
      b: bio(9, [{ addr: 0x11000, len: 0x1000 }]),
      l: DEFAULT_QUEUE_LIMITS,
      kind: "none",
      reason: "position",
    },
    {
      name: "a read never merges into a write",
      req: bio(0, [{ addr: 0x10000, len: 0x1000 }]),
      b: bio(8, [{ addr: 0x11000, len: 0x1000 }], false),
      l: DEFAULT_QUEUE_LIMITS,
      kind: "none",
      reason: "direction",
    },
    {
      name: "virt boundary: request ending mid-page then a distant bio leaves a gap",
      req: bio(0, [{ addr: 0x10000, len: 0x800 }]),
      b: bio(4, [{ addr: 0x30000, len: 0x1000 }]),
      l: NVME_QUEUE_LIMITS,
      kind: "none",
      reason: "gap",
    },
    {
      name: "virt boundary: physically contiguous continuation is no gap",
      req: bio(0, [{ addr: 0x10000, len: 0x800 }]),
      b: bio(4, [{ addr: 0x10800, len: 0x800 }]),
      l: NVME_QUEUE_LIMITS,
      kind: "back",
      reason: "",
    },
    {
      name: "virt boundary: a request starting off the boundary takes no merges",
      req: bio(0, [{ addr: 0x10200, len: 0xe00 }]),
      b: bio(7, [{ addr: 0x11000, len: 0x1000 }]),
      l: NVME_QUEUE_LIMITS,
      kind: "none",
      reason: "gap",
    },
    {
      name: "virt boundary: page-aligned end and page-aligned start merge although not contiguous",
      req: bio(0, [{ addr: 0x10000, len: 0x1000 }]),
      b: bio(8, [{ addr: 0x50000, len: 0x1000 }]),
      l: NVME_QUEUE_LIMITS,
      kind: "back",
      reason: "",
    },
    {
      // req_gap_front_merge: bio_will_gap(q, NULL, bio, req->bio) tests the new bio's first bvec.
      name: "virt boundary: a front bio starting off the boundary leaves a gap",
      req: bio(8, [{ addr: 0x20000, len: 0x1000 }]),
      b: bio(1, [{ addr: 0x10200, len: 0xe00 }]),
      l: NVME_QUEUE_LIMITS,
      kind: "none",
      reason: "gap",
    },
    {
      name: "max_sectors 8 refuses a ninth sector",
      req: bio(0, [{ addr: 0x10000, len: 0x1000 }]),
      b: bio(8, [{ addr: 0x11000, len: 0x200 }]),
      l: lim({ maxSectors: 8 }),
      kind: "none",
      reason: "max_sectors",
    },
    {
      name: "max_segments 2 refuses a third segment even when contiguous",
      req: bio(0, [
        { addr: 0x10000, len: 0x1000 },
        { addr: 0x20000, len: 0x1000 },
      ]),
      b: bio(16, [{ addr: 0x21000, len: 0x1000 }]),
      l: lim({ maxSegments: 2 }),
      kind: "none",
      reason: "max_segments",
    },
    {
      name: "P2P pages of another provider never join",
      req: bio(0, [{ addr: 0x10000, len: 0x1000 }]),
      b: bio(8, [{ addr: 0x11000, len: 0x1000, provider: 2 }]),
      l: DEFAULT_QUEUE_LIMITS,
      kind: "none",
      reason: "provider",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const req = blkRqFromBio(c.req, c.l);
      const d = blkTryMerge(req, c.b, c.l);
      expect([d.kind, d.reason]).toEqual([c.kind, c.reason]);
      const merged = blkMergeBio(req, c.b, c.l);
      if (c.kind === "none") expect(merged).toBeNull();
      else {
        expect(merged!.bytes).toBe(req.bytes + c.b.list.totalBytes);
        expect(merged!.nrPhysSegments).toBe(req.nrPhysSegments + d.nsegs);
        expect(merged!.sector).toBe(Math.min(c.req.sector, c.b.sector));
      }
      expect(req.bios.length).toBe(1); // the input request is unchanged
    });
  }

  test("a bio beyond the limits must be split before it forms or joins a request", () => {
    const big = bio(0, [{ addr: 0x800000, len: 0x800000 }]); // 8 MiB > 7.2's 4 MiB cap
    expect(() => blkRqFromBio(big, DEFAULT_QUEUE_LIMITS)).toThrow(BlockError);
    const req = blkRqFromBio(bio(0, [{ addr: 0x10000, len: 0x1000 }]), DEFAULT_QUEUE_LIMITS);
    expect(() => blkTryMerge(req, { ...big, sector: 8 }, DEFAULT_QUEUE_LIMITS)).toThrow(/split it first/);
    expect(() => blkRqFromBio(bio(0, [{ addr: 0, len: 100 }]), DEFAULT_QUEUE_LIMITS)).toThrow(
      /logical block/,
    );
  });
});

describe("blkRqMapSg merges bvecs across bios like __blk_segment_map_sg_merge", () => {
  const seg = (req: Bio[], l: QueueLimits) => {
    let r = blkRqFromBio(req[0], l);
    for (const b of req.slice(1)) r = blkMergeBio(r, b, l)!;
    const sg = blkRqMapSg(r, l);
    sg.checkValid();
    return sg.toArray().map((e) => [e.addr, e.len]);
  };
  test("contiguous bios become one segment", () => {
    expect(
      seg(
        [bio(0, [{ addr: 0x10000, len: 0x1000 }]), bio(8, [{ addr: 0x11000, len: 0x1000 }])],
        DEFAULT_QUEUE_LIMITS,
      ),
    ).toEqual([[0x10000, 0x2000]]);
  });
  test("the merged segment may not exceed max_segment_size 64 KiB", () => {
    expect(
      seg(
        [bio(0, [{ addr: 0x10000, len: 0xf000 }]), bio(120, [{ addr: 0x1f000, len: 0x2000 }])],
        DEFAULT_QUEUE_LIMITS,
      ),
    ).toEqual([
      [0x10000, 0xf000],
      [0x1f000, 0x2000],
    ]);
  });
  test("a 128 KiB bvec is cut into two 64 KiB segments", () => {
    expect(seg([bio(0, [{ addr: 0x100000, len: 0x20000 }])], DEFAULT_QUEUE_LIMITS)).toEqual([
      [0x100000, 0x10000],
      [0x110000, 0x10000],
    ]);
  });
  test("no merge across a seg_boundary window", () => {
    const l = lim({ segBoundaryMask: 0xffff });
    expect(
      seg([bio(0, [{ addr: 0xf000, len: 0x1000 }]), bio(8, [{ addr: 0x10000, len: 0x1000 }])], l),
    ).toEqual([
      [0xf000, 0x1000],
      [0x10000, 0x1000],
    ]);
  });
});

describe("buildBios and blkRqMapSg keep every byte, in order (page-by-page model)", () => {
  const pieces = (rs: { addr: number; len: number }[]) => {
    const out: number[] = [];
    for (const r of rs) for (let a = r.addr; a < r.addr + r.len; a += 512) out.push(a);
    return out;
  };
  test("random pinned lists", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            page: fc.integer({ min: 1, max: 5000 }),
            sectors: fc.integer({ min: 1, max: 64 }),
            provider: fc.constantFrom(0, 0, 0, 2),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(0xfff, 0x7fff, 0xffffffff),
        (es, maxVecs, segMask) => {
          const rs = es.map((e, i) => ({
            addr: (e.page + i * 8192) * 4096,
            len: e.sectors * 512,
            provider: e.provider,
          }));
          const list = mk(rs);
          const bios = buildBios(list, { maxVecs });
          const l = lim({
            segBoundaryMask: segMask,
            maxSegmentSize: 8192,
            maxSegments: 65535,
            maxSectors: 2 ** 22,
          });
          const got: number[] = [];
          for (const b of bios) {
            b.checkValid();
            expect(b.nents).toBeLessThanOrEqual(maxVecs);
            expect(b.totalBytes % 512).toBe(0);
            expect(new Set(b.toArray().map((e) => e.provider)).size).toBe(1);
            const sg = blkRqMapSg(
              blkRqFromBio({ list: b, sector: 0, write: true }, { ...l, maxSegments: 65535 }),
              l,
            );
            for (const e of sg.toArray()) {
              expect(e.len).toBeLessThanOrEqual(8192);
              expect(Math.floor(e.addr / (segMask + 1))).toBe(
                Math.floor((e.addr + e.len - 1) / (segMask + 1)),
              );
              got.push(...pieces([e]));
            }
          }
          expect(got).toEqual(pieces(rs));
        },
      ),
      fcRuns(150),
    );
  });
});
