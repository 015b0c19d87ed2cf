import { describe, expect, it } from "vitest";
import { formatTable, plainPaint } from "./table.js";

describe("formatTable", () => {
  it("right-aligns numbers with separators and left-aligns text", () => {
    const lines = formatTable(
      ["name", "pages"],
      [
        ["a", 1],
        ["long", 1234567],
      ],
    );
    expect(lines).toEqual(["name      pages", "a             1", "long  1,234,567"]);
  });

  it("escapes control characters before measuring widths", () => {
    const lines = formatTable(["p"], [["\u001b[2J"]], { paint: plainPaint });
    expect(lines).toEqual(["p", "\\x1b[2J"]);
  });

  it("clips cells longer than maxWidth with an ellipsis", () => {
    expect(formatTable(["x"], [["abcdefgh"]], { maxWidth: 5 })).toEqual(["x", "abcd…"]);
  });

  it("fits width by narrowing text columns first, never cutting a number", () => {
    const rows = [["a-very-long-process-name-here", 1234567, "another-long-text-cell"]];
    const full = formatTable(["process", "pages", "buffer"], rows);
    expect(full[1].length).toBe(29 + 2 + 9 + 2 + 22);
    const fit = formatTable(["process", "pages", "buffer"], rows, { width: 40 });
    // 29 + 9 + 22 + 4 = 64 > 40: the widest text column goes to 12, then the next to 15.
    expect(fit).toEqual(["process           pages  buffer", "a-very-long…  1,234,567  another-long-t…"]);
    expect(Math.max(...fit.map((l) => l.length))).toBeLessThanOrEqual(40);
  });

  it("leaves out whole columns from the right when narrowing is not enough, and names them", () => {
    const fit = formatTable(["pid", "pages", "runs"], [[1, 1234567, 7654321]], { width: 20 });
    expect(fit).toEqual(["pid      pages", "  1  1,234,567", "(runs left out to fit 20 columns)"]);
  });

  it("throws a TypeError naming the row when its length differs from the header", () => {
    expect(() => formatTable(["a", "b"], [["1", "2"], ["3"]])).toThrow(
      /table row 1 is invalid: it has 1 cells, the header has 2/,
    );
  });
});
