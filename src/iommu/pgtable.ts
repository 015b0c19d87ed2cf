/**
 * A multi-level IO page table stored without per-entry or per-table objects, following the
 * generic page-table code of Linux 7.2 (drivers/iommu/generic_pt/iommu_pt.h) for map, unmap and
 * table lifetime:
 *
 * - tables are allocated lazily on map (__map_range, pt_iommu_new_table);
 * - a format with a dynamic top (AMD v1) starts with `startLevels` levels and grows its root
 *   when a mapping lies beyond it (increase_top: each new root links the old one at index 0);
 * - unmap frees a lower table only when one unmap_pages call fully covers its span
 *   (__unmap_range: pt_entry_fully_covered); a table emptied by unmaps that each covered part
 *   of it stays allocated, and a later map of a larger leaf over it frees it (clear_contig);
 *   io-pgtable-arm's __arm_lpae_unmap does the same (a table entry is freed only when the unmap
 *   size is the whole block).
 *
 * Storage: every table is 2^bitsPerLevel 8-byte entries held in a `Float64Array` slice of a pool
 * chunk (a few dozen tables per chunk); a table is an integer id. A Float64 holds integers below
 * 2^53 exactly, so an entry is
 *
 *   empty:  0
 *   table:  id * ENTRY_LOW + 1                              (present, not leaf)
 *   leaf:   pageBase + 1 + 2 + prot * 4 + rep * 256          (present, leaf, prot bits 2..7,
 *                                                             rep = log2 of replicas, bits 8..11)
 *
 * pageBase is the physical address of the page (aligned to its size), so the low 12 bits are free.
 * Counts of tables, of leaf pages by size and of leaf entries are kept incrementally.
 *
 * Costs: mapPages O(levels + count) (plus the tables freed under a large leaf), unmapPages
 * O(levels * tables + leaves), lookup O(levels), checkValid O(tables * entries per table).
 */
import { hex, ilog2, modPow2, POW2 } from "../core/index.js";
import { type IoPgtableFormat, levelShift } from "./format.js";
import { IommuMapError } from "./prot.js";

const PRESENT = 1;
const LEAF = 2;
/**
 * 2^12: an entry's low 12 bits hold its flags (as a page-aligned PTE's do), the rest the table id
 * (table entries) or the page base (leaves). An encoding, not a page size.
 */
const ENTRY_LOW = 4096;
/** Entries per pool chunk (tables per chunk = this / entries per table, at least 1). */
const CHUNK_ENTRIES = 32768;

/** Result of {@link IoPageTable.lookup}, reused between calls (read right after the call). */
export interface IoPteLookup {
  /** Physical address the IOVA translates to. */
  phys: number;
  /** Physical base of the leaf page. */
  pageBase: number;
  /** IOVA of the start of the leaf page. */
  pageIova: number;
  /** Size of the leaf page. */
  pgsize: number;
  /** Prot bits of the leaf. */
  prot: number;
}

/** An IO page table of one format. */
export class IoPageTable {
  /** The format. */
  readonly format: IoPgtableFormat;
  /** Entries per table. */
  readonly entriesPerTable: number;
  private readonly tablesPerChunk: number;
  private readonly chunks: Float64Array[] = [];
  private used: Uint32Array = new Uint32Array(16);
  private tableLevel: Uint8Array = new Uint8Array(16);
  private freeIds: number[] = [];
  private nextId = 0;
  private tables = 0;
  private ptes = 0;
  private readonly leavesByShift = new Float64Array(64);
  /** Level of a leaf for a page of 2^k bytes (0 = unsupported). */
  private readonly leafLevelOf = new Uint8Array(64);
  private readonly pathIds: Uint32Array;
  private readonly pathIdx: Float64Array;
  private readonly levelDiv: Float64Array;
  /** Reused result of {@link lookup}. */
  readonly found: IoPteLookup = { phys: 0, pageBase: 0, pageIova: 0, pgsize: 0, prot: 0 };
  /** Id of the root table (changes when a dynamic top grows). */
  root: number;
  /** Levels in use: the root's level (grows up to format.levels with a dynamic top). */
  top: number;
  /** Table of the last sequential {@link mapPages} walk (-1 none), its level and IOVA span [lo, hi). */
  private seqTid = -1;
  private seqLevel = 0;
  private seqLo = 0;
  private seqHi = 0;

