import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import {
  ADDR_LIMIT,
  alignDown,
  alignUp,
  checkAddr,
  checkCount,
  checkLen,
  checkRange,
  countNaturalChunks,
  ctz52,
  decomposeRun,
  formatBytes,
  hex,
  ilog2,
  isPow2,
  lowestBit,
  modPow2,
  parseHex,
  parseSize,
  pfnAlignOrder,
  roundUpPow2,
} from "./addr.js";

describe("checked 52-bit integers", () => {
  it.each([
    [Number.NaN, /address NaN is invalid: expected an integer below 2\^52/],
    [-1, /address -1 is invalid/],
    [0.5, /address 0\.5 is invalid/],
    [ADDR_LIMIT, /address 0x10000000000000 is invalid: expected an integer below 2\^52/],
    [Number.POSITIVE_INFINITY, /address Infinity is invalid/],
  ])("checkAddr rejects %s naming the value", (v, msg) => {
    expect(() => checkAddr("address", v)).toThrow(RangeError);
    expect(() => checkAddr("address", v)).toThrow(msg);
  });

  it("checkAddr accepts 0 and 2^52 - 1", () => {
    expect(checkAddr("a", 0)).toBe(0);
    expect(checkAddr("a", ADDR_LIMIT - 1)).toBe(ADDR_LIMIT - 1);
  });

  it.each([0, -4096, 1.5, Number.NaN, ADDR_LIMIT + 1])("checkLen rejects %s", (v) => {
    expect(() => checkLen("length", v)).toThrow(/length .* is invalid: expected an integer in 1\.\.2\^52/);
  });

  it("checkRange names the part that is wrong, and the end beyond 2^52", () => {
    expect(() => checkRange("entry", -1, 4096)).toThrow("entry address -1 is invalid");
    expect(() => checkRange("entry", 0, 0)).toThrow("entry length 0x0 is invalid");
    expect(() => checkRange("entry", ADDR_LIMIT - 4096, 8192)).toThrow(
      "entry 0xffffffffff000+0x2000 is invalid: it ends beyond 2^52",
    );
    expect(() => checkRange("entry", ADDR_LIMIT - 4096, 4096)).not.toThrow();
  });

  it("checkCount takes integers in 0..max", () => {
    expect(checkCount("n", 0)).toBe(0);
    expect(() => checkCount("n", 11, 10)).toThrow("n 0xb is invalid: expected an integer in 0..10");
    expect(() => checkCount("n", -1)).toThrow(RangeError);
  });
});

describe("page and order math", () => {
  it.each([
    // [value, align, down, up]
    [0x1234, 0x1000, 0x1000, 0x2000],
    [0x2000, 0x1000, 0x2000, 0x2000],
    [2 ** 40 + 1, 2 ** 30, 2 ** 40, 2 ** 40 + 2 ** 30],
  ])("align %s to %s", (v, a, down, up) => {
    expect(alignDown(v, a)).toBe(down);
    expect(alignUp(v, a)).toBe(up);
  });

  it.each([
    // [n, ilog2, lowestBit]
    [1, 0, 1],
    [12, 3, 4],
    [2 ** 32, 32, 2 ** 32],
    [2 ** 51 + 2 ** 33, 51, 2 ** 33],
  ])("ilog2(%s) = %s, lowestBit = %s", (n, log, low) => {
    expect(ilog2(n)).toBe(log);
    expect(lowestBit(n)).toBe(low);
  });

  it("ctz52 is ilog2(lowestBit(n)) below 2^53, 52 for 0", () => {
    expect(ctz52(0)).toBe(52);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(ctz52(n)).toBe(ilog2(lowestBit(n)));
      }),
    );
    expect([1, 12, 2 ** 32, 2 ** 51 + 2 ** 33, 2 ** 52].map(ctz52)).toEqual([0, 2, 32, 33, 52]);
  });

  it("modPow2 is x % m for a power of two m, above 2^32 too", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.nat(52), (x, k) => {
        expect(modPow2(x, 2 ** k)).toBe(x % 2 ** k);
      }),
    );
    expect(modPow2(2 ** 52 + 0x1234, 4096)).toBe(0x234);
  });

  it("pfnAlignOrder: 2 MiB pfns have order 9, 1 GiB pfns 18, pfn 0 the cap", () => {
    expect(pfnAlignOrder(0x200)).toBe(9);
    expect(pfnAlignOrder(0x40000)).toBe(18);
    expect(pfnAlignOrder(0x40001)).toBe(0);
    expect(pfnAlignOrder(0, 18)).toBe(18);
  });

  it("powers of two", () => {
    expect([1, 2, 3, 4096, 4097].map(isPow2)).toEqual([true, true, false, true, false]);
    expect([1, 3, 4096, 4097, 2 ** 33 + 1].map(roundUpPow2)).toEqual([1, 4, 4096, 8192, 2 ** 34]);
  });
});

