import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PAGE_SIZE } from "../core/index.js";
import { PhyrList } from "../phyr/index.js";
import { packedBytes, packedDecode, packedEncode, packedSeek } from "./index.js";

const entryArb = fc
  .record({
    pfn: fc.oneof(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 2 ** 30 })),
    off: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4095 })),
    pages: fc.oneof(fc.constantFrom(1, 1, 2, 64, 512), fc.integer({ min: 1, max: 100 })),
    bytes: fc.option(fc.integer({ min: 1, max: 9000 }), { freq: 4 }),
    flags: fc.constantFrom(0, 0, 1, 1, 2, 16, 17, 12),
    provider: fc.constantFrom(0, 0, 0, 1, 7, 0xffff),
  })
  .map((r) => ({
    addr: r.pfn * PAGE_SIZE + r.off,
    len: r.bytes ?? r.pages * PAGE_SIZE,
    flags: r.flags,
    provider: r.provider,
  }));

describe("packed", () => {
  test("packedSeek(bytes, i) equals entry i for every i and every restart interval", () => {
    fc.assert(
      fc.property(
        fc.array(entryArb, { maxLength: 150, size: "max" }),
        fc.constantFrom(1, 2, 3, 7, 64),
        (entries, k) => {
          const list = PhyrList.fromRanges(entries, { chunkCapacity: 4 });
          const bytes = packedEncode(list, k);
          expect(bytes.length).toBe(packedBytes(list, k));
          const back = packedDecode(bytes);
          back.checkValid();
          expect(back.toArray()).toEqual(list.toArray());
          for (let i = 0; i < list.nents; i++) expect(packedSeek(bytes, i)).toEqual(list.entry(i));
        },
      ),
      fcRuns(80),
    );
  });

  test("one page at pfn 1 is 12 B header + 4 B index + a 48-bit block = 22 B", () => {
    // block: unit 4 + flags 1+5 + provider 1+16 + raw lengths 1+6+0 + absolute address 1+6+6+1 = 48 bits
    expect(packedBytes(PhyrList.fromRanges([{ addr: 0x1000, len: 0x1000 }]))).toBe(22);
  });

  test("an empty list is the 12-byte header alone", () => {
    const bytes = packedEncode(new PhyrList());
    expect(bytes.length).toBe(12);
    expect(packedDecode(bytes).nents).toBe(0);
  });

  test("aligned huge pages cost fewer bits than random single pages (per-class shift)", () => {
    const huge = PhyrList.fromRanges(
      Array.from({ length: 64 }, (_, i) => ({ addr: (i * 7 + 3) * 2 ** 30, len: 2 ** 30 })),
    );
    const small = PhyrList.fromRanges(
      Array.from({ length: 64 }, (_, i) => ({ addr: (i * 7919 + 3) * 2 ** 12 * 97, len: 4096 })),
    );
    expect(packedBytes(huge)).toBeLessThan(packedBytes(small));
  });

  test.each([0, -1, 1.5, 0x1001, Number.NaN])("restart interval %s is a RangeError", (k) => {
    const list = PhyrList.fromRanges([{ addr: 0, len: 4096 }]);
    expect(() => packedEncode(list, k)).toThrow(RangeError);
    expect(() => packedBytes(list, k)).toThrow(RangeError);
  });

  test.each([-1, 3, 1.5, Number.NaN])("packedSeek index %s outside a 3-entry list is a RangeError", (i) => {
    const list = PhyrList.fromRanges([0, 2, 4].map((p) => ({ addr: p * 4096, len: 4096 })));
    expect(() => packedSeek(packedEncode(list), i)).toThrow(RangeError);
  });
});
