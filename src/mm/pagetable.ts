/**
 * A 4-level x86-64 page table (PGD -> PUD -> PMD -> PTE, 512 entries per level, 48-bit VAs) with
 * 4 KiB PTE leaves, 2 MiB PMD leaves and 1 GiB PUD leaves (arch/x86/include/asm/pgtable_types.h).
 * Tables are allocated on demand; each holds a Float64Array(512) of entries and, above the PTE
 * level, an array of child tables.
 *
 * Entry encoding (a number, not the hardware's bits): `pfn * 64 + flags` with {@link PteFlag} in
 * the low 6 bits; 0 = none. Exact because pfns are below 2^40.
 *
 * Costs: set/clear/lookup O(levels) = O(1); forEachLeaf O(tables).
 */
import { hex } from "../core/index.js";

/** Software page-table entry bits. */
export const PteFlag = {
  /** Mapped and accessible (_PAGE_PRESENT). */
  PRESENT: 1,
  /** Writable (_PAGE_RW). */
  WRITE: 2,
  /** A leaf above the PTE level (_PAGE_PSE: 2 MiB PMD or 1 GiB PUD). */
  HUGE: 4,
  /** No struct page behind it (pte_special: VM_PFNMAP / VM_IO remap_pfn_range). */
  SPECIAL: 8,
  /** Not present: a device-private swap entry (the page lives in device memory). */
  DEVPRIV: 16,
} as const;

/** Leaf sizes in bytes by level (0 = PTE, 1 = PMD, 2 = PUD). */
export const LEAF_SIZES = [0x1000, 0x200000, 0x40000000] as const;

/** Bytes one entry spans per level: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
const SPANS = new Float64Array([2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39]);
/** One past the highest user virtual address (47 bits, TASK_SIZE_MAX on 4-level paging). */
export const VA_LIMIT = 2 ** 47;

/** One table: entries plus (above the PTE level) children. */
interface Table {
  e: Float64Array;
  c: (Table | undefined)[] | undefined;
  /** Non-zero entries plus children. */
  used: number;
}

function newTable(level: number): Table {
  return {
    e: new Float64Array(512),
    c: level > 0 ? new Array<Table | undefined>(512).fill(undefined) : undefined,
    used: 0,
  };
}

function idx(va: number, level: number): number {
  // q mod 512 without a float `%` (q exceeds int32, and V8's float modulo calls fmod).
  const q = Math.floor(va / SPANS[level]);
  return q - Math.floor(q / 512) * 512;
}

/** va mod size for a power-of-two size, without a float `%`. */
function offsetIn(va: number, size: number): number {
  return va - Math.floor(va / size) * size;
}

/** A process page table. */
export class PageTable {
  private readonly root = newTable(3);
  /** Number of tables below the PGD (page-table pages the kernel would allocate). */
  tables = 0;
  /** Leaf size of the last {@link lookup} hit (bytes), 0 after a miss. */
  lastSize = 0;
  /** Virtual address of the start of the last {@link lookup} hit's leaf. */
  lastBase = 0;

  /**
   * Installs a leaf of `size` (4 KiB, 2 MiB or 1 GiB) at `va` (aligned to it). O(1).
   * @throws Error when a leaf or table is already there (the caller checks first).
   */
  set(va: number, size: number, pfn: number, flags: number): void {
    const level = size === LEAF_SIZES[2] ? 2 : size === LEAF_SIZES[1] ? 1 : 0;
    let t = this.root;
    for (let l = 3; l > level; l--) {
      const i = idx(va, l);
      if (t.e[i] !== 0) throw new Error(`page table: a ${LEAF_SIZES[l] ?? 0} leaf already maps ${hex(va)}`);
      let c = t.c![i];
      if (!c) {
        c = newTable(l - 1);
        t.c![i] = c;
        t.used++;
        this.tables++;
      }
      t = c;
    }
    const i = idx(va, level);
    if (t.e[i] !== 0 || t.c?.[i]) throw new Error(`page table: ${hex(va)} is already mapped`);
    t.e[i] = pfn * 64 + (flags | (level > 0 ? PteFlag.HUGE : 0));
    t.used++;
  }

