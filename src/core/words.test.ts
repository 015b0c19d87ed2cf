import fc from "fast-check";
import { expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { bit64, bits64, joinWord, splitWord } from "./words.js";

// Reference: the same fields taken from a BigInt of the whole word (fine in a test, not on hot paths).
const word = fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }));

it("bits64 and bit64 agree with BigInt shifts for every field (property)", () => {
  fc.assert(
    fc.property(
      word,
      fc.integer({ min: 0, max: 63 }),
      fc.integer({ min: 1, max: 32 }),
      ([lo, hi], shift, w) => {
        const big = (BigInt(hi) << 32n) | BigInt(lo);
        const width = Math.min(w, 64 - shift);
        // Fields spanning the halves must end below bit 53 (documented limit).
        if (shift < 32 && shift + width > 32 && shift + width > 53) return;
        expect(bits64(lo, hi, shift, width)).toBe(
          Number((big >> BigInt(shift)) & ((1n << BigInt(width)) - 1n)),
        );
        expect(bit64(lo, hi, shift)).toBe(((big >> BigInt(shift)) & 1n) === 1n);
      },
    ),
    fcRuns(500),
  );
});

it("pagemap-style fields: PFN in bits 0-54, present bit 63", () => {
  // Entry 0x8000_0000_0012_3456: present, PFN 0x123456.
  expect(bits64(0x00123456, 0x80000000, 0, 32)).toBe(0x123456);
  expect(bit64(0x00123456, 0x80000000, 63)).toBe(true);
  expect(bit64(0x00123456, 0x80000000, 62)).toBe(false);
});

it("splitWord and joinWord round-trip below 2^53", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (v) => {
      const [lo, hi] = splitWord(v);
      expect(lo).toBeLessThan(2 ** 32);
      expect(joinWord(lo, hi)).toBe(v);
    }),
    fcRuns(300),
  );
});
