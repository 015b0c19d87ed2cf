import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { ParseError } from "../core/index.js";
import { PhyrFlag, PhyrList, phyrFromPfns } from "../phyr/index.js";
import {
  compactFormat,
  FORMATS,
  type Format,
  packedFormat,
  rlistFormat,
  scatterlistFormat,
} from "./index.js";

/** Lists that exercise every encoding path: runs, single pages, byte ranges, flags, providers, huge runs. */
const samples = (): PhyrList[] => [
  phyrFromPfns([1, 2, 3, 10, 11, 512, 513, 514, 515, 7], { firstOffset: 0x10, totalBytes: 10 * 4096 - 0x30 }),
  PhyrList.fromRanges([
    { addr: 0x1000, len: 0x1000, flags: PhyrFlag.PINNED },
    { addr: 0x5010, len: 0x20, flags: PhyrFlag.DIRTY | PhyrFlag.REF, provider: 3 },
    { addr: 0x200000, len: 0x200000, provider: 5000 },
    { addr: 2 ** 40, len: 2 ** 33 + 0x800, flags: PhyrFlag.MMIO | PhyrFlag.BUS_ADDR, provider: 0xffff },
  ]),
];

/** Either a ParseError naming the format, or a valid list. Anything else fails the test. */
function decodeOrParseError(f: Format, bytes: Uint8Array): PhyrList | null {
  try {
    const l = f.decode(bytes);
    l.checkValid();
    return l;
  } catch (e) {
    expect(e).toBeInstanceOf(ParseError);
    expect((e as ParseError).path).toBe(f.name);
    return null;
  }
}

const same = (a: PhyrList, b: PhyrList): boolean =>
  JSON.stringify(a.toArray()) === JSON.stringify(b.toArray());

describe.each(FORMATS.map((f) => [f.name, f] as const))("%s decoder on bad bytes", (_name, f) => {
  test("every truncation is a ParseError or decodes to a different list", () => {
    for (const list of samples()) {
      if (f.name === "pages" || f.name === "biovec-page") {
        if (list.totalBytes > 2 ** 24) continue; // page-granular encodings of the huge run are 16 MiB+
      }
      const bytes = f.encode(list);
      const whole = f.decode(bytes);
      const step = Math.max(1, Math.floor(bytes.length / 400));
      for (let n = 0; n < bytes.length; n += step) {
        const got = decodeOrParseError(f, bytes.slice(0, n));
        if (got) expect(same(got, whole)).toBe(false);
      }
    }
  });

  test("random byte flips give a ParseError or a valid list, never another error", () => {
    const encoded = samples()
      .filter((l) => !((f.name === "pages" || f.name === "biovec-page") && l.totalBytes > 2 ** 24))
      .map((l) => f.encode(l));
    fc.assert(
      fc.property(
        fc.nat(encoded.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        (which, flips) => {
          const bytes = encoded[which].slice();
          for (const [at, x] of flips) bytes[at % bytes.length] ^= x;
          decodeOrParseError(f, bytes);
        },
      ),
      fcRuns(300),
    );
  });

  test("trailing garbage is rejected or changes the list", () => {
    const list = samples()[0];
    const bytes = f.encode(list);
    const longer = new Uint8Array(bytes.length + 8).fill(0xa5);
    longer.set(bytes);
    const got = decodeOrParseError(f, longer);
    if (got) expect(same(got, f.decode(bytes))).toBe(false);
  });
});

describe("huge declared counts fail before allocating", () => {
  const header = (words: number[]): Uint8Array => {
    const b = new Uint8Array(words.length * 4);
    const v = new DataView(b.buffer);
    for (let i = 0; i < words.length; i++) v.setUint32(4 * i, words[i], true);
    return b;
  };

  test.each([
    ["scatterlist orig_nents 0xffffffff", scatterlistFormat, header([0, 0, 0, 0xffffffff])],
    [
      "compact 0xffffffff chunks of 2^20 slots",
      compactFormat,
      header([1, 0xffffffff, 0, 0, 1 << 20, 0, 0, 0, 0, 0, 0, 0]),
    ],
    ["compact capacity 0xffffffff", compactFormat, header([1, 1, 0, 0, 0xffffffff, 0, 0, 0, 0, 0, 0, 0])],
    ["packed 0xffffffff entries with K = 1", packedFormat, header([0x4b504850, 0xffffffff, 1])],
    ["packed K = 0", packedFormat, header([0x4b504850, 5, 0])],
    [
      "rlist chunk claiming 0xffff entries",
      rlistFormat,
      (() => {
        const b = new Uint8Array(512);
        new DataView(b.buffer).setUint32(4, 0xffff01f8, true);
        return b;
      })(),
    ],
  ])("%s -> ParseError", (_what, f, bytes) => {
    expect(() => f.decode(bytes)).toThrow(ParseError);
  });
});

describe("parse errors name the format, the offset and the field", () => {
  const list = PhyrList.fromRanges([
    { addr: 0x1000, len: 0x3000 },
    { addr: 0x9000, len: 0x1000 },
  ]);

  test.each([
    ["phyr16", 15, /^phyr16: at byte 15: length 15 is not a multiple of 16$/],
    ["pages", 9, /^pages: at byte 9: length 9 is not a multiple of 8$/],
    ["scatterlist", 40, /^scatterlist: at byte 12: length 40 does not match orig_nents 2/],
    ["jason8", 20, /^jason8: at byte 16: truncated: min_alignment needs 8 bytes, 4 left$/],
    ["packed", 8, /^packed: at byte 8: truncated: K needs 4 bytes, 0 left$/],
    ["rlist", 100, /^rlist: at byte 100: length 100 is not a multiple of 512$/],
  ])("%s truncated to %i bytes", (name, n, message) => {
    const f = FORMATS.find((x) => x.name === name)!;
    expect(() => f.decode(f.encode(list).slice(0, n))).toThrow(message);
  });

  test("a scatterlist entry whose page_link is not a struct page pointer names the entry", () => {
    const bytes = scatterlistFormat.encode(list);
    bytes[16] |= 0x20; // misalign the first page pointer
    expect(() => scatterlistFormat.decode(bytes)).toThrow(
      /at byte 16: entry 0: page_link is not a struct page pointer/,
    );
  });

  test("a jason8 word with mode 01 is rejected as not mode 00", () => {
    const f = FORMATS.find((x) => x.name === "jason8")!;
    const bytes = f.encode(list);
    bytes[31] |= 0x40; // bit 62 of the first word
    expect(() => f.decode(bytes)).toThrow(/at byte 24: word 0: mode must be 00/);
  });
});
