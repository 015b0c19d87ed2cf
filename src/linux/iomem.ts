/**
 * /proc/iomem: the physical address map as a tree of resources. Each line is
 * `<indent>start-end : name` with two spaces of indent per nesting level (kernel/resource.c
 * r_show: "%*s%0*llx-%0*llx : %s\n", indent = depth * 2). `end` is inclusive. Without
 * CAP_SYS_ADMIN every address reads as 0 (r_show prints start = end = 0 unless
 * file_ns_capable(..., CAP_SYS_ADMIN)), which {@link iomemAddressesHidden} detects.
 */
import { hex, ParseError } from "../core/index.js";
import type { IomemResource } from "../machine/source-types.js";
import { procPath, type ReaderOptions, readText, splitLines } from "./io.js";

/** The shapes the readers fill, defined with the MachineSource interface (machine/source-types.ts). */
export type { IomemResource };

/** Deepest nesting a parser accepts (the kernel nests a handful of levels). */
export const MAX_IOMEM_DEPTH = 64;
/** Largest number of lines a parser accepts. */
export const MAX_IOMEM_LINES = 1_000_000;

const LINE = /^( *)([0-9a-fA-F]{1,16})-([0-9a-fA-F]{1,16}) : (.*)$/;

/**
 * Parses /proc/iomem text into its top-level resources. O(lines).
 * @param text file contents
 * @param path file name used in errors
 * @returns top-level resources with their children
 * @throws ParseError naming path and line for malformed lines, odd indents, skipped levels,
 *   start > end, a child outside its parent, or an address at or above 2^52
 */
export function parseIomem(text: string, path = "/proc/iomem"): IomemResource[] {
  const lines = splitLines(text);
  if (lines.length > MAX_IOMEM_LINES) throw new ParseError(path, 0, `more than ${MAX_IOMEM_LINES} lines`);
  const top: IomemResource[] = [];
  const stack: IomemResource[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const m = LINE.exec(lines[i]);
    if (!m)
      throw new ParseError(
        path,
        lineNo,
        `expected "start-end : name", got ${JSON.stringify(lines[i].slice(0, 80))}`,
      );
    if (m[1].length % 2 !== 0)
      throw new ParseError(path, lineNo, `indent of ${m[1].length} spaces is not a multiple of 2`);
    const depth = m[1].length / 2;
    if (depth > stack.length)
      throw new ParseError(path, lineNo, `nesting jumps to level ${depth} from ${stack.length}`);
    if (depth > MAX_IOMEM_DEPTH) throw new ParseError(path, lineNo, `nesting deeper than ${MAX_IOMEM_DEPTH}`);
    const start = hexField(path, lineNo, "start", m[2]);
    const end = hexField(path, lineNo, "end", m[3]);
    if (start > end) throw new ParseError(path, lineNo, `start ${hex(start)} is above end ${hex(end)}`);
    stack.length = depth;
    const res: IomemResource = { start, end, name: m[4], depth, children: [] };
    const parent = depth > 0 ? stack[depth - 1] : undefined;
    if (parent) {
      if (start < parent.start || end > parent.end) {
        throw new ParseError(
          path,
          lineNo,
          `${hex(start)}-${hex(end)} lies outside its parent ${hex(parent.start)}-${hex(parent.end)}`,
        );
      }
      parent.children.push(res);
    } else top.push(res);
    stack.push(res);
  }
  return top;
}

function hexField(path: string, line: number, what: string, text: string): number {
  const v = Number.parseInt(text, 16);
  if (v >= 2 ** 52) throw new ParseError(path, line, `${what} 0x${text} is at or above 2^52`);
  return v;
}

/**
 * Reads and parses `<procRoot>/iomem`. O(lines).
 * @throws ParseError for bad text; Node errno errors when the file cannot be read
 */
export function readIomem(opts?: ReaderOptions): IomemResource[] {
  const path = procPath(opts, "iomem");
  return parseIomem(readText(path), path);
}

/** True when the tree is non-empty and every address is 0 (read without CAP_SYS_ADMIN). O(n). */
export function iomemAddressesHidden(tree: readonly IomemResource[]): boolean {
  if (tree.length === 0) return false;
  let hidden = true;
  walkIomem(tree, (r) => {
    if (r.start !== 0 || r.end !== 0) hidden = false;
  });
  return hidden;
}

/** Calls `fn` on every resource, parents before children, in file order. O(n), iterative. */
export function walkIomem(tree: readonly IomemResource[], fn: (r: IomemResource) => void): void {
  const stack: IomemResource[] = [];
  for (let i = tree.length - 1; i >= 0; i--) stack.push(tree[i]);
  while (stack.length > 0) {
    const r = stack.pop()!;
    fn(r);
    for (let i = r.children.length - 1; i >= 0; i--) stack.push(r.children[i]);
  }
}

/**
 * The deepest resource containing `addr`, or undefined. O(depth x siblings).
 * @param tree top-level resources
 * @param addr a physical address
 */
export function findIomem(tree: readonly IomemResource[], addr: number): IomemResource | undefined {
  let found: IomemResource | undefined;
  let level: readonly IomemResource[] = tree;
  for (;;) {
    const r = level.find((x) => x.start <= addr && addr <= x.end);
    if (!r) return found;
    found = r;
    level = r.children;
  }
}

/** Prints the tree back in /proc/iomem form (hex padded to 8 digits, as r_show does above 64 KiB). O(n). */
export function formatIomem(tree: readonly IomemResource[]): string {
  let out = "";
  walkIomem(tree, (r) => {
    out += `${"  ".repeat(r.depth)}${r.start.toString(16).padStart(8, "0")}-${r.end.toString(16).padStart(8, "0")} : ${r.name}\n`;
  });
  return out;
}
