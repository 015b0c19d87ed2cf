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

  it("throws a TypeError naming the row when its length differs from the header", () => {
    expect(() => formatTable(["a", "b"], [["1", "2"], ["3"]])).toThrow(
      /table row 1 is invalid: it has 1 cells, the header has 2/,
    );
  });
});