describe("natural-order decomposition of a run", () => {
  const chunks = (pfn: number, n: number) => {
    const out: [number, number][] = [];
    decomposeRun(pfn, n, (p, o) => out.push([p, o]));
    return out;
  };

  it.each([
    // 3 pages at pfn 1 -> 4 KiB at pfn 1, then 8 KiB at pfn 2.
    [
      1,
      3,
      [
        [1, 0],
        [2, 1],
      ],
    ],
    // 2 MiB-aligned 2 MiB + 4 KiB -> one order-9 chunk and one page.
    [
      0x200,
      513,
      [
        [0x200, 9],
        [0x400, 0],
      ],
    ],
    // 1 GiB-aligned 1 GiB -> one order-18 chunk.
    [0x40000, 0x40000, [[0x40000, 18]]],
    // 4 KiB into a huge page, up to the next 4 MiB: 1+2+4+...+256 pages, then one 2 MiB chunk.
    [
      0x201,
      1023,
      [
        [0x201, 0],
        [0x202, 1],
        [0x204, 2],
        [0x208, 3],
        [0x210, 4],
        [0x220, 5],
        [0x240, 6],
        [0x280, 7],
        [0x300, 8],
        [0x400, 9],
      ],
    ],
  ] as [number, number, [number, number][]][])("pfn %s, %s pages", (pfn, n, want) => {
    expect(chunks(pfn, n)).toEqual(want);
    expect(countNaturalChunks(pfn, n)).toBe(want.length);
  });

  it("covers the run page by page with naturally aligned, maximal chunks (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 1, max: 5000 }), (pfn, n) => {
        const got = chunks(pfn, n);
        const pages: number[] = [];
        for (const [p, o] of got) {
          expect(p % 2 ** o).toBe(0);
          for (let i = 0; i < 2 ** o; i++) pages.push(p + i);
        }
        // Reference: the run's pages in order, each exactly once.
        expect(pages).toEqual(Array.from({ length: n }, (_, i) => pfn + i));
        // Greedy maximality: no two neighbouring equal-order chunks could have been one.
        for (let i = 1; i < got.length; i++) {
          const [p0, o0] = got[i - 1];
          expect(o0 === got[i][1] && p0 % 2 ** (o0 + 1) === 0).toBe(false);
        }
        expect(countNaturalChunks(pfn, n)).toBe(got.length);
      }),
      fcRuns(300),
    );
  });
});

describe("hex and sizes", () => {
  it("hex and parseHex round-trip below 2^52", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (v) => {
        const x = v % ADDR_LIMIT;
        expect(parseHex("x", hex(x))).toBe(x);
        expect(hex(x)).toBe(`0x${x.toString(16)}`);
      }),
      fcRuns(200),
    );
  });

  it.each(["", "0x", "0xg", "10000000000000", "-1", "0x1 "])("parseHex rejects %j naming it", (t) => {
    expect(() => parseHex("frame", t)).toThrow(`frame ${JSON.stringify(t)} is invalid`);
  });

  it.each([
    ["4096", 4096],
    ["0x1000", 4096],
    ["4K", 4096],
    ["2M", 2 ** 21],
    ["1GiB", 2 ** 30],
    ["1T", 2 ** 40],
  ])("parseSize(%j) = %s", (t, v) => {
    expect(parseSize(t)).toBe(v);
  });

  it.each(["", "1X", "M", "1.5G", "99999999999999999999"])("parseSize rejects %j", (t) => {
    expect(() => parseSize(t)).toThrow(`size ${JSON.stringify(t)} is invalid`);
  });

  it.each([
    [0, "0 B"],
    [4096, "4 KiB"],
    [1.5 * 2 ** 30, "1.5 GiB"],
    [123 * 2 ** 20, "123 MiB"],
  ])("formatBytes(%s) = %s", (n, s) => {
    expect(formatBytes(n)).toBe(s);
  });
});
