import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PAGE_SIZE, SZ_1G } from "../core/index.js";
import { PhyrFlag, PhyrList, phyrFromPfns } from "../phyr/index.js";
import {
  biovecFormat,
  biovecPageFormat,
  compactFormat,
  FORMATS,
  formatByName,
  jason8Format,
  pagePointerArray,
  pagesFormat,
  pfnbatchFormat,
  phyr16Format,
  rlistEntryBytes,
  rlistFormat,
  scatterlistFormat,
  sgAllocTableFromPages,
  sgEntriesFor,
  sgSlots,
} from "./index.js";

const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const run = (addr: number, len: number, flags = 0, provider = 0): PhyrList =>
  PhyrList.fromRanges([{ addr, len, flags, provider }]);
/** Single pages at even pfns: no two merge. */
const scattered = (n: number): PhyrList => phyrFromPfns(Array.from({ length: n }, (_, i) => 2 * i));

describe("scatterlist follows sg_alloc_table_from_pages / get_next_sg", () => {
  // n <= 128: n slots; else 127 data + 1 chain per full chunk, the rest in the final chunk.
  test.each([
    [1, 1],
    [127, 127],
    [128, 128],
    [129, 130],
    [255, 256],
    [256, 258],
  ])("%i entries take %i slots (32 B each + 16 B sg_table)", (n, slots) => {
    expect(sgSlots(n)).toBe(slots);
    expect(scatterlistFormat.bytesFor(scattered(n))).toBe(16 + 32 * slots);
  });

  test("129 entries = 130 slots = 4160 B + 16 B, chained after slot 127, SG_END on the last", () => {
    const bytes = scatterlistFormat.encode(scattered(129));
    expect(bytes.length).toBe(4176);
    expect(u32(bytes, 12)).toBe(129); // orig_nents
    expect(u32(bytes, 16 + 127 * 32)).toBe(4 * 1 + 1); // chain to chunk 1, SG_CHAIN
    expect(u32(bytes, 16 + 126 * 32) & 3).toBe(0);
    expect(u32(bytes, 16 + 129 * 32) & 3).toBe(2); // SG_END
  });

  test.each([129, 255, 256, 400])("a chained table of %i entries decodes back to the same list", (n) => {
    const list = scattered(n);
    const back = scatterlistFormat.decode(scatterlistFormat.encode(list));
    back.checkValid();
    expect(back.toArray()).toEqual(list.toArray());
  });

  // max_segment = 0xFFFFF000 = 1048575 pages; entries = ceil(pages / 1048575).
  test.each([
    ["1 GiB run", SZ_1G, 1],
    ["0xFFFFF000-byte run", 0xfffff000, 1],
    ["0xFFFFF000 + 4 KiB run", 0xfffff000 + PAGE_SIZE, 2],
    ["16 GiB run", 2 ** 34, 5],
  ])("scatterlist of a %s: entries = ceil(pages / 1048575)", (_what, len, n) => {
    expect(sgEntriesFor(run(0, len))).toBe(n);
    expect(scatterlistFormat.bytesFor(run(0, len))).toBe(16 + 32 * n);
  });

  test("a 16 GiB run splits into 4 x 0xFFFFF000 and 16 KiB", () => {
    const back = scatterlistFormat.decode(scatterlistFormat.encode(run(SZ_1G, 2 ** 34))).toArray();
    expect(back.map((e) => e.len)).toEqual([0xfffff000, 0xfffff000, 0xfffff000, 0xfffff000, 0x4000]);
  });

  test("sgAllocTableFromPages merges pfns 1,2,3 and keeps 10 apart; only the first entry has an offset", () => {
    const size = 4 * PAGE_SIZE - 0x100 - 0x200;
    const t = sgAllocTableFromPages(pagePointerArray([1, 2, 3, 10]), 0x100, size);
    expect(t.origNents).toBe(2);
    expect(t.totalNents).toBe(2);
    const c = t.chunks[0];
    expect([c[0], c[1], c[2], c[3]]).toEqual([64, 0xffffea00, 0x100, 0x2f00]);
    expect([c[8], c[9], c[10], c[11]]).toEqual([640 + 2, 0xffffea00, 0, 0xe00]); // SG_END
  });

  test.each([
    [0x2000, [2, 2, 1]],
    [0x2fff, [2, 2, 1]], // rounded down to PAGE_SIZE
    [0x3000, [3, 2]],
  ])("sgAllocTableFromPages with max_segment %i cuts 5 contiguous pages into %j", (maxSeg, pages) => {
    const t = sgAllocTableFromPages(pagePointerArray([8, 9, 10, 11, 12]), 0, 5 * PAGE_SIZE, maxSeg);
    const lens = [];
    for (let s = 0; s < t.origNents; s++) lens.push(t.chunks[0][s * 8 + 3] / PAGE_SIZE);
    expect(lens).toEqual(pages);
  });

  test("sgAllocTableFromPages chains 129 entries as 128 + 2 slots (total_nents 129)", () => {
    const t = sgAllocTableFromPages(
      pagePointerArray(Array.from({ length: 129 }, (_, i) => 2 * i)),
      0,
      129 * PAGE_SIZE,
    );
    expect(t.totalNents).toBe(129);
    expect(t.chunks.map((c) => c.length / 8)).toEqual([128, 2]);
    expect(t.chunks[0][127 * 8]).toBe(4 + 1);
    expect(t.chunks[1][8] & 3).toBe(2);
  });

  test("sgAllocTableFromPages writes the same slots as the scatterlist format for random PFN arrays", () => {
    const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 300, size: "max" }),
        fc.integer({ min: 0, max: 4095 }),
        fc.integer({ min: 0, max: 4095 }),
        (pfns, off, trim) => {
          const size = pfns.length * PAGE_SIZE - off - Math.min(trim, pfns.length * PAGE_SIZE - off - 1);
          const t = sgAllocTableFromPages(pagePointerArray(pfns), off, size);
          const bytes = scatterlistFormat.encode(phyrFromPfns(pfns, { firstOffset: off, totalBytes: size }));
          const flat = new Uint8Array(sgSlots(t.origNents) * 32);
          let at = 0;
          for (const c of t.chunks) {
            flat.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
            at += c.byteLength;
          }
          expect(t.origNents).toBe(u32(bytes, 12));
          if (le) expect(flat).toEqual(bytes.subarray(16));
        },
      ),
      fcRuns(100),
    );
  });

  test.each([
    ["no pages", [], 0, 1, 0xfffff000],
    ["offset 4096", [1], 4096, 1, 0xfffff000],
    ["offset -1", [1], -1, 1, 0xfffff000],
    ["size 0", [1], 0, 0, 0xfffff000],
    ["size beyond the pages", [1], 0, 4097, 0xfffff000],
    ["size ending before the last page", [1, 2], 0, 4096, 0xfffff000],
    ["max_segment below PAGE_SIZE", [1], 0, 4096, 4095],
  ])("sgAllocTableFromPages rejects %s with a RangeError", (_what, pfns, off, size, maxSeg) => {
    expect(() => sgAllocTableFromPages(pagePointerArray(pfns), off, size, maxSeg)).toThrow(RangeError);
  });
});

