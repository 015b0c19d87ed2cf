/**
 * GUP to range lists (the phyr proposal's "pin/unpin N phyrs") and, beside it, today's
 * page-at-a-time GUP (mm/gup.c).
 *
 * pinUserRange walks the page table leaf by leaf and grabs each folio once for all the pages it
 * covers (try_grab_folio with `refs` = pages: FOLL_GET +refs; FOLL_PIN on a small folio
 * +GUP_PIN_COUNTING_BIAS, on a large one +refs to the refcount and to _pincount —
 * include/linux/mm.h, mm/internal.h, mm/gup.c), then appends one entry per physically contiguous
 * run, flagged PINNED or REF. So a 1 GiB hugetlb buffer is one grab and one entry.
 *
 * Rules applied before anything changes (typed errors, state unchanged): page-aligned non-empty
 * range; every page inside a VMA (no holes); write pins need a writable VMA; FOLL_LONGTERM is
 * refused on fsdax VMAs (check_vma_flags: vma_is_fsdax); PFNMAP ranges (no struct page) may only
 * be pinned (kind "pin"), never referenced with FOLL_GET, and yield MMIO entries carrying the
 * BAR's provider index — this is the design's extension, upstream GUP refuses VM_PFNMAP outright;
 * DEVICE_PRIVATE pages are refused to anyone but their pgmap owner.
 * Then missing pages are faulted in, and for FOLL_LONGTERM every folio that is not long-term
 * pinnable (CMA pageblock, ZONE_MOVABLE, device-coherent; folio_is_longterm_pinnable) is migrated
 * to ZONE_NORMAL/DMA32 first (check_and_migrate_movable_folios), then the pin is taken.
 */
import { checkRange, hex, MemError, PAGE_SIZE, PinFailed } from "../core/index.js";
import { FolioFlag, MigrateType, Zone } from "../mem/index.js";
import { PhyrFlag, PhyrList, type PhyrListOptions } from "../phyr/index.js";
import type { AddressSpace } from "./mm.js";
import { PteFlag, pteFlags, ptePfn } from "./pagetable.js";

/** FOLL_* options of a pin. */
export interface PinOptions extends PhyrListOptions {
  /** FOLL_WRITE: the pages will be written (needs a writable VMA). Default false. */
  write?: boolean;
  /** FOLL_LONGTERM: migrate out of CMA / ZONE_MOVABLE / device-coherent first; refuse fsdax. Default false. */
  longterm?: boolean;
  /** "pin" = FOLL_PIN (release with unpin), "get" = FOLL_GET (release with put_page). Default "pin". */
  kind?: "pin" | "get";
  /** The caller's pgmap owner token: DEVICE_PRIVATE pages of that owner are returned, others refused. */
  owner?: number;
}

/** Options of an unpin. */
export interface UnpinOptions {
  /** Mark every folio dirty (unpin_user_pages_dirty_lock with make_dirty). Default false. */
  dirty?: boolean;
}

/**
 * Pins `[va, va+len)` and returns one entry per physically contiguous run. O(leaves + VMAs), plus
 * faults and migrations when needed.
 * @returns a PhyrList (compact by default) with PINNED or REF entries; PFNMAP / P2PDMA entries are
 *   also MMIO and carry their provider.
 * @throws RangeError for unaligned, zero-length or out-of-range input; PinFailed naming the address
 *   or frame (outside a VMA, hole, read-only, fsdax longterm, PFNMAP get, device-private, migration
 *   refused); MemError NOMEM from faults.
 */
