/**
 * Plain-text tables for the terminal. Cells are made terminal-safe ({@link terminalSafe}) before
 * measuring, so untrusted names cannot inject escape sequences or break the alignment.
 */

import { terminalSafe } from "./escape.js";

/** Colour functions; the CLI passes picocolors (or {@link plainPaint} when colour is off). */
export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const same = (s: string): string => s;

/** A {@link Paint} that adds nothing (no colour). */
export const plainPaint: Paint = { bold: same, dim: same, red: same, green: same, yellow: same, cyan: same };

/** Options of {@link formatTable}. */
export interface TableOptions {
  /** Per-column alignment; default: right for cells that are numbers, left otherwise. */
  align?: readonly ("left" | "right")[];
  /** Colours for the header row (bold); default none. */
  paint?: Paint;
  /** Longest cell text before it is cut with `…`; default 48. */
  maxWidth?: number;
}

/**
 * Formats rows as an aligned text table with a header line, two spaces between columns.
 * Numbers are printed with thousands separators and right-aligned. O(cells).
 * @param head column titles.
 * @param rows cells (strings are untrusted: control characters are escaped).
 * @param opts alignment, colour and cell width.
 * @returns the table as lines (no trailing newline).
 * @throws TypeError when a row's length differs from the header's.
 */
export function formatTable(
  head: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  opts: TableOptions = {},
): string[] {
  const paint = opts.paint ?? plainPaint;
  const maxWidth = opts.maxWidth ?? 48;
  const cells = rows.map((r, i) => {
    if (r.length !== head.length) {
      throw new TypeError(
        `table row ${i} is invalid: it has ${r.length} cells, the header has ${head.length}`,
      );
    }
    return r.map((c) => clip(typeof c === "number" ? c.toLocaleString("en-US") : terminalSafe(c), maxWidth));
  });
  const align = head.map(
    (_, j) => opts.align?.[j] ?? (rows.length > 0 && typeof rows[0][j] === "number" ? "right" : "left"),
  );
  const heads = head.map((h) => clip(terminalSafe(h), maxWidth));
  const width = heads.map((h, j) => Math.max(h.length, ...cells.map((r) => r[j].length)));
  const line = (r: string[]): string =>
    r
      .map((c, j) => (align[j] === "right" ? c.padStart(width[j]) : c.padEnd(width[j])))
      .join("  ")
      .trimEnd();
  return [paint.bold(line(heads)), ...cells.map(line)];
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
