import { describe, expect, it } from "vitest";
import { growColumn } from "./grow.js";

describe("growColumn", () => {
  it("keeps the kind and the first `keep` elements, zero beyond", () => {
    const a = Float64Array.of(1.5, 2, 3);
    const b = growColumn(a, 6, 2);
    expect(b).toBeInstanceOf(Float64Array);
    expect(Array.from(b)).toEqual([1.5, 2, 0, 0, 0, 0]);
    const u = growColumn(Uint16Array.of(7, 8), 4);
    expect(u).toBeInstanceOf(Uint16Array);
    expect(Array.from(u)).toEqual([7, 8, 0, 0]);
  });

  it("refuses to keep more than the column holds or the new one fits", () => {
    expect(() => growColumn(new Int32Array(2), 4, 3)).toThrow(/keep 3 is invalid/);
    expect(() => growColumn(new Int32Array(8), 4)).toThrow(/keep 8 is invalid/);
  });
});
