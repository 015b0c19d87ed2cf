/**
 * The physical address map as a resource tree, like kernel/resource.c's iomem_resource: every node
 * is an inclusive range `[start, end]` with a name, children nest inside their parent and never
 * overlap their siblings. Printable in /proc/iomem format (`start-end : name`, two spaces of
 * indent per level, addresses as at least 8 lowercase hex digits).
 */
import { checkRange, hex } from "../core/index.js";

/** One resource: an inclusive physical range with a name and nested children. */
export interface Resource {
  /** First byte address. */
  start: number;
  /** Last byte address (inclusive, as in struct resource). */
  end: number;
  /** Name as shown in /proc/iomem ("System RAM", "Reserved", "PCI Bus 0000:00", ...). */
  name: string;
  /** Children, sorted by start, non-overlapping. */
  children: Resource[];
}

/** The iomem tree: a root covering the whole 52-bit physical space. */
export class IomemTree {
  /** The root resource ("PCI mem" in the kernel); its children are the top-level entries. */
  readonly root: Resource = { start: 0, end: 2 ** 52 - 1, name: "iomem", children: [] };

  /**
   * Inserts `[start, start+size)` named `name` under the deepest resource that contains it
   * (kernel/resource.c insert_resource semantics: existing resources wholly inside the new one
   * become its children). O(depth * siblings).
   * @returns the inserted resource.
   * @throws RangeError for a bad range or a partial overlap with an existing sibling.
   */
  insert(start: number, size: number, name: string): Resource {
    checkRange(`iomem resource "${name}"`, start, size);
    const end = start + size - 1;
    let parent = this.root;
    for (;;) {
      const inner = parent.children.find(
        (c) => c.start <= start && c.end >= end && !(c.start === start && c.end === end),
      );
      if (!inner) break;
      parent = inner;
    }
    const res: Resource = { start, end, name, children: [] };
    const keep: Resource[] = [];
    for (const c of parent.children) {
      const disjoint = c.end < start || c.start > end;
      if (disjoint) keep.push(c);
      else if (c.start >= start && c.end <= end) res.children.push(c);
      else {
        throw new RangeError(
          `iomem resource "${name}" ${hex(start)}-${hex(end)} is invalid: it partially overlaps "${c.name}" ${hex(c.start)}-${hex(c.end)}`,
        );
      }
    }
    keep.push(res);
    keep.sort((a, b) => a.start - b.start);
    parent.children = keep;
    return res;
  }

  /**
   * Removes the byte range `[start, start+size)` from every top-level resource named `name`,
   * splitting or trimming them (memory hot-remove of part of "System RAM"). Children inside the
   * removed range are dropped. O(top-level entries).
   */
  cut(start: number, size: number, name: string): void {
    const end = start + size - 1;
    const out: Resource[] = [];
    for (const c of this.root.children) {
      if (c.name !== name || c.end < start || c.start > end) {
        out.push(c);
        continue;
      }
      if (c.start < start) out.push(trimmed(c, c.start, start - 1));
      if (c.end > end) out.push(trimmed(c, end + 1, c.end));
    }
    this.root.children = out;
  }

  /** The deepest resource containing `addr`, or undefined. O(depth * siblings). */
  lookup(addr: number): Resource | undefined {
    let found: Resource | undefined;
    let level = this.root.children;
    for (;;) {
      const c = level.find((r) => r.start <= addr && r.end >= addr);
      if (!c) return found;
      found = c;
      level = c.children;
    }
  }

  /** Text exactly as /proc/iomem prints it. O(resources). */
  format(): string {
    const lines: string[] = [];
    const walk = (list: Resource[], depth: number) => {
      for (const r of list) {
        lines.push(`${"  ".repeat(depth)}${pad(r.start)}-${pad(r.end)} : ${r.name}`);
        walk(r.children, depth + 1);
      }
    };
    walk(this.root.children, 0);
    return lines.length ? `${lines.join("\n")}\n` : "";
  }

  /** Verifies nesting and ordering. O(resources). @throws Error naming the first bad resource. */
  checkValid(): void {
    const walk = (p: Resource) => {
      let prevEnd = -1;
      for (const c of p.children) {
        if (c.start > c.end || c.start < p.start || c.end > p.end || c.start <= prevEnd) {
          throw new Error(`iomem: "${c.name}" ${hex(c.start)}-${hex(c.end)} is misplaced under "${p.name}"`);
        }
        prevEnd = c.end;
        walk(c);
      }
    };
    walk(this.root);
  }
}

function trimmed(r: Resource, start: number, end: number): Resource {
  return { start, end, name: r.name, children: r.children.filter((c) => c.start >= start && c.end <= end) };
}

function pad(n: number): string {
  return n.toString(16).padStart(8, "0");
}