describe("page arrays and bio_vecs", () => {
  test("pages: a 1 GiB run is 262,144 struct page pointers = 2 MiB; pfn 1 is vmemmap + 64", () => {
    expect(pagesFormat.bytesFor(run(SZ_1G, SZ_1G))).toBe(262144 * 8);
    const b = pagesFormat.encode(run(PAGE_SIZE, PAGE_SIZE));
    expect([u32(b, 0), u32(b, 4)]).toEqual([64, 0xffffea00]);
    const hi = pagesFormat.encode(run(2 ** 26 * PAGE_SIZE, PAGE_SIZE)); // pfn * 64 = 2^32
    expect([u32(hi, 0), u32(hi, 4)]).toEqual([0, 0xffffea01]);
  });

  test("biovec-page: 0x1800+0x2000 touches 3 pages: bvecs of 0x800@0x800, 0x1000@0, 0x800@0", () => {
    const b = biovecPageFormat.encode(run(0x1800, 0x2000));
    expect(b.length).toBe(48);
    expect([u32(b, 8), u32(b, 12), u32(b, 24), u32(b, 28), u32(b, 40), u32(b, 44)]).toEqual([
      0x800, 0x800, 0x1000, 0, 0x800, 0,
    ]);
  });

  test("biovec: one 16 B bvec per run; a 16 GiB run is cut at 0xFFFFF000 into 5", () => {
    expect(biovecFormat.bytesFor(run(0x1800, 0x2000))).toBe(16);
    expect(biovecFormat.bytesFor(run(0, 2 ** 34))).toBe(80);
    const b = biovecFormat.encode(run(0x800, 2 ** 33));
    expect([u32(b, 8), u32(b, 12)]).toEqual([0xfffff000 - 0x800, 0x800]);
  });

  test("phyr16: 16 B per entry, {u64 addr, u64 len}", () => {
    const b = phyr16Format.encode(run(2 ** 40 + 0x10, 0x30));
    expect([u32(b, 0), u32(b, 4), u32(b, 8), u32(b, 12)]).toEqual([0x10, 0x100, 0x30, 0]);
  });
});

