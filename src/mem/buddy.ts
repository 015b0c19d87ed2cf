/**
 * The buddy allocator (mm/page_alloc.c): per (node, zone, CMA-or-not) free areas with one free
 * list per order 0..MAX_ORDER. Freed blocks merge with their buddy (`pfn ^ (1 << order)`,
 * __find_buddy_pfn) while the buddy is free at the same order, as __free_one_page does; an
 * allocation takes the smallest order that fits and splits the rest back (expand()). Lists are
 * LIFO like the kernel's (blocks are added to and taken from the head).
 *
 * Scale: memory never touched since boot is kept as "lazy" spans of whole max-order blocks and
 * only becomes list entries when first needed, so a 512 GiB machine is built in O(nodes).
 * Free lists are a Set (membership, for merging) plus a stack (LIFO order) whose stale entries are
 * skipped and compacted away.
 *
 * Costs: alloc O(MAX_ORDER) amortised, free O(MAX_ORDER), addRange/removeRange O(blocks touched).
 */
import { decomposeRun, hex } from "../core/index.js";
import { MAX_ORDER, MAX_ORDER_PAGES } from "./types.js";

/** One free area: the free lists of one zone of one node (CMA pageblocks get their own area). */
export class FreeArea {
  /** Free pages, including lazy spans. */
  freePages = 0;
  /** Per order: heads of the free blocks. */
  readonly sets: Set<number>[] = [];
  private readonly stacks: number[][] = [];
  /** Untouched memory: sorted [start, end) frame pairs, both multiples of MAX_ORDER_PAGES. */
  readonly lazy: number[] = [];

  constructor(
    readonly node: number,
    readonly zone: number,
    readonly cma: boolean,
  ) {
    for (let k = 0; k <= MAX_ORDER; k++) {
      this.sets.push(new Set());
      this.stacks.push([]);
    }
  }

  /**
   * Allocates a block of 2^order frames. O(MAX_ORDER) amortised.
   * @returns its first frame, or -1 when the area has no block that large.
   */
  alloc(order: number): number {
    for (let k = order; k <= MAX_ORDER; k++) {
      const pfn = this.pop(k);
      if (pfn >= 0) return this.expand(pfn, k, order);
    }
    if (this.lazy.length === 0) return -1;
    const pfn = this.lazy[0];
    this.lazy[0] += MAX_ORDER_PAGES;
    if (this.lazy[0] === this.lazy[1]) this.lazy.splice(0, 2);
    return this.expand(pfn, MAX_ORDER, order);
  }

  /** Frees a block and merges it with free buddies (__free_one_page). O(MAX_ORDER). */
  free(pfn: number, order: number): void {
    this.freePages += 2 ** order;
    while (order < MAX_ORDER) {
      const size = 2 ** order;
      const buddy = (pfn / size) % 2 === 0 ? pfn + size : pfn - size;
      if (!this.sets[order].delete(buddy)) break;
      pfn = Math.min(pfn, buddy);
      order++;
    }
    this.push(pfn, order);
  }

  /**
   * Adds frames `[pfn, pfn+n)` as free memory (boot or hot-add): whole aligned max-order blocks
   * become a lazy span, the unaligned edges go on the lists. O(log n).
   */
  addRange(pfn: number, n: number): void {
    const a = Math.min(pfn + n, Math.ceil(pfn / MAX_ORDER_PAGES) * MAX_ORDER_PAGES);
    const b = Math.max(a, Math.floor((pfn + n) / MAX_ORDER_PAGES) * MAX_ORDER_PAGES);
    if (a > pfn) decomposeRun(pfn, a - pfn, (p, o) => this.free(p, o));
    if (b > a) {
      this.lazy.push(a, b);
      sortPairs(this.lazy);
      this.freePages += b - a;
    }
    if (pfn + n > b) decomposeRun(b, pfn + n - b, (p, o) => this.free(p, o));
  }

  /**
   * Removes every free frame in `[pfn, pfn+n)` (hot-remove after migration). The range must be
   * MAX_ORDER aligned so no free block straddles it. O(free blocks in range + lazy spans).
   * @returns frames removed.
   */
  removeRange(pfn: number, n: number): number {
    const end = pfn + n;
    let removed = 0;
    for (let k = 0; k <= MAX_ORDER; k++) {
      for (const p of this.sets[k]) {
        if (p >= pfn && p < end) {
          this.sets[k].delete(p);
          removed += 2 ** k;
        }
      }
    }
    removed += cutPairs(this.lazy, pfn, end);
    this.freePages -= removed;
    return removed;
  }

  /**
   * Takes `n` contiguous frames aligned to `n` (a power of two above MAX_ORDER_PAGES) from
   * untouched memory, the way gigantic hugetlb pages are reserved at boot. O(lazy spans).
   * @returns the first frame or -1.
   */
  allocContig(n: number): number {
    for (let i = 0; i < this.lazy.length; i += 2) {
      const a = Math.ceil(this.lazy[i] / n) * n;
      if (a + n <= this.lazy[i + 1]) {
        cutPairs(this.lazy, a, a + n);
        this.freePages -= n;
        return a;
      }
    }
    return -1;
  }

