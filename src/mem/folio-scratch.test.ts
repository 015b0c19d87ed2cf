import { describe, expect, it } from "vitest";
import { FolioScratch } from "./folio-scratch.js";

describe("FolioScratch", () => {
  it.each([
    // [capacity asked, length before, length after]: at least 64, at least doubling, never shrinking
    [1, 0, 64],
    [100, 0, 100],
    [65, 64, 128],
    [300, 64, 300],
    [10, 128, 128],
  ])("reserve(%i) from length %i gives length %i, zeroed", (ask, from, want) => {
    const s = new FolioScratch();
    if (from > 0) s.reserve(from);
    expect(s.count.length).toBe(from);
    s.reserve(ask);
    expect([s.count.length, s.mark.length]).toEqual([want, want]);
    expect(s.count.every((x) => x === 0) && s.mark.every((x) => x === 0)).toBe(true);
  });

  it("growTouched keeps the ids recorded so far", () => {
    const s = new FolioScratch();
    let t = s.growTouched();
    expect(t.length).toBe(1024);
    for (let i = 0; i < t.length; i++) t[i] = i * 3;
    t = s.growTouched();
    expect(t.length).toBe(2048);
    expect(s.touched).toBe(t);
    expect(t[1023]).toBe(1023 * 3);
    expect(t[1024]).toBe(0);
  });
});