export function pinUserRange(mm: AddressSpace, va: number, len: number, opts: PinOptions = {}): PhyrList {
  const kind = prepare(mm, va, len, opts);
  const mem = mm.mem;
  const f = mem.folios;
  const pt = mm.pt;
  const list = new PhyrList({ store: opts.store ?? "compact", chunkCapacity: opts.chunkCapacity });
  const baseFlag = kind === "pin" ? PhyrFlag.PINNED : PhyrFlag.REF;
  let runAddr = -1;
  let runLen = 0;
  let runFlags = 0;
  let runProv = 0;
  const end = va + len;
  let a = va;
  while (a < end) {
    const e = pt.lookup(a);
    const leafEnd = pt.lastBase + pt.lastSize;
    const stop = Math.min(leafEnd, end);
    const npages = (stop - a) / PAGE_SIZE;
    const pfn = ptePfn(e) + (a - pt.lastBase) / PAGE_SIZE;
    let flags = baseFlag;
    let prov = 0;
    if (pteFlags(e) & PteFlag.SPECIAL) {
      const vma = mm.findVma(a)!;
      flags |= PhyrFlag.MMIO;
      prov = vma.provider;
      mem.pfnmapPins.set(prov, (mem.pfnmapPins.get(prov) ?? 0) + npages);
    } else {
      const id = f.folioOfPfn(pfn);
      mem.grabFolio(id, npages, kind);
      if (f.pgmap[id]) {
        const pg = mem.pgmaps[f.pgmap[id] - 1];
        if (pg.type === "PCI_P2PDMA") {
          flags |= PhyrFlag.MMIO;
          prov = pg.provider;
        }
      }
    }
    const addr = pfn * PAGE_SIZE;
    const bytes = stop - a;
    if (runAddr + runLen === addr && flags === runFlags && prov === runProv) runLen += bytes;
    else {
      if (runAddr >= 0) list.append(runAddr, runLen, runFlags, runProv);
      runAddr = addr;
      runLen = bytes;
      runFlags = flags;
      runProv = prov;
    }
    a = stop;
  }
  if (runAddr >= 0) list.append(runAddr, runLen, runFlags, runProv);
  return list;
}

/**
 * Page-at-a-time GUP, the baseline: pins like {@link pinUserRange} but returns one frame number
 * per page (the `struct page *` array), filled in 512-page batches the way vfio type1 calls
 * pin_user_pages_remote (vfio_pin_pages_remote, batch capacity PAGE_SIZE / sizeof(ptr)).
 * O(pages).
 * @returns a Float64Array of len / 4096 frame numbers.
 * @throws as {@link pinUserRange}; PinFailed for PFNMAP ranges (no struct page to return).
 */
export function pinUserPages(mm: AddressSpace, va: number, len: number, opts: PinOptions = {}): Float64Array {
  const kind = prepare(mm, va, len, opts);
  const mem = mm.mem;
  const f = mem.folios;
  const pt = mm.pt;
  const n = len / PAGE_SIZE;
  const pages = new Float64Array(n);
  const batch = new Float64Array(512);
  let done = 0;
  while (done < n) {
    const want = Math.min(512, n - done);
    let got = 0;
    let a = va + done * PAGE_SIZE;
    while (got < want) {
      const e = pt.lookup(a);
      if (pteFlags(e) & PteFlag.SPECIAL) {
        throw new PinFailed(
          `Cannot pin ${hex(a)} page by page: a PFNMAP mapping has no struct page`,
          ptePfn(e),
        );
      }
      const pfn0 = ptePfn(e) + (a - pt.lastBase) / PAGE_SIZE;
      const inLeaf = Math.min(want - got, (pt.lastBase + pt.lastSize - a) / PAGE_SIZE);
      mem.grabFolio(f.folioOfPfn(pfn0), inLeaf, kind);
      for (let i = 0; i < inLeaf; i++) batch[got + i] = pfn0 + i;
      got += inLeaf;
      a += inLeaf * PAGE_SIZE;
    }
    pages.set(batch.subarray(0, got), done);
    done += got;
  }
  return pages;
}

/**
 * Releases what a pin returned: validates the whole list first (every PINNED/REF page must be
 * covered by outstanding references of that kind on its folio, PFNMAP pages by outstanding pins
 * of their provider), then releases per folio and marks folios dirty when asked or when an entry
 * is flagged DIRTY. O(entries + folios touched).
 * @throws PinFailed naming the frame when something was not pinned; nothing changes then.
 */