  /** True when frame `pfn` lies in a free block or a lazy span of this area. O(MAX_ORDER + spans). */
  isFree(pfn: number): boolean {
    for (let k = 0; k <= MAX_ORDER; k++) {
      const size = 2 ** k;
      if (this.sets[k].has(pfn - (pfn % size))) return true;
    }
    for (let i = 0; i < this.lazy.length; i += 2)
      if (pfn >= this.lazy[i] && pfn < this.lazy[i + 1]) return true;
    return false;
  }

  /** Calls `fn(pfn, npages)` for every free block and lazy span. O(free blocks). */
  forEachFree(fn: (pfn: number, n: number) => void): void {
    for (let k = 0; k <= MAX_ORDER; k++) for (const p of this.sets[k]) fn(p, 2 ** k);
    for (let i = 0; i < this.lazy.length; i += 2) fn(this.lazy[i], this.lazy[i + 1] - this.lazy[i]);
  }

  /** Free block count per order (like /proc/buddyinfo), lazy spans counted as max-order blocks. O(MAX_ORDER). */
  counts(): number[] {
    const out = this.sets.map((s) => s.size);
    for (let i = 0; i < this.lazy.length; i += 2)
      out[MAX_ORDER] += (this.lazy[i + 1] - this.lazy[i]) / MAX_ORDER_PAGES;
    return out;
  }

  /** Verifies alignment, merging, list membership and the free count. O(free blocks). @throws Error */
  checkValid(): void {
    let total = 0;
    const where = `free area node ${this.node} zone ${this.zone}${this.cma ? " cma" : ""}`;
    for (let k = 0; k <= MAX_ORDER; k++) {
      const size = 2 ** k;
      const onStack = new Set(this.stacks[k]);
      for (const p of this.sets[k]) {
        if (p % size !== 0) throw new Error(`${where}: order-${k} block at pfn ${hex(p)} is not aligned`);
        if (!onStack.has(p))
          throw new Error(`${where}: order-${k} block at pfn ${hex(p)} is missing from its list`);
        const buddy = (p / size) % 2 === 0 ? p + size : p - size;
        if (k < MAX_ORDER && this.sets[k].has(buddy)) {
          throw new Error(
            `${where}: buddies ${hex(p)} and ${hex(buddy)} are both free at order ${k} (not merged)`,
          );
        }
        total += size;
      }
    }
    for (let i = 0; i < this.lazy.length; i += 2) {
      const a = this.lazy[i];
      const b = this.lazy[i + 1];
      if (a % MAX_ORDER_PAGES || b % MAX_ORDER_PAGES || b <= a || (i > 0 && a < this.lazy[i - 1])) {
        throw new Error(`${where}: lazy span ${hex(a)}-${hex(b)} is malformed`);
      }
      total += b - a;
    }
    if (total !== this.freePages)
      throw new Error(`${where}: free count ${this.freePages} but lists hold ${total}`);
  }

  private expand(pfn: number, k: number, order: number): number {
    this.freePages -= 2 ** order;
    while (k > order) {
      k--;
      this.push(pfn + 2 ** k, k);
    }
    return pfn;
  }

  private push(pfn: number, k: number): void {
    this.sets[k].add(pfn);
    const st = this.stacks[k];
    st.push(pfn);
    if (st.length > 2 * this.sets[k].size + 64) {
      const seen = new Set<number>();
      const kept: number[] = [];
      for (let i = st.length - 1; i >= 0; i--) {
        const p = st[i];
        if (this.sets[k].has(p) && !seen.has(p)) {
          seen.add(p);
          kept.push(p);
        }
      }
      kept.reverse();
      this.stacks[k] = kept;
    }
  }

  private pop(k: number): number {
    const st = this.stacks[k];
    const set = this.sets[k];
    while (st.length) {
      const p = st.pop()!;
      if (set.delete(p)) return p;
    }
    return -1;
  }
}

function sortPairs(a: number[]): void {
  const pairs: [number, number][] = [];
  for (let i = 0; i < a.length; i += 2) pairs.push([a[i], a[i + 1]]);
  pairs.sort((x, y) => x[0] - y[0]);
  a.length = 0;
  for (const [x, y] of pairs) a.push(x, y);
}

/** Removes [from, to) from sorted pairs; returns frames removed. */
function cutPairs(a: number[], from: number, to: number): number {
  const out: number[] = [];
  let removed = 0;
  for (let i = 0; i < a.length; i += 2) {
    const s = a[i];
    const e = a[i + 1];
    const lo = Math.max(s, from);
    const hi = Math.min(e, to);
    if (lo >= hi) {
      out.push(s, e);
      continue;
    }
    removed += hi - lo;
    if (s < lo) out.push(s, lo);
    if (hi < e) out.push(hi, e);
  }
  a.length = 0;
  a.push(...out);
  return removed;
}
