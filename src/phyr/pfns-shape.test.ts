/** phyrFromPfns takes numbers only: a string, or an array holding a string, is a TypeError. */
import { describe, expect, it } from "vitest";
import { phyrFromPfns } from "./build.js";

describe("phyrFromPfns() input shape", () => {
  it.each([
    ["a string", "123", /^pfns "123" is invalid: expected an array or typed array of numbers/],
    ["an array of strings", ["1"], /^pfns\[0\] "1" is invalid: expected a number, got string/],
    ["a string after numbers", [1, 2, "3"], /^pfns\[2\] "3" is invalid/],
    ["an object with a length", { length: 2, 0: 1, 1: 2 }, /^pfns object is invalid/],
  ])("%s is refused with a TypeError naming the value", (_what, pfns, message) => {
    expect(() => phyrFromPfns(pfns as unknown as number[])).toThrow(TypeError);
    expect(() => phyrFromPfns(pfns as unknown as number[])).toThrow(message);
  });

  it("numbers and typed arrays still build lists", () => {
    expect(phyrFromPfns([1, 2, 3]).nents).toBe(1);
    expect(phyrFromPfns(Uint32Array.of(1, 2, 3)).nents).toBe(1);
  });
});