describe("pfn_batch (iommufd)", () => {
  test("pfns [1,2,3,10] are 2 runs = 24 B: pfns then npfns", () => {
    const b = pfnbatchFormat.encode(phyrFromPfns([1, 2, 3, 10]));
    expect(b.length).toBe(24);
    expect([u32(b, 0), u32(b, 8), u32(b, 16), u32(b, 20)]).toEqual([1, 10, 3, 1]);
  });

  test("contiguous entries merge into one run; a run of 2^32 pages needs two (npfns is a u32)", () => {
    expect(
      pfnbatchFormat.bytesFor(
        PhyrList.fromRanges([
          { addr: 0x1000, len: 0x1000 },
          { addr: 0x2000, len: 0x1000 },
        ]),
      ),
    ).toBe(12);
    const b = pfnbatchFormat.encode(run(0, 2 ** 44));
    expect(b.length).toBe(24);
    expect([u32(b, 0), u32(b, 8), u32(b, 16), u32(b, 20)]).toEqual([0, 0xffffffff, 0xffffffff, 1]);
  });
});

describe("jason8 (mode 00 only)", () => {
  test("3 pages at pfn 1 = chunks (1, order 0) and (2, order 1) = 24 + 16 B", () => {
    const b = jason8Format.encode(phyrFromPfns([1, 2, 3]));
    expect(b.length).toBe(40);
    expect([u32(b, 0), u32(b, 8), u32(b, 16)]).toEqual([0, 3 * PAGE_SIZE, PAGE_SIZE]);
    expect([u32(b, 24), u32(b, 28), u32(b, 32), u32(b, 36)]).toEqual([0x1000, 0, 0x2000, 1 << 20]);
  });

  test.each([
    ["an aligned 1 GiB run", SZ_1G, SZ_1G, 32],
    ["an aligned 2 MiB run plus one page", 0x200000, 0x201000, 40],
    ["7 pages at pfn 1 (1 + 2 + 4)", 0x1000, 0x7000, 48],
  ])("jason8 of %s: header + 8 B per natural chunk", (_what, addr, len, bytes) => {
    expect(jason8Format.bytesFor(run(addr, len))).toBe(bytes);
  });
});