  /**
   * An empty table (just the root).
   * @param format The page-table format.
   */
  constructor(format: IoPgtableFormat) {
    this.format = format;
    this.entriesPerTable = 2 ** format.bitsPerLevel;
    this.tablesPerChunk = Math.max(1, CHUNK_ENTRIES / this.entriesPerTable);
    this.pathIds = new Uint32Array(format.levels + 1);
    this.pathIdx = new Float64Array(format.levels + 1);
    this.levelDiv = new Float64Array(format.levels + 1);
    for (let l = 1; l <= format.levels; l++) this.levelDiv[l] = 2 ** levelShift(format, l);
    for (let k = 0; k < 64; k++) {
      if (k > 51 || Math.floor(format.pgsizeBitmap / 2 ** k) % 2 !== 1) continue;
      for (let l = format.levels; l >= 1; l--) {
        const s = levelShift(format, l);
        if (s <= k && (format.replicate ? k - s < format.bitsPerLevel : k === s)) {
          this.leafLevelOf[k] = l;
          break;
        }
      }
    }
    this.top = format.startLevels;
    this.root = this.allocTable(this.top);
  }

  /** Number of tables (pages of the page table), root included. O(1). */
  get tableCount(): number {
    return this.tables;
  }

  /** Bytes of table memory: tables x entries x 8. O(1). */
  get tableBytes(): number {
    return this.tables * this.entriesPerTable * 8;
  }

  /** Number of leaf entries written (AMD replicas counted one by one). O(1). */
  get pteCount(): number {
    return this.ptes;
  }

  /** Number of mapped leaf pages of `pgsize` bytes. O(1). */
  leafCount(pgsize: number): number {
    return this.leavesByShift[ilog2(pgsize)] ?? 0;
  }

  /** Mapped leaf pages by size, ascending, sizes with a zero count omitted. O(1). */
  leafCounts(): { pgsize: number; count: number }[] {
    const out: { pgsize: number; count: number }[] = [];
    for (let k = 0; k < 64; k++)
      if (this.leavesByShift[k] > 0) out.push({ pgsize: 2 ** k, count: this.leavesByShift[k] });
    return out;
  }

  /** Total bytes mapped. O(sizes). */
  get mappedBytes(): number {
    let s = 0;
    for (let k = 0; k < 64; k++) s += this.leavesByShift[k] * 2 ** k;
    return s;
  }

