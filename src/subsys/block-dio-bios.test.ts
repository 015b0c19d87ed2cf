import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { type DioRange, dioBios } from "./block-dio-bios.js";
import { BlockError } from "./errors.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const lens = (bios: ReturnType<typeof dioBios>) => bios.map((b) => b.toArray().map((e) => e.len));

describe("O_DIRECT bios as 7.2 builds them (block/bio.c bio_iov_iter_get_pages, lib/iov_iter.c iov_iter_extract_bvecs)", () => {
  test("2 MiB of one hugetlb folio: one 256-vector bio of 1 MiB + 1020 KiB + 4 KiB bvecs", () => {
    // Extractions of 256, 255 and 254 (1 left) pages; bvecs never merge across extractions.
    const bios = dioBios([{ addr: 0x2000000, len: 2 * MiB, folioBytes: 2 * MiB }], { release: "7.2" });
    expect(lens(bios)).toEqual([[MiB, 1020 * KiB, 4 * KiB]]);
    expect(bios[0].entry(1).addr).toBe(0x2100000);
  });
  test("1 MiB of one folio is one extraction: one bvec", () => {
    expect(lens(dioBios([{ addr: 0x2080000, len: MiB, folioBytes: 2 * MiB }]))).toEqual([[MiB]]);
  });
  test("300 physically contiguous 4 KiB folios stay 300 bvecs: bios of 256 and 44", () => {
    const r: DioRange[] = [{ addr: 0x100000, len: 300 * 4096, folioBytes: 4096 }];
    const bios = dioBios(r, { release: "7.2" });
    expect(bios.map((b) => [b.nents, b.totalBytes])).toEqual([
      [256, 256 * 4096],
      [44, 44 * 4096],
    ]);
  });
  test("a run crossing a folio boundary is cut there", () => {
    // 64 KiB before and after the 2 MiB boundary at 0x400000, one extraction of 32 pages.
    const bios = dioBios([{ addr: 0x3f0000, len: 128 * KiB, folioBytes: 2 * MiB }]);
    expect(lens(bios)).toEqual([[64 * KiB, 64 * KiB]]);
  });
});

describe("bio_iov_iter_align_down trims each bio to whole logical blocks", () => {
  test("a buffer starting 0x200 into a page, 4 KiB blocks: 1020 KiB + 180 KiB", () => {
    // 256 page pieces hold 3.5 KiB + 255 pages = 1023.5 KiB; 3.5 KiB go back to the next bio.
    const r: DioRange[] = [
      { addr: 0x10200, len: 0xe00, folioBytes: 4096 },
      { addr: 0x100000, len: 299 * 4096, folioBytes: 4096 },
      { addr: 0x900000, len: 0x200, folioBytes: 4096 },
    ];
    const bios = dioBios(r, { logicalBlockSize: 4096 });
    expect(bios.map((b) => b.totalBytes)).toEqual([1020 * KiB, 180 * KiB]);
    expect(bios[0].entry(bios[0].nents - 1)).toMatchObject({ addr: 0x100000 + 254 * 4096, len: 0x200 });
    expect(bios[1].entry(0)).toMatchObject({ addr: 0x100000 + 254 * 4096 + 0x200, len: 0xe00 });
  });
});

describe("O_DIRECT bios as 6.12 builds them (bio_iov_add_folio, bvec_try_merge_page)", () => {
  test("contiguous pages merge whatever their folio: one bvec", () => {
    expect(
      lens(dioBios([{ addr: 0x2000000, len: 2 * MiB, folioBytes: 2 * MiB }], { release: "6.12" })),
    ).toEqual([[2 * MiB]]);
    expect(
      lens(dioBios([{ addr: 0x100000, len: 300 * 4096, folioBytes: 4096 }], { release: "6.12" })),
    ).toEqual([[300 * 4096]]);
  });
});

describe("dioBios refuses what the block layer refuses", () => {
  test("a total that is not whole logical blocks, a bad folio size", () => {
    expect(() => dioBios([{ addr: 0, len: 1000, folioBytes: 4096 }])).toThrow(BlockError);
    expect(() => dioBios([{ addr: 0, len: 4096, folioBytes: 4096 }], { logicalBlockSize: 8192 })).toThrow(
      /not a non-empty multiple of the 8192-byte logical block/,
    );
    expect(() => dioBios([{ addr: 0, len: 4096, folioBytes: 3000 }])).toThrow(/folio size 3000 is invalid/);
  });
});

describe("7.2 bios keep every byte in order and never put two folios in one bvec (byte-by-byte model)", () => {
  test("seeded random buffers", () => {
    const arb = fc.array(
      fc.record({
        page: fc.integer({ min: 1, max: 4096 }),
        pages: fc.integer({ min: 1, max: 700 }),
        huge: fc.boolean(),
      }),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(
      fc.property(arb, (rs) => {
        // Disjoint ranges in VA order, each starting r.page pages past the previous one's end.
        let at = 0;
        const ranges: DioRange[] = rs.map((r) => {
          at += r.page * 4096;
          const x = { addr: at, len: r.pages * 4096, folioBytes: r.huge ? 2 * MiB : 4096 };
          at += x.len;
          return x;
        });
        const bios = dioBios(ranges, { release: "7.2" });
        const want: number[] = [];
        for (const r of ranges) for (let a = r.addr; a < r.addr + r.len; a += 4096) want.push(a);
        const got: number[] = [];
        for (const b of bios) {
          expect(b.nents).toBeLessThanOrEqual(256);
          for (const e of b.toArray()) {
            const folio = ranges.find((r) => e.addr >= r.addr && e.addr < r.addr + r.len)!.folioBytes;
            expect(Math.floor(e.addr / folio)).toBe(Math.floor((e.addr + e.len - 1) / folio));
            for (let a = e.addr; a < e.addr + e.len; a += 4096) got.push(a);
          }
        }
        expect(got).toEqual(want);
      }),
      { seed: 7, numRuns: 60 },
    );
  });
});
