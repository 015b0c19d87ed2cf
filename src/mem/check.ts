/**
 * The memory invariant checker and state digest.
 *
 * checkMemory verifies: the iomem tree nests; every free area's lists are aligned, merged and
 * counted; no frame is in two folios or both free and in a folio; every folio's frames map back to
 * it; free and RAM folios lie in online RAM, device folios in their pgmap; every refcount equals
 * 1 (owner) + outstanding gets + pin contributions (1024 per pinned small folio page, 1 per pinned
 * large folio page, which `_pincount` also counts), free hugetlb folios hold 0; online RAM frames =
 * free frames + frames of RAM folios.
 */
import { hex } from "../core/index.js";
import type { MachineMemory } from "./memory.js";
import { SubKind } from "./sections.js";
import { FolioFlag, GUP_PIN_COUNTING_BIAS, PAGES_PER_SECTION } from "./types.js";

/**
 * Verifies every memory invariant. O(live folios * log + free blocks * log + frames of touched sections).
 * @throws Error naming the first broken invariant and the frame.
 */
export function checkMemory(mem: MachineMemory): void {
  mem.iomem.checkValid();
  const iv: number[] = [];
  for (const a of mem.areas) {
    a.checkValid();
    a.forEachFree((p, n) => {
      if (!mem.sections.allOf(p, n, SubKind.RAM))
        throw new Error(`free block at pfn ${hex(p)} is outside online RAM`);
      iv.push(p, n, -1);
    });
  }
  let isolatedPages = 0;
  for (let i = 0; i < mem.isolatedFree.length; i += 3) {
    const p = mem.isolatedFree[i];
    const n = mem.isolatedFree[i + 1];
    if (!mem.sections.allOf(p, n, SubKind.RAM))
      throw new Error(`isolated free block at pfn ${hex(p)} is outside online RAM`);
    iv.push(p, n, -1);
    isolatedPages += n;
  }
  const f = mem.folios;
  let ramFolioPages = 0;
  let live = 0;
  for (let id = 0; id < f.capacity; id++) {
    if (!f.used[id]) continue;
    live++;
    const head = f.head[id];
    const n = f.npages(id);
    const at = () => `folio ${id} at pfn ${hex(head)}`; // built only on failure
    if (head % n !== 0) throw new Error(`${at()}: not aligned to its order ${f.order[id]}`);
    for (let p = head; p < head + n; p += Math.min(n, PAGES_PER_SECTION)) {
      if (f.folioOfPfn(p) !== id || f.folioOfPfn(Math.min(head + n, p + PAGES_PER_SECTION) - 1) !== id) {
        throw new Error(`${at()}: frame map does not point back to it`);
      }
    }
    if (f.pgmap[id]) {
      const pg = mem.pgmaps[f.pgmap[id] - 1];
      if (head < pg.startPfn || head + n > pg.startPfn + pg.npages)
        throw new Error(`${at()}: outside its pgmap`);
      for (let p = head; p < head + n; p++)
        if (!pg.inUse[p - pg.startPfn]) throw new Error(`${at()}: pgmap frame not marked in use`);
    } else {
      if (!mem.sections.allOf(head, n, SubKind.RAM)) throw new Error(`${at()}: not in online RAM`);
      ramFolioPages += n;
    }
    const small = f.order[id] === 0;
    let want = 1 + f.gets[id] + (small ? GUP_PIN_COUNTING_BIAS * f.pins[id] : f.pins[id]);
    if (f.flags[id] & FolioFlag.POOL_FREE) want = 0;
    if (f.pins[id] < 0 || f.gets[id] < 0 || f.ref[id] !== want) {
      throw new Error(
        `${at()}: refcount ${f.ref[id]} but expected ${want} (${f.gets[id]} gets, ${f.pins[id]} pins)`,
      );
    }
    if (f.pincount[id] !== (small ? 0 : f.pins[id]))
      throw new Error(`${at()}: _pincount ${f.pincount[id]} but ${f.pins[id]} pins`);
    iv.push(head, n, id);
  }
  if (live !== f.live) throw new Error(`folio table counts ${f.live} live folios but holds ${live}`);
  checkDisjoint(iv);
  for (const [nr, map] of f.sections) {
    for (let i = 0; i < map.length; i++) {
      const id = map[i] - 1;
      if (id < 0) continue;
      const pfn = nr * PAGES_PER_SECTION + i;
      if (!f.used[id] || pfn < f.head[id] || pfn >= f.head[id] + f.npages(id)) {
        throw new Error(`frame map: pfn ${hex(pfn)} points at folio ${id}, which does not hold it`);
      }
    }
  }
  if (mem.freePages + isolatedPages + ramFolioPages !== mem.ramPages) {
    throw new Error(
      `online RAM ${mem.ramPages} frames but ${mem.freePages} free + ${isolatedPages} isolated free + ${ramFolioPages} in folios`,
    );
  }
  for (const [prov, pages] of mem.pfnmapPins) {
    if (!(pages > 0)) throw new Error(`PFNMAP pins of provider ${prov}: count ${pages} is not positive`);
  }
  for (const size of ["2M", "1G"] as const) {
    for (const id of mem.hugetlbFree[size]) {
      if (!(f.flags[id] & FolioFlag.POOL_FREE))
        throw new Error(`hugetlb ${size} pool lists folio ${id}, which is in use`);
    }
  }
}

