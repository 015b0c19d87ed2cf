/**
 * Releasing pins (mm/gup.c): what the pin paths of gup.ts took, given back per folio.
 * - {@link unpinPhyrs}: a range list (the design), validated whole, released once per folio;
 * - {@link unpinUserPages}: a page array (unpin_user_pages_dirty_lock / put_page);
 * - {@link unpinUserPageRange}: a physically contiguous range (unpin_user_page_range_dirty_lock).
 * The shared zero page holds no pin and is skipped (gup_put_folio: is_zero_folio).
 */
import { hex, PAGE_SIZE, PinFailed, POW2 } from "../core/index.js";
import { PhyrFlag, type PhyrList } from "../phyr/index.js";
import type { AddressSpace } from "./mm.js";

/** Options of an unpin. */
export interface UnpinOptions {
  /** Mark every folio dirty (unpin_user_pages_dirty_lock with make_dirty). Default false. */
  dirty?: boolean;
}

/**
 * Releases what a pin returned: validates the whole list first (every PINNED/REF page must be
 * covered by outstanding references of that kind on its folio, PFNMAP pages by outstanding pins
 * of their provider), then releases per folio and marks folios dirty when asked or when an entry
 * is flagged DIRTY. O(entries + folios touched): per-folio counts live in the machine's reused
 * typed-array scratch indexed by folio id (MachineMemory.folioScratch; no Map per call), folio
 * lookups are per folio, one release per folio.
 * @throws PinFailed naming the frame when something was not pinned; nothing changes then.
 */
export function unpinPhyrs(mm: AddressSpace, list: PhyrList, opts: UnpinOptions = {}): void {
  const mem = mm.mem;
  const f = mem.folios;
  const sc = mem.folioScratch.reserve(f.capacity);
  const need = sc.count;
  const mark = sc.mark;
  const allDirty = opts.dirty === true;
  let nTouched = 0;
  let pfnmap: Map<number, number> | undefined;
  try {
    // Pass 1: pages to release per folio (folio lookups per folio, not per page), kinds, dirtiness.
    for (const c = list.cursor(); !c.done; c.nextEntry()) {
      const addr = c.entryAddr;
      const len = c.entryLen;
      const flags = c.flags;
      const kind = flags & PhyrFlag.PINNED ? MARK_PIN : flags & PhyrFlag.REF ? MARK_GET : 0;
      if (kind === 0 || notPageAligned(addr) || notPageAligned(len)) {
        throw new PinFailed(
          `Cannot unpin ${hex(addr)}+${hex(len)}: not a whole-page PINNED or REF entry`,
          addr / PAGE_SIZE,
        );
      }
      const dirty = allDirty || (flags & PhyrFlag.DIRTY) !== 0 ? MARK_DIRTY : 0;
      let pfn = addr / PAGE_SIZE;
      const last = pfn + len / PAGE_SIZE;
      while (pfn < last) {
        // A folio only ever covers frames with a struct page (checkMemory), so a folio found in the
        // frame map implies pfn_valid.
        const id = f.folioOfPfn(pfn);
        if (id < 0) {
          if (!(flags & PhyrFlag.MMIO) || c.provider === 0 || kind !== MARK_PIN) {
            throw new PinFailed(`Cannot unpin pfn ${hex(pfn)}: no folio holds it`, pfn);
          }
          pfnmap ??= new Map();
          pfnmap.set(c.provider, (pfnmap.get(c.provider) ?? 0) + (last - pfn));
          break;
        }
        const head = f.head[id];
        const folioEnd = head + POW2[f.order[id]];
        const n = Math.min(last, folioEnd) - pfn;
        if (id === mem.zeroFolio && kind === MARK_PIN) {
          pfn += n; // gup_put_folio: the zero page holds no pin to drop
          continue;
        }
        const m = mark[id];
        if (m === 0) {
          if (nTouched === sc.touched.length) sc.growTouched();
          sc.touched[nTouched++] = id;
          mark[id] = kind | dirty;
        } else {
          if ((m & MARK_KIND) !== kind) {
            throw new PinFailed(
              `Cannot unpin pfn ${hex(pfn)}: the list mixes pins and references of one folio`,
              pfn,
            );
          }
          mark[id] = m | dirty;
        }
        need[id] += n;
        pfn += n;
      }
    }
    // Pass 2: validate everything before changing anything.
    const touched = sc.touched;
    for (let t = 0; t < nTouched; t++) {
      const id = touched[t];
      const kind = mark[id] & MARK_PIN ? "pin" : "get";
      const n = need[id];
      if (mem.outstanding(id, kind) < n) {
        throw new PinFailed(
          `Cannot unpin pfn ${hex(f.head[id])}: ${n} page(s) to release but the folio holds ${mem.outstanding(id, kind)} ${kind === "pin" ? "pins" : "references"}`,
          f.head[id],
        );
      }
    }
    if (pfnmap !== undefined) {
      for (const [prov, n] of pfnmap) {
        if ((mem.pfnmapPins.get(prov) ?? 0) < n) {
          throw new PinFailed(
            `Cannot unpin ${n} PFNMAP page(s) of provider ${prov}: only ${mem.pfnmapPins.get(prov) ?? 0} pinned`,
          );
        }
      }
    }
    // Pass 3: one release per folio.
    for (let t = 0; t < nTouched; t++) {
      const id = touched[t];
      const m = mark[id];
      const n = need[id];
      mark[id] = 0;
      need[id] = 0;
      mem.releaseFolio(id, n, m & MARK_PIN ? "pin" : "get", (m & MARK_DIRTY) !== 0);
    }
    nTouched = 0;
    if (pfnmap !== undefined) {
      for (const [prov, n] of pfnmap) {
        const left = mem.pfnmapPins.get(prov)! - n;
        if (left === 0) mem.pfnmapPins.delete(prov);
        else mem.pfnmapPins.set(prov, left);
      }
    }
  } finally {
    // Leave the scratch clean on every path (an error leaves the folios themselves unchanged).
    for (let t = 0; t < nTouched; t++) {
      const id = sc.touched[t];
      mark[id] = 0;
      need[id] = 0;
    }
  }
}

