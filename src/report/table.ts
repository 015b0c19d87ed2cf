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
  /**
   * Widest line allowed (the terminal's COLUMNS); default unlimited. Text columns are narrowed
   * first (to 12 characters, cut with `…`); numbers are never cut: when the table is still too
   * wide, whole columns are left out from the right and a last line names them.
   */
  width?: number;
}

/** Narrowest a text column is cut to before whole columns are left out. */
const MIN_TEXT_WIDTH = 12;

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
  let shown = head.length;
  if (opts.width !== undefined) shown = fitWidth(width, heads, rows, opts.width);
  const line = (r: string[]): string =>
    r
      .slice(0, shown)
      .map((c, j) => {
        const v = clip(c, width[j]);
        return align[j] === "right" ? v.padStart(width[j]) : v.padEnd(width[j]);
      })
      .join("  ")
      .trimEnd();
  const out = [paint.bold(line(heads)), ...cells.map(line)];
  if (shown < head.length) {
    out.push(paint.dim(`(${heads.slice(shown).join(", ")} left out to fit ${opts.width} columns)`));
  }
  return out;
}

/**
 * Narrows text columns (widest first, down to {@link MIN_TEXT_WIDTH} or the header) until the
 * table fits `limit`, then counts how many columns from the left fit. Mutates `width`. O(columns^2).
 */
function fitWidth(
  width: number[],
  heads: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  limit: number,
): number {
  const total = () => width.reduce((s, w) => s + w, 0) + 2 * (width.length - 1);
  const isText = (j: number) => rows.length === 0 || typeof rows[0][j] !== "number";
  while (total() > limit) {
    let widest = -1;
    for (let j = 0; j < width.length; j++) {
      const floor = Math.max(MIN_TEXT_WIDTH, heads[j].length);
      if (isText(j) && width[j] > floor && (widest < 0 || width[j] > width[widest])) widest = j;
    }
    if (widest < 0) break;
    width[widest] = Math.max(
      Math.max(MIN_TEXT_WIDTH, heads[widest].length),
      width[widest] - (total() - limit),
    );
  }
  let shown = width.length;
  let used = total();
  while (shown > 1 && used > limit) {
    shown--;
    used -= width[shown] + 2;
  }
  return shown;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