  /**
   * Maps `count` pages of `pgsize` bytes (the io-pgtable map_pages): IOVA and physical address
   * must be aligned to `pgsize`, which must be supported. Allocates missing tables.
   * @returns Bytes mapped (pgsize * count).
   * @throws IommuMapError "IOMMU_EEXIST" when a page is already mapped there; pages before it stay
   *   mapped and the error's `mapped` field says how many bytes (__iommu_map unrolls them).
   * @throws RangeError for an unsupported or misaligned size.
   * @param sequential When true, a table found by the previous sequential call is used again
   *   without a walk from the root if it holds this IOVA (for a caller mapping consecutive runs in
   *   IOVA order, as a range-list map does); the kernel's per-call iommu_map always walks.
   * Cost: O(levels + count) table touches; O(count) for a sequential call in the same table.
   */
  mapPages(
    iova: number,
    paddr: number,
    pgsize: number,
    count: number,
    prot: number,
    sequential = false,
  ): number {
    const k = ilog2(pgsize);
    const level = POW2[k] === pgsize ? this.leafLevelOf[k] : 0;
    if (level === 0)
      throw new RangeError(`page size ${hex(pgsize)} is invalid: not supported by ${this.format.name}`);
    if (modPow2(iova, pgsize) !== 0 || modPow2(paddr, pgsize) !== 0) {
      throw new RangeError(
        `mapping ${hex(iova)} -> ${hex(paddr)} is invalid: not aligned to page size ${hex(pgsize)}`,
      );
    }
    const rep = k - levelShift(this.format, level);
    const n = POW2[rep];
    const low = PRESENT + LEAF + prot * 4 + rep * 256;
    const E = this.entriesPerTable;
    this.growTop(iova + pgsize * count - 1, level);
    let mapped = 0;
    while (count > 0) {
      let tid: number;
      if (sequential && level === this.seqLevel && iova >= this.seqLo && iova < this.seqHi) tid = this.seqTid;
      else {
        tid = this.walkAlloc(iova, level, mapped);
        if (sequential) {
          // The table spans one entry of the level above.
          const span = this.levelDiv[level] * E;
          this.seqTid = tid;
          this.seqLevel = level;
          this.seqLo = iova - modPow2(iova, span);
          this.seqHi = this.seqLo + span;
        }
      }
      const chunk = this.chunks[Math.floor(tid / this.tablesPerChunk)];
      const base = modPow2(tid, this.tablesPerChunk) * E;
      let idx = modPow2(Math.floor(iova / this.levelDiv[level]), E);
      while (count > 0 && idx + n <= E) {
        for (let j = 0; j < n; j++) {
          const old = chunk[base + idx + j];
          // clear_contig: a table under the new leaf is freed when no leaf is mapped below it.
          if (
            old !== 0 &&
            (modPow2(old, ENTRY_LOW) & LEAF) === 0 &&
            this.subtreeEmpty((old - PRESENT) / ENTRY_LOW)
          ) {
            this.freeSubtree((old - PRESENT) / ENTRY_LOW);
            chunk[base + idx + j] = 0;
            this.used[tid]--;
          }
          if (chunk[base + idx + j] !== 0) throw this.exists(iova, mapped);
        }
        const v = paddr + low;
        for (let j = 0; j < n; j++) chunk[base + idx + j] = v;
        this.used[tid] += n;
        this.ptes += n;
        this.leavesByShift[k]++;
        iova += pgsize;
        paddr += pgsize;
        mapped += pgsize;
        idx += n;
        count--;
      }
    }
    return mapped;
  }