function checkDisjoint(iv: number[]): void {
  const idx: number[] = [];
  for (let i = 0; i < iv.length; i += 3) idx.push(i);
  idx.sort((a, b) => iv[a] - iv[b]);
  let prevEnd = -1;
  let prev = -1;
  for (const i of idx) {
    if (iv[i] < prevEnd) {
      const what = (j: number) => (iv[j + 2] < 0 ? "a free block" : `folio ${iv[j + 2]}`);
      throw new Error(`pfn ${hex(iv[i])} is in both ${what(prev)} and ${what(i)}`);
    }
    prevEnd = iv[i] + iv[i + 1];
    prev = i;
  }
}

/**
 * A digest of the whole memory state that does not depend on folio ids or free-list order:
 * equal digests before and after a failed call mean nothing changed. O(live folios log + free blocks).
 * @returns 16 hex digits.
 */
export function memoryDigest(mem: MachineMemory): string {
  const h = new Hash();
  const f = mem.folios;
  const rows: number[] = [];
  f.forEachLive((id) => {
    rows.push(id);
  });
  rows.sort((a, b) => f.head[a] - f.head[b]);
  for (const id of rows) {
    h.add(f.head[id]);
    h.add(f.order[id]);
    h.add(f.zone[id] * 256 + f.mt[id] * 16 + f.node[id]);
    h.add(f.flags[id]);
    h.add(f.ref[id]);
    h.add(f.pincount[id]);
    h.add(f.pins[id]);
    h.add(f.gets[id]);
    h.add(f.mapcount[id]);
    h.add(f.owner[id]);
    h.add(f.index[id]);
    h.add(f.pgmap[id]);
  }
  for (const a of mem.areas) {
    h.add(a.freePages);
    for (const c of a.counts()) h.add(c);
    let sum = 0;
    a.forEachFree((p, n) => {
      sum = (sum + p * 7 + n) % 0x100000000;
    });
    h.add(sum);
  }
  h.add(mem.ramPages);
  for (const b of [...mem.isolatedBlocks].sort((x, y) => x - y)) h.add(b);
  for (const x of mem.isolatedFree) h.add(x);
  h.add(mem.hugetlbFree["2M"].length * 65536 + mem.hugetlbFree["1G"].length);
  for (const [k, v] of [...mem.pfnmapPins].sort((a, b) => a[0] - b[0])) h.add(k * 2 ** 32 + v);
  for (const [nr, s] of [...mem.sections.sections].sort((a, b) => a[0] - b[0])) {
    h.add(nr);
    for (const k of s.subs) h.add(k);
  }
  h.addString(mem.iomem.format());
  return h.hex();
}

/** FNV-1a over 32-bit halves of numbers; exported for the mm digest. */
export class Hash {
  private a = 0x811c9dc5;
  private b = 0x01000193;
  /** Mixes in a number below 2^53. */
  add(x: number): void {
    const lo = (x % 0x100000000) >>> 0;
    const hi = Math.floor(x / 0x100000000) >>> 0;
    this.a = Math.imul(this.a ^ lo, 0x01000193) >>> 0;
    this.a = Math.imul(this.a ^ hi, 0x01000193) >>> 0;
    this.b = Math.imul(this.b ^ this.a ^ 0x5bd1e995, 0x01000193) >>> 0;
  }
  /** Mixes in a string. */
  addString(s: string): void {
    for (let i = 0; i < s.length; i++) this.add(s.charCodeAt(i));
  }
  /** The digest. */
  hex(): string {
    return this.a.toString(16).padStart(8, "0") + this.b.toString(16).padStart(8, "0");
  }
}
