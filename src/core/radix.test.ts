import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { sortIndicesByKey } from "./radix.js";

describe("sortIndicesByKey", () => {
  it("orders indices by key, stable for equal keys, like a comparison sort", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 40 - 1 }), { maxLength: 300 }),
        fc.boolean(),
        (raw, fewKeys) => {
          // fewKeys squeezes keys into 8 values so ties (and stability) are exercised.
          const keys = Float64Array.from(raw, (k) => (fewKeys ? k % 8 : k));
          const want = Array.from(keys, (_, i) => i).sort((a, b) => keys[a] - keys[b] || a - b);
          expect(Array.from(sortIndicesByKey(keys, keys.length, 40))).toEqual(want);
        },
      ),
      fcRuns(200),
    );
  });

  it("sorts only the first n keys", () => {
    expect(Array.from(sortIndicesByKey([5, 3, 9, 1], 3, 4))).toEqual([1, 0, 2]);
  });

  it("handles keys at the top of 52 bits in four passes (both halves of the split key)", () => {
    const keys = [2 ** 52 - 1, 0, 2 ** 39, 2 ** 26 + 1];
    expect(Array.from(sortIndicesByKey(keys, 4, 52))).toEqual([1, 3, 2, 0]);
  });

  it("refuses a count beyond the keys and key widths outside 1..52", () => {
    expect(() => sortIndicesByKey([1, 2], 3, 8)).toThrow(/count 3 is invalid/);
    expect(() => sortIndicesByKey([1], 1, 0)).toThrow(/keyBits 0 is invalid/);
    expect(() => sortIndicesByKey([1], 1, 53)).toThrow(/keyBits 53 is invalid/);
  });
});