describe("rlist (2023 prototype)", () => {
  test.each([
    ["a pinned page run", 0x1000, 0x1000, PhyrFlag.PINNED, 0, 8],
    ["4 GiB of pages (2^20 pages)", 0, 2 ** 32, 0, 0, 8],
    ["a DIRTY run (extra flags)", 0x1000, 0x1000, PhyrFlag.DIRTY, 0, 16],
    ["a P2P run (provider 1)", 0x1000, 0x1000, 0, 1, 16],
    ["a byte range", 0x1001, 5, 0, 0, 16],
    ["4 GiB + 4 KiB (length past u32)", 0, 2 ** 32 + 0x1000, 0, 0, 24],
  ])("rlist stores %s in the smallest encoding that holds it", (_what, addr, len, flags, provider, bytes) => {
    expect(rlistEntryBytes(addr, len, flags, provider)).toBe(bytes);
  });

  test("63 short entries fill one 512 B chunk (8 B header), 64 need two", () => {
    expect(rlistFormat.bytesFor(scattered(63))).toBe(512);
    expect(rlistFormat.bytesFor(scattered(64))).toBe(1024);
  });

  test("31 16-byte entries + one 8-byte entry = 504 B fit one chunk; 32 + 1 do not", () => {
    const mk = (n: number): PhyrList =>
      PhyrList.fromRanges([
        ...Array.from({ length: n }, (_, i) => ({ addr: 0x2000 * i + 1, len: 1 })),
        { addr: 0, len: 0x1000 },
      ]);
    expect(rlistFormat.bytesFor(mk(31))).toBe(512);
    expect(rlistFormat.bytesFor(mk(32))).toBe(1024);
  });

  test("a pinned page at pfn 1 is the word 0x01000004 0x00000000", () => {
    const b = rlistFormat.encode(run(0x1000, 0x1000, PhyrFlag.PINNED));
    expect([u32(b, 0), u32(b, 4), u32(b, 6) & 0xffff]).toEqual([0, 8 | (1 << 16), 1]);
    expect([u32(b, 8), u32(b, 12)]).toEqual([0x01000004, 0]);
  });
});

describe("compact (the PhyrList store's words)", () => {
  test("3 pages at pfn 1 are one 12 B mode-01 entry in a 4 KiB chunk: 48 + 32 + 4096 B", () => {
    const b = compactFormat.encode(phyrFromPfns([1, 2, 3]));
    expect(b.length).toBe(4176);
    expect(u32(b, 48)).toBe(3); // used words
    expect(u32(b, 80 + 4) >>> 30).toBe(1); // mode 01
    expect(u32(b, 80 + 8)).toBe(3); // count
  });

  test("600 single pages take two 512-slot chunks: 48 + 2 x (32 + 4096) B", () => {
    expect(compactFormat.bytesFor(scattered(600))).toBe(48 + 2 * (32 + 4096));
  });

  test("a page run of 2^33 pages needs the 16 B general escape (count above u32)", () => {
    const b = compactFormat.encode(run(0x1000, 2 ** 45));
    expect(u32(b, 48)).toBe(4);
  });
});

describe("the registry", () => {
  test("FORMATS holds the ten formats by name, each naming its kernel source", () => {
    expect(FORMATS.map((f) => f.name)).toEqual([
      "pages",
      "scatterlist",
      "biovec-page",
      "biovec",
      "phyr16",
      "pfnbatch",
      "jason8",
      "rlist",
      "compact",
      "packed",
    ]);
    for (const f of FORMATS) expect(formatByName(f.name)).toBe(f);
  });

  test("formatByName of an unknown name is a RangeError naming it", () => {
    expect(() => formatByName("sgl")).toThrow(/"sgl" is invalid/);
  });
});

describe("sizes beyond one buffer", () => {
  test("bytesFor of a 32 TiB run is arithmetic (2^36 B of page pointers); encode refuses it with a RangeError", () => {
    const huge = run(0, 2 ** 45);
    expect(pagesFormat.bytesFor(huge)).toBe(2 ** 36);
    expect(biovecPageFormat.bytesFor(huge)).toBe(2 ** 37);
    expect(() => pagesFormat.encode(huge)).toThrow(/pages encoding size 0x1000000000 is invalid/);
  });
});