  /**
   * Unmaps leaves starting at `iova` until `pgsize * count` bytes are covered or a hole is met
   * (generic_pt unmap_pages). A leaf larger than asked is removed whole and its whole size is
   * counted (__unmap_range); a lower table is freed only when [iova, iova + pgsize * count)
   * covers its whole span (pt_entry_fully_covered), so a table emptied piecewise stays.
   * @returns Bytes unmapped (0 when nothing is mapped at `iova`).
   * @throws IommuMapError "IOMMU_EINVAL" when `iova` falls inside a leaf instead of at its start
   *   (the model does not split large pages); nothing is changed for that leaf.
   * Cost: O(levels) per table entered plus O(1) per leaf removed (leaves of one table are cleared
   *   in order after one walk).
   */
  unmapPages(iova: number, pgsize: number, count: number): number {
    const target = pgsize * count;
    const coverLo = iova;
    const coverHi = iova + target;
    const E = this.entriesPerTable;
    let done = 0;
    while (done < target) {
      // One walk from the root per table; then its leaves are cleared in order (as VT-d's
      // dma_pte_clear_level walks a table), and the table's used count is dropped once.
      const level = this.walkFind(iova + done);
      if (level === 0) break;
      const tid = this.pathIds[level];
      const chunk = this.chunks[Math.floor(tid / this.tablesPerChunk)];
      const base = modPow2(tid, this.tablesPerChunk) * E;
      const shift0 = levelShift(this.format, level);
      let idx = this.pathIdx[level];
      let cleared = 0;
      while (done < target && idx < E) {
        const v = chunk[base + idx];
        if (v === 0) break;
        const lowBits = modPow2(v, ENTRY_LOW);
        if ((lowBits & LEAF) === 0) break; // a lower table: walk again
        const at = iova + done;
        const rep = lowBits >>> 8;
        const shift = shift0 + rep;
        const size = POW2[shift];
        if (modPow2(at, size) !== 0) {
          // Only a table's first leaf can be entered off its start; release what was cleared anyway.
          if (cleared > 0) this.release(level, cleared, at, coverLo, at);
          throw new IommuMapError(
            "IOMMU_EINVAL",
            `Cannot unmap ${hex(at)}: inside a ${hex(size)} page that starts at ${hex(at - (at % size))}`,
          );
        }
        // `at` is aligned to the leaf, so idx is its first replica.
        const n = POW2[rep];
        if (n === 1) chunk[base + idx] = 0;
        else for (let j = 0; j < n; j++) chunk[base + idx + j] = 0;
        this.ptes -= n;
        this.leavesByShift[shift]--;
        cleared += n;
        done += size;
        idx += n;
      }
      this.release(level, cleared, iova + done - 1, coverLo, Math.min(coverHi, iova + done));
    }
    return done;
  }

  /**
   * Walks to the leaf mapping `iova`; on success fills {@link found}.
   * @returns True when mapped. Cost: O(levels), no allocation.
   */
  lookup(iova: number): boolean {
    const level = this.walkFind(iova);
    if (level === 0) return false;
    const tid = this.pathIds[level];
    const v =
      this.chunks[Math.floor(tid / this.tablesPerChunk)][
        modPow2(tid, this.tablesPerChunk) * this.entriesPerTable + this.pathIdx[level]
      ];
    const lowBits = modPow2(v, ENTRY_LOW);
    const pgsize = POW2[levelShift(this.format, level) + (lowBits >>> 8)];
    const f = this.found;
    f.pageBase = v - lowBits;
    f.pageIova = iova - modPow2(iova, pgsize);
    f.pgsize = pgsize;
    f.phys = f.pageBase + (iova - f.pageIova);
    f.prot = (lowBits >>> 2) & 63;
    return true;
  }

  /** The physical address `iova` translates to, or -1 when unmapped (iommu_iova_to_phys). O(levels). */
  iovaToPhys(iova: number): number {
    return this.lookup(iova) ? this.found.phys : -1;
  }

