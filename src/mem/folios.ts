/**
 * Sparse folio and frame state, struct-of-arrays.
 *
 * A folio is a naturally aligned run of 2^order frames with one refcount (include/linux/mm_types.h
 * struct folio): tail pages carry no state of their own, so a 1 GiB hugetlb folio is one row here,
 * not 262,144. Rows live in growable typed arrays indexed by folio id (ids are reused after free).
 * The frame -> folio map is kept per 128 MiB section in an Int32Array(32768) (id + 1, 0 = none)
 * allocated only when a folio is first placed in that section, so an untouched 512 GiB machine
 * costs nothing per frame.
 *
 * Costs: alloc/free O(2^order) for the frame map fill (a native TypedArray.fill), every field
 * read/write O(1), `folioOfPfn` O(1).
 */
import { growColumn } from "../core/index.js";
import { PAGES_PER_SECTION } from "./types.js";

/** Growable struct-of-arrays table of folios. */
export class FolioTable {
  /** Number of rows allocated (live or free). */
  capacity = 0;
  /** Number of live folios. */
  live = 0;
  /** Head frame number. */
  head = new Float64Array(0);
  /** log2 of the number of frames. */
  order = new Uint8Array(0);
  /** Zone number (types.ts Zone). */
  zone = new Uint8Array(0);
  /** Migrate type of the pageblock the folio came from (types.ts MigrateType). */
  mt = new Uint8Array(0);
  /** NUMA node. */
  node = new Uint8Array(0);
  /** FolioFlag bits; 0 for a free row. */
  flags = new Uint16Array(0);
  /** folio_ref_count. */
  ref = new Int32Array(0);
  /** folio->_pincount (large folios only; small folios count pins in the refcount bias). */
  pincount = new Int32Array(0);
  /** Outstanding FOLL_PIN page-pins taken through GUP (bookkeeping for checkValid and unpin). */
  pins = new Int32Array(0);
  /** Outstanding FOLL_GET page references taken through GUP. */
  gets = new Int32Array(0);
  /** Page-table mappings of the folio (folio_mapcount, one per mapping leaf). */
  mapcount = new Int32Array(0);
  /** Owner id for reverse mapping (the address space or file that holds the folio); -1 none. */
  owner = new Int32Array(0);
  /** Owner's index of the folio: virtual address (anon) or byte offset (file). */
  index = new Float64Array(0);
  /** ZONE_DEVICE pgmap id + 1 (0 = ordinary memory). */
  pgmap = new Uint16Array(0);
  /** 1 for a live row, 0 for a free one. */
  used = new Uint8Array(0);
  private freeIds: number[] = [];
  /** Section number -> frame map (folio id + 1 per frame). */
  readonly sections = new Map<number, Int32Array>();
  /** The section {@link folioOfPfn} last found, and its frame map (-1 and an empty map: none). */
  private lastSecNr = -1;
  private lastSec: Int32Array = new Int32Array(0);

  /** Reserves a row for a folio of `2^order` frames at `head`, fills the frame map. O(2^order). */
  add(head: number, order: number): number {
    const id = this.freeIds.length ? this.freeIds.pop()! : this.grow();
    this.head[id] = head;
    this.order[id] = order;
    this.zone[id] = 0;
    this.mt[id] = 0;
    this.node[id] = 0;
    this.flags[id] = 0;
    this.ref[id] = 0;
    this.pincount[id] = 0;
    this.pins[id] = 0;
    this.gets[id] = 0;
    this.mapcount[id] = 0;
    this.owner[id] = -1;
    this.index[id] = 0;
    this.pgmap[id] = 0;
    this.used[id] = 1;
    this.live++;
    this.fillMap(head, 2 ** order, id + 1);
    return id;
  }

  /** Releases row `id` and clears its frames in the map. O(2^order). */
  remove(id: number): void {
    this.fillMap(this.head[id], 2 ** this.order[id], 0);
    this.used[id] = 0;
    this.flags[id] = 0;
    this.live--;
    this.freeIds.push(id);
  }

  /**
   * The folio id holding frame `pfn`, or -1. O(1); frames of the section last looked up (as a
   * walk over a range meets them) need no Map lookup and no float `%`.
   */
  folioOfPfn(pfn: number): number {
    const nr = Math.floor(pfn / PAGES_PER_SECTION);
    if (nr !== this.lastSecNr) {
      const sec = this.sections.get(nr);
      if (sec === undefined) return -1;
      // A section's frame map, once made, is never replaced or dropped (fillMap), so it may be kept.
      this.lastSecNr = nr;
      this.lastSec = sec;
    }
    return this.lastSec[pfn - nr * PAGES_PER_SECTION] - 1;
  }

  /** Number of frames in folio `id`. O(1). */
  npages(id: number): number {
    const o = this.order[id];
    return o < 31 ? 1 << o : 2 ** o; // a shift, not Math.pow: per-page loops call this
  }

  /** Calls `fn(id)` for every live folio in id order. O(capacity). */
  forEachLive(fn: (id: number) => void): void {
    for (let i = 0; i < this.capacity; i++) if (this.used[i]) fn(i);
  }

  private fillMap(pfn: number, n: number, value: number): void {
    while (n > 0) {
      const secNr = Math.floor(pfn / PAGES_PER_SECTION);
      const off = pfn % PAGES_PER_SECTION;
      const take = Math.min(n, PAGES_PER_SECTION - off);
      let sec = this.sections.get(secNr);
      if (!sec) {
        if (value === 0) throw new Error(`folio map: section ${secNr} has no frame map`);
        sec = new Int32Array(PAGES_PER_SECTION);
        this.sections.set(secNr, sec);
      }
      sec.fill(value, off, off + take);
      pfn += take;
      n -= take;
    }
  }

  private grow(): number {
    const id = this.capacity;
    const cap = Math.max(64, this.capacity * 2);
    this.head = growColumn(this.head, cap);
    this.index = growColumn(this.index, cap);
    this.order = growColumn(this.order, cap);
    this.zone = growColumn(this.zone, cap);
    this.mt = growColumn(this.mt, cap);
    this.node = growColumn(this.node, cap);
    this.used = growColumn(this.used, cap);
    this.flags = growColumn(this.flags, cap);
    this.pgmap = growColumn(this.pgmap, cap);
    this.ref = growColumn(this.ref, cap);
    this.pincount = growColumn(this.pincount, cap);
    this.pins = growColumn(this.pins, cap);
    this.gets = growColumn(this.gets, cap);
    this.mapcount = growColumn(this.mapcount, cap);
    this.owner = growColumn(this.owner, cap);
    for (let i = cap - 1; i > id; i--) this.freeIds.push(i);
    this.capacity = cap;
    return id;
  }
}