export function unpinPhyrs(mm: AddressSpace, list: PhyrList, opts: UnpinOptions = {}): void {
  const mem = mm.mem;
  const f = mem.folios;
  const need = new Map<number, number>();
  const needKind = new Map<number, "pin" | "get">();
  const dirtyIds = new Set<number>();
  const pfnmap = new Map<number, number>();
  list.forEachEntry((addr, len, flags, provider) => {
    const kind = flags & PhyrFlag.PINNED ? "pin" : flags & PhyrFlag.REF ? "get" : undefined;
    if (kind === undefined || addr % PAGE_SIZE || len % PAGE_SIZE) {
      throw new PinFailed(
        `Cannot unpin ${hex(addr)}+${hex(len)}: not a whole-page PINNED or REF entry`,
        addr / PAGE_SIZE,
      );
    }
    let pfn = addr / PAGE_SIZE;
    const last = pfn + len / PAGE_SIZE;
    while (pfn < last) {
      const id = mem.sections.pfnValid(pfn) ? f.folioOfPfn(pfn) : -1;
      if (id < 0) {
        if (!(flags & PhyrFlag.MMIO) || provider === 0 || kind !== "pin") {
          throw new PinFailed(`Cannot unpin pfn ${hex(pfn)}: no folio holds it`, pfn);
        }
        pfnmap.set(provider, (pfnmap.get(provider) ?? 0) + (last - pfn));
        break;
      }
      const n = Math.min(last, f.head[id] + f.npages(id)) - pfn;
      if ((needKind.get(id) ?? kind) !== kind) {
        throw new PinFailed(
          `Cannot unpin pfn ${hex(pfn)}: the list mixes pins and references of one folio`,
          pfn,
        );
      }
      need.set(id, (need.get(id) ?? 0) + n);
      needKind.set(id, kind);
      if (opts.dirty || flags & PhyrFlag.DIRTY) dirtyIds.add(id);
      pfn += n;
    }
  });
  for (const [id, n] of need) {
    const kind = needKind.get(id)!;
    if (mem.outstanding(id, kind) < n) {
      throw new PinFailed(
        `Cannot unpin pfn ${hex(f.head[id])}: ${n} page(s) to release but the folio holds ${mem.outstanding(id, kind)} ${kind === "pin" ? "pins" : "references"}`,
        f.head[id],
      );
    }
  }
  for (const [prov, n] of pfnmap) {
    if ((mem.pfnmapPins.get(prov) ?? 0) < n) {
      throw new PinFailed(
        `Cannot unpin ${n} PFNMAP page(s) of provider ${prov}: only ${mem.pfnmapPins.get(prov) ?? 0} pinned`,
      );
    }
  }
  for (const [id, n] of need) mem.releaseFolio(id, n, needKind.get(id)!, dirtyIds.has(id));
  for (const [prov, n] of pfnmap) {
    const left = mem.pfnmapPins.get(prov)! - n;
    if (left === 0) mem.pfnmapPins.delete(prov);
    else mem.pfnmapPins.set(prov, left);
  }
}

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
    const id = Number.isInteger(pfn) && pfn >= 0 && mem.sections.pfnValid(pfn) ? f.folioOfPfn(pfn) : -1;
    if (id < 0) throw new PinFailed(`Cannot unpin pfn ${String(pfn)}: no folio holds it`, id < 0 ? -1 : pfn);
    let j = i + 1;
    while (j < pages.length && pages[j] >= f.head[id] && pages[j] < f.head[id] + f.npages(id)) j++;
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