  /**
   * Verifies every invariant: reachable tables match the count and their levels, per-table used
   * counts match non-empty entries, leaves are aligned and their replicas identical, and the leaf
   * counters match the entries.
   * @throws Error naming the first broken invariant. Cost: O(tables * entries per table).
   */
  checkValid(): void {
    const byShift = new Float64Array(64);
    let ptes = 0;
    let tables = 0;
    const E = this.entriesPerTable;
    const visit = (tid: number, level: number, iovaBase: number): void => {
      tables++;
      if (this.tableLevel[tid] !== level)
        throw new Error(`table ${tid} has level ${this.tableLevel[tid]}, expected ${level}`);
      const chunk = this.chunks[Math.floor(tid / this.tablesPerChunk)];
      const base = modPow2(tid, this.tablesPerChunk) * E;
      const div = this.levelDiv[level];
      let used = 0;
      for (let i = 0; i < E; i++) {
        const v = chunk[base + i];
        if (v === 0) continue;
        used++;
        const lowBits = v % ENTRY_LOW;
        if ((lowBits & PRESENT) === 0) throw new Error(`table ${tid} entry ${i} is not present but not zero`);
        if ((lowBits & LEAF) === 0) {
          if (level === 1) throw new Error(`table ${tid} entry ${i}: a table pointer at level 1`);
          visit((v - lowBits) / ENTRY_LOW, level - 1, iovaBase + i * div);
          continue;
        }
        const rep = lowBits >>> 8;
        const n = 2 ** rep;
        const shift = levelShift(this.format, level) + rep;
        if (this.leafLevelOf[shift] !== level)
          throw new Error(`table ${tid} entry ${i}: unsupported leaf size 2^${shift}`);
        const pageBase = v - lowBits;
        if (pageBase % 2 ** shift !== 0)
          throw new Error(`table ${tid} entry ${i}: page ${hex(pageBase)} not aligned to 2^${shift}`);
        for (let j = i - (i % n); j < i - (i % n) + n; j++) {
          if (chunk[base + j] !== v) throw new Error(`table ${tid} entry ${i}: replica ${j} differs`);
        }
        ptes++;
        if (i % n === 0) byShift[shift]++;
      }
      if (used !== this.used[tid])
        throw new Error(`table ${tid} used count ${this.used[tid]}, found ${used}`);
    };
    visit(this.root, this.top, 0);
    if (tables !== this.tables) throw new Error(`table count ${this.tables}, reachable ${tables}`);
    if (ptes !== this.ptes) throw new Error(`leaf entry count ${this.ptes}, found ${ptes}`);
    for (let k = 0; k < 64; k++) {
      if (byShift[k] !== this.leavesByShift[k])
        throw new Error(`leaves of 2^${k}: counted ${this.leavesByShift[k]}, found ${byShift[k]}`);
    }
  }

  private exists(iova: number, mapped: number): IommuMapError {
    return new IommuMapError("IOMMU_EEXIST", `Cannot map ${hex(iova)}: already mapped`, mapped);
  }

  /** Walks from the root down to the table holding level-`level` entries for `iova`, allocating. */
  private walkAlloc(iova: number, level: number, mapped: number): number {
    const E = this.entriesPerTable;
    let tid = this.root;
    for (let l = this.top; l > level; l--) {
      const chunk = this.chunks[Math.floor(tid / this.tablesPerChunk)];
      const slot = modPow2(tid, this.tablesPerChunk) * E + modPow2(Math.floor(iova / this.levelDiv[l]), E);
      const v = chunk[slot];
      if (v === 0) {
        const child = this.allocTable(l - 1);
        // allocTable may have added a chunk; `chunk` still refers to the right one.
        chunk[slot] = child * ENTRY_LOW + PRESENT;
        this.used[tid]++;
        tid = child;
      } else {
        const lowBits = modPow2(v, ENTRY_LOW);
        if ((lowBits & LEAF) !== 0) throw this.exists(iova, mapped);
        tid = (v - lowBits) / ENTRY_LOW;
      }
    }
    return tid;
  }

  /** Walks to the leaf for `iova`, recording the path; returns its level or 0 when unmapped. */
  private walkFind(iova: number): number {
    const E = this.entriesPerTable;
    if (iova >= this.levelDiv[this.top] * E) return 0;
    let tid = this.root;
    for (let l = this.top; l >= 1; l--) {
      const idx = modPow2(Math.floor(iova / this.levelDiv[l]), E);
      this.pathIds[l] = tid;
      this.pathIdx[l] = idx;
      const v =
        this.chunks[Math.floor(tid / this.tablesPerChunk)][modPow2(tid, this.tablesPerChunk) * E + idx];
      if (v === 0) return 0;
      const lowBits = modPow2(v, ENTRY_LOW);
      if ((lowBits & LEAF) !== 0) return l;
      tid = (v - lowBits) / ENTRY_LOW;
    }
    return 0;
  }