/** True when an integer below 2^53 is not a multiple of PAGE_SIZE (no float `%`, which is slow). */
function notPageAligned(n: number): boolean {
  return Math.floor(n / PAGE_SIZE) * PAGE_SIZE !== n;
}

const MARK_PIN = 1;
const MARK_GET = 2;
const MARK_KIND = 3;
const MARK_DIRTY = 4;

/**
 * Releases a page array from {@link pinUserPages} (unpin_user_pages_dirty_lock / put_page),
 * grouping consecutive pages of one folio (gup_folio_next). Validates everything first. O(pages).
 * @throws PinFailed naming the frame when a page was not pinned; nothing changes then.
 */
export function unpinUserPages(
  mm: AddressSpace,
  pages: ArrayLike<number>,
  opts: UnpinOptions & { kind?: "pin" | "get" } = {},
): void {
  const mem = mm.mem;
  const f = mem.folios;
  const kind = opts.kind ?? "pin";
  const need = new Map<number, number>();
  for (let i = 0; i < pages.length; ) {
    const pfn = pages[i];
    const valid = Number.isInteger(pfn) && pfn >= 0;
    const id = valid && mem.sections.pfnValid(pfn) ? f.folioOfPfn(pfn) : -1;
    if (id < 0) {
      throw new PinFailed(
        `Cannot unpin pfn ${valid ? hex(pfn) : String(pfn)}: no folio holds it`,
        valid ? pfn : -1,
      );
    }
    if (id === mem.zeroFolio && kind === "pin") {
      i++; // gup_put_folio: the zero page holds no pin to drop
      continue;
    }
    // gup_folio_next(): the run of pages in the same folio (one compare per page).
    const lo = f.head[id];
    const hi = lo + f.npages(id);
    let j = i + 1;
    while (j < pages.length && pages[j] >= lo && pages[j] < hi) j++;
    need.set(id, (need.get(id) ?? 0) + (j - i));
    i = j;
  }
  for (const [id, n] of need) {
    if (mem.outstanding(id, kind) < n) {
      throw new PinFailed(
        `Cannot unpin pfn ${hex(f.head[id])}: ${n} page(s) but ${mem.outstanding(id, kind)} outstanding`,
        f.head[id],
      );
    }
  }
  for (const [id, n] of need) mem.releaseFolio(id, n, kind, opts.dirty ?? false);
}

/**
 * unpin_user_page_range_dirty_lock (mm/gup.c): releases `npages` FOLL_PIN pins of the physically
 * contiguous frames from `pfn`, one gup_put_folio per folio the range touches (range_next), marking
 * each folio dirty when asked. The zero page is skipped. Validates the whole range first.
 * O(folios in the range).
 * @returns the number of folio releases (range_next steps, the zero page included).
 * @throws RangeError for a bad pfn or count; PinFailed naming the frame when a frame has no folio
 *   or its folio holds fewer pins than the range releases; nothing changes then.
 */
export function unpinUserPageRange(
  mm: AddressSpace,
  pfn: number,
  npages: number,
  opts: UnpinOptions = {},
): number {
  if (
    !Number.isInteger(pfn) ||
    pfn < 0 ||
    !Number.isInteger(npages) ||
    npages < 1 ||
    pfn + npages > 2 ** 40
  ) {
    throw new RangeError(`unpin range pfn ${String(pfn)} + ${String(npages)} pages is invalid`);
  }
  const mem = mm.mem;
  const f = mem.folios;
  const end = pfn + npages;
  // A contiguous range meets each folio once, so each step's pages are all that folio releases:
  // pass 1 validates every step, pass 2 releases; no per-call allocation.
  let steps = 0;
  for (let p = pfn; p < end; steps++) {
    const id = mem.sections.pfnValid(p) ? f.folioOfPfn(p) : -1;
    if (id < 0) throw new PinFailed(`Cannot unpin pfn ${hex(p)}: no folio holds it`, p);
    const n = Math.min(f.head[id] + f.npages(id), end) - p;
    if (id !== mem.zeroFolio && f.pins[id] < n) {
      throw new PinFailed(
        `Cannot unpin pfn ${hex(f.head[id])}: ${n} page(s) but ${f.pins[id]} pinned`,
        f.head[id],
      );
    }
    p += n;
  }
  const dirty = opts.dirty ?? false;
  for (let p = pfn; p < end; ) {
    const id = f.folioOfPfn(p);
    const n = Math.min(f.head[id] + f.npages(id), end) - p;
    if (id !== mem.zeroFolio) mem.releaseFolio(id, n, "pin", dirty);
    p += n;
  }
  return steps;
}