/** Validation, fault-in and FOLL_LONGTERM migration shared by both pin paths. Returns the kind. */
function prepare(mm: AddressSpace, va: number, len: number, opts: PinOptions): "pin" | "get" {
  checkRange("pin range", va, len);
  if (va % PAGE_SIZE || len % PAGE_SIZE) {
    throw new RangeError(
      `pin range ${hex(va)}+${hex(len)} is invalid: start and length must be page aligned`,
    );
  }
  const kind = opts.kind ?? "pin";
  if (kind !== "pin" && kind !== "get")
    throw new TypeError(`pin kind ${String(kind)} is invalid: expected "pin" or "get"`);
  const mem = mm.mem;
  const end = va + len;
  // Every page must lie in a VMA allowing the access.
  for (let a = va; a < end; ) {
    const v = mm.findVma(a);
    if (!v) {
      throw new PinFailed(
        a === va
          ? `Cannot pin ${hex(va)}+${hex(len)}: ${hex(a)} is outside any VMA`
          : `Cannot pin ${hex(va)}+${hex(len)}: hole at ${hex(a)}`,
      );
    }
    if (opts.write && !v.write)
      throw new PinFailed(`Cannot pin ${hex(a)} for write: the VMA at ${hex(v.start)} is read-only`);
    if (v.kind === "dax" && opts.longterm && mem.pgmaps[v.pgmap].type === "FS_DAX") {
      throw new PinFailed(
        `Cannot pin ${hex(a)} long-term: fsdax pages cannot be long-term pinned (check_vma_flags)`,
      );
    }
    if (v.kind === "pfnmap" && kind === "get") {
      throw new PinFailed(
        `Cannot take references on ${hex(a)}: a PFNMAP range has no struct page, only kind "pin" is allowed`,
      );
    }
    a = v.end;
  }
  // Device-private pages: only the owner may reach them.
  const f = mem.folios;
  const pt = mm.pt;
  for (let a = va; a < end; ) {
    const e = pt.lookup(a);
    if (e === 0) {
      a += PAGE_SIZE;
      continue;
    }
    if (pteFlags(e) & PteFlag.DEVPRIV) {
      const pg = mem.pgmaps[f.pgmap[f.folioOfPfn(ptePfn(e))] - 1];
      if (opts.owner === undefined || opts.owner !== pg.owner) {
        throw new PinFailed(
          `Cannot pin ${hex(a)}: pfn ${hex(ptePfn(e))} is DEVICE_PRIVATE memory, unavailable to anyone but its pgmap owner`,
          ptePfn(e),
        );
      }
    }
    a = pt.lastBase + pt.lastSize;
  }
  // Fault in what is missing; device-private entries (owner's) stay where they are.
  for (let a = va; a < end; ) {
    if (pt.lookup(a) === 0) mm.fault(a, opts.write ?? false);
    pt.lookup(a);
    a = pt.lastBase + pt.lastSize;
  }
  if (opts.longterm) migrateForLongterm(mm, va, end);
  return kind;
}

/** check_and_migrate_movable_folios: moves every folio that may not be long-term pinned. */
function migrateForLongterm(mm: AddressSpace, va: number, end: number): void {
  const mem = mm.mem;
  const f = mem.folios;
  const pt = mm.pt;
  for (let a = va; a < end; ) {
    const e = pt.lookup(a);
    const next = pt.lastBase + pt.lastSize;
    if (!(pteFlags(e) & (PteFlag.SPECIAL | PteFlag.DEVPRIV))) {
      const id = f.folioOfPfn(ptePfn(e));
      const pg = f.pgmap[id] ? mem.pgmaps[f.pgmap[id] - 1] : undefined;
      const bad = f.mt[id] === MigrateType.CMA || f.zone[id] === Zone.MOVABLE || pg?.type === "COHERENT";
      if (bad && !(f.flags[id] & FolioFlag.HUGETLB)) {
        try {
          mem.migrateFolio(id, { movable: false, zones: [Zone.NORMAL, Zone.DMA32], node: f.node[id] });
        } catch (err) {
          if (err instanceof MemError) {
            throw new PinFailed(
              `Cannot pin ${hex(a)} long-term: migrating pfn ${hex(f.head[id])} failed: ${err.message}`,
              f.head[id],
            );
          }
          throw err;
        }
      }
    }
    a = next;
  }
}