  /**
   * Drops `n` entries from the table at `level` on the recorded path (which holds `at`); frees
   * that table, then its parents, while they are empty and their whole span lies in [lo, hi),
   * where `hi` is where this walk stopped (the end asked for, or a hole: __unmap_range fails at
   * an empty entry and frees nothing above it).
   */
  private release(level: number, n: number, at: number, lo: number, hi: number): void {
    let tid = this.pathIds[level];
    this.used[tid] -= n;
    const E = this.entriesPerTable;
    for (let l = level; l < this.top && this.used[tid] === 0; l++) {
      const span = this.levelDiv[l] * E;
      const start = at - modPow2(at, span);
      if (start < lo || start + span > hi) break;
      const parent = this.pathIds[l + 1];
      const chunk = this.chunks[Math.floor(parent / this.tablesPerChunk)];
      chunk[modPow2(parent, this.tablesPerChunk) * E + this.pathIdx[l + 1]] = 0;
      this.used[parent]--;
      this.freeTable(tid);
      tid = parent;
    }
  }

  /** increase_top: adds roots until the top covers `last` and can hold a leaf of `level`. */
  private growTop(last: number, level: number): void {
    const E = this.entriesPerTable;
    while (this.top < this.format.levels && (last >= this.levelDiv[this.top] * E || level > this.top)) {
      const old = this.root;
      const id = this.allocTable(this.top + 1);
      const chunk = this.chunks[Math.floor(id / this.tablesPerChunk)];
      chunk[modPow2(id, this.tablesPerChunk) * E] = old * ENTRY_LOW + PRESENT;
      this.used[id] = 1;
      this.root = id;
      this.top++;
      this.seqTid = -1;
      this.seqLevel = 0;
    }
  }

  /** True when no leaf is mapped in the table `tid` or below it. O(entries below). */
  private subtreeEmpty(tid: number): boolean {
    const E = this.entriesPerTable;
    const chunk = this.chunks[Math.floor(tid / this.tablesPerChunk)];
    const base = modPow2(tid, this.tablesPerChunk) * E;
    if (this.used[tid] === 0) return true;
    for (let i = 0; i < E; i++) {
      const v = chunk[base + i];
      if (v === 0) continue;
      if ((modPow2(v, ENTRY_LOW) & LEAF) !== 0 || !this.subtreeEmpty((v - PRESENT) / ENTRY_LOW)) return false;
    }
    return true;
  }

  /** Frees `tid` and every table below it (their entries are tables or empty). */
  private freeSubtree(tid: number): void {
    const E = this.entriesPerTable;
    const chunk = this.chunks[Math.floor(tid / this.tablesPerChunk)];
    const base = modPow2(tid, this.tablesPerChunk) * E;
    for (let i = 0; i < E && this.used[tid] > 0; i++) {
      const v = chunk[base + i];
      if (v === 0) continue;
      this.freeSubtree((v - PRESENT) / ENTRY_LOW);
      chunk[base + i] = 0;
      this.used[tid]--;
    }
    this.freeTable(tid);
  }

  private allocTable(level: number): number {
    let id: number;
    if (this.freeIds.length > 0) {
      id = this.freeIds.pop()!;
    } else {
      id = this.nextId++;
      if (id >= this.used.length) {
        const u = new Uint32Array(this.used.length * 2);
        u.set(this.used);
        this.used = u;
        const lv = new Uint8Array(this.tableLevel.length * 2);
        lv.set(this.tableLevel);
        this.tableLevel = lv;
      }
      if (Math.floor(id / this.tablesPerChunk) >= this.chunks.length) {
        this.chunks.push(new Float64Array(this.tablesPerChunk * this.entriesPerTable));
      }
    }
    this.used[id] = 0;
    this.tableLevel[id] = level;
    this.tables++;
    return id;
  }

  private freeTable(id: number): void {
    // Entries are already zero (used count reached 0).
    if (id === this.seqTid) {
      this.seqTid = -1;
      this.seqLevel = 0;
    }
    this.tableLevel[id] = 0;
    this.tables--;
    this.freeIds.push(id);
  }
}