  /** Replaces the entry of the leaf mapping `va` (which must exist). O(1). */
  replace(va: number, pfn: number, flags: number): void {
    const t = this.leafTable(va);
    if (!t) throw new Error(`page table: nothing maps ${hex(va)}`);
    const i = idx(va, this.lastLevel);
    t.e[i] = pfn * 64 + (flags | (this.lastLevel > 0 ? PteFlag.HUGE : 0));
  }

  /**
   * The entry of the leaf mapping `va` (0 when none); sets {@link lastSize} and {@link lastBase}.
   * O(1), allocation-free.
   */
  lookup(va: number): number {
    const t = this.leafTable(va);
    if (!t) {
      this.lastSize = 0;
      return 0;
    }
    const size = LEAF_SIZES[this.lastLevel];
    this.lastSize = size;
    this.lastBase = va - offsetIn(va, size);
    return t.e[idx(va, this.lastLevel)];
  }

  /**
   * The entries of the table holding the leaf that maps `va` (0 entries there are holes, or child
   * tables above the PTE level), for walking consecutive leaves of one table without going back to
   * the root: entry {@link lastIndex} maps `va`, entry `lastIndex + k` maps `lastBase + k * lastSize`.
   * Sets {@link lastSize}, {@link lastBase} and {@link lastIndex} on a hit. O(levels), allocation-free.
   * @returns The table's 512 entries (do not write them), or undefined when nothing maps `va`.
   */
  leafEntries(va: number): Float64Array | undefined {
    const t = this.leafTable(va);
    if (!t) {
      this.lastSize = 0;
      return undefined;
    }
    const size = LEAF_SIZES[this.lastLevel];
    this.lastSize = size;
    this.lastBase = va - offsetIn(va, size);
    this.lastIndex = idx(va, this.lastLevel);
    return t.e;
  }

  /** Index of the last {@link leafEntries} hit's entry in its table. */
  lastIndex = 0;

  /** Calls `fn(va, size, entry)` for every leaf in address order. O(tables). */
  forEachLeaf(fn: (va: number, size: number, entry: number) => void): void {
    const walk = (t: Table, level: number, base: number) => {
      const span = SPANS[level];
      for (let i = 0; i < 512; i++) {
        const va = base + i * span;
        if (t.e[i] !== 0) fn(va, span, t.e[i]);
        else if (t.c?.[i]) walk(t.c[i]!, level - 1, va);
      }
    };
    walk(this.root, 3, 0);
  }

  /**
   * True when a leaf of `size` could be installed at `va`: no leaf maps any part of it and no
   * lower-level table exists below it. O(1).
   */
  canMapHuge(va: number, size: number): boolean {
    const level = size === LEAF_SIZES[2] ? 2 : size === LEAF_SIZES[1] ? 1 : 0;
    let t = this.root;
    for (let l = 3; l >= level; l--) {
      const i = idx(va, l);
      if (t.e[i] !== 0) return false;
      const c = t.c?.[i];
      if (l === level) return c === undefined;
      if (!c) return true;
      t = c;
    }
    return true;
  }

  private lastLevel = 0;

  private leafTable(va: number): Table | undefined {
    let t = this.root;
    for (let l = 3; l >= 0; l--) {
      const i = idx(va, l);
      if (t.e[i] !== 0) {
        this.lastLevel = l;
        return l <= 2 ? t : undefined;
      }
      if (l === 0) return undefined;
      const c = t.c![i];
      if (!c) return undefined;
      t = c;
    }
    return undefined;
  }
}

/** Frame number held by an entry. O(1). */
export function ptePfn(entry: number): number {
  return Math.floor(entry / 64);
}

/** Flag bits of an entry. O(1). */
export function pteFlags(entry: number): number {
  return entry % 64;
}
