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
 * DEVICE_PRIVATE pages are refused to anyone but their pgmap owner (the design's rule, docs/design.md,
 * "Device memory"; upstream GUP instead faults them back to RAM through pgmap->ops->migrate_to_ram, and
 * only hmm_range_fault with a matching dev_private_owner returns them in place).
 * PCI_P2PDMA pages are refused with -EREMOTEIO unless the caller passes FOLL_PCI_P2PDMA
 * ({@link PinOptions.p2pdma}; mm/gup.c try_grab_folio, and gup_fast falls back to the slow path
 * that returns the same error).
 * Then missing pages are faulted in (a write pin also replaces the zero page: FOLL_WRITE faults
 * break COW), and for FOLL_LONGTERM every folio that is not long-term pinnable
 * (folio_is_longterm_pinnable, mem/isolation.ts: CMA or MIGRATE_ISOLATE pageblock, ZONE_MOVABLE,
 * device-coherent) is migrated first (check_and_migrate_movable_folios): ordinary folios to
 * ZONE_NORMAL/DMA32, hugetlb folios to a pinnable hugetlb folio (mem/hugetlb.ts; a 1 GiB page with
 * no pinnable free pool page cannot move, and the pin fails as the kernel's does with -ENOMEM).
 * The shared zero page is returned but never pinned: FOLL_PIN takes no reference on it and unpin
 * skips it (try_grab_folio, gup_put_folio: is_zero_folio); FOLL_GET does take a reference.
 * Releasing what these return is in unpin.ts.
 */
import { checkRange, hex, MemError, PAGE_SIZE, PinFailed, VFIO_BATCH_MAX_CAPACITY } from "../core/index.js";
import { FolioFlag, folioIsLongtermPinnable, migrateHugetlbForPin, Zone } from "../mem/index.js";
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
  /** FOLL_PCI_P2PDMA: PCI_P2PDMA pages may be returned (else -EREMOTEIO). Default false. */
  p2pdma?: boolean;
}

/**
 * Pins `[va, va+len)` and returns one entry per physically contiguous run. O(leaves + VMAs), plus
 * faults and migrations when needed: two passes over the leaves (checks, then pins), each walking
 * from the root once per leaf table and reading that table's leaves in order; one grab per folio
 * run (not per page); allocation only for the list's chunks.
 * @returns a PhyrList (compact by default) with PINNED or REF entries; PFNMAP / P2PDMA entries are
 *   also MMIO and carry their provider.
 * @throws RangeError for unaligned, zero-length or out-of-range input; PinFailed naming the address
 *   or frame (outside a VMA, hole, read-only, fsdax longterm, PFNMAP get, device-private, migration
 *   refused); MemError NOMEM from faults.
 * @example
 * ```ts
 * // A process maps 4 GiB of 1 GiB hugetlb pages; one long-term pin describes each page by one entry.
 * const mem = new MachineMemory({ nodes: [{ start: 0, size: 16 * 2 ** 30 }], hugetlb: { pages1G: 4 }, seed: 1 });
 * const mm = new AddressSpace(mem);
 * const vma = mm.mmap({ kind: "hugetlb", hugeSize: "1G", len: 4 * 2 ** 30 });
 * const list = pinUserRange(mm, vma.start, 4 * 2 ** 30, { write: true, longterm: true });
 * list.totalBytes; // 4 * 2 ** 30
 * list.nents <= 4; // true
 * unpinPhyrs(mm, list, { dirty: true });
 * mem.checkValid();
 * ```
 */
export function pinUserRange(mm: AddressSpace, va: number, len: number, opts: PinOptions = {}): PhyrList {
  const kind = prepare(mm, va, len, opts);
  const mem = mm.mem;
  const f = mem.folios;
  const pt = mm.pt;
  const list = new PhyrList({ store: opts.store ?? "compact", chunkCapacity: opts.chunkCapacity });
  const baseFlag = kind === "pin" ? PhyrFlag.PINNED : PhyrFlag.REF;
  // The run being built (one entry), the folio grab being gathered (try_grab_folio once per folio
  // and run of its pages, not per page) and the PFNMAP pins being gathered (per provider).
  let runAddr = -1;
  let runLen = 0;
  let runFlags = 0;
  let runProv = 0;
  let grabId = -1;
  let grabPages = 0;
  let pfnmapProv = -1;
  let pfnmapPages = 0;
  const end = va + len;
  let a = va;
  while (a < end) {
    // One walk from the root per leaf table; then its leaves are read in order.
    const tab = pt.leafEntries(a);
    if (tab === undefined) throw new Error(`pinUserRange: ${hex(a)} is not mapped after fault-in`);
    const size = pt.lastSize;
    let leafVa = pt.lastBase;
    for (let i = pt.lastIndex; i < 512 && a < end; i++) {
      const e = tab[i];
      if (e === 0) break; // a lower-level table: walk again from the root
      const leafEnd = leafVa + size;
      const stop = Math.min(leafEnd, end);
      const npages = (stop - a) / PAGE_SIZE;
      // ptePfn / pteFlags inlined on purpose: one floor for both, and no float `%` (hot loop).
      const epfn = Math.floor(e / 64);
      const pfn = epfn + (a - leafVa) / PAGE_SIZE;
      let flags = baseFlag;
      let prov = 0;
      if ((e - epfn * 64) & PteFlag.SPECIAL) {
        flags |= PhyrFlag.MMIO;
        prov = mm.findVma(a)!.provider;
        if (prov !== pfnmapProv) {
          if (pfnmapPages > 0) addPfnmapPins(mem.pfnmapPins, pfnmapProv, pfnmapPages);
          pfnmapProv = prov;
          pfnmapPages = 0;
        }
        pfnmapPages += npages;
      } else {
        const id = f.folioOfPfn(pfn);
        if (id < 0) throw new Error(`pinUserRange: pfn ${hex(pfn)} mapped at ${hex(a)} has no folio`);
        if (id === mem.zeroFolio && kind === "pin") {
          // try_grab_folio: no pin is taken on the zero page.
        } else if (id === grabId) grabPages += npages;
        else {
          if (grabPages > 0) mem.grabFolio(grabId, grabPages, kind);
          grabId = id;
          grabPages = npages;
        }
        const pg = f.pgmap[id];
        if (pg !== 0 && mem.pgmaps[pg - 1].type === "PCI_P2PDMA") {
          flags |= PhyrFlag.MMIO;
          prov = mem.pgmaps[pg - 1].provider;
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
      leafVa = leafEnd;
    }
  }
  if (grabPages > 0) mem.grabFolio(grabId, grabPages, kind);
  if (pfnmapPages > 0) addPfnmapPins(mem.pfnmapPins, pfnmapProv, pfnmapPages);
  if (runAddr >= 0) list.append(runAddr, runLen, runFlags, runProv);
  return list;
}

function addPfnmapPins(pins: Map<number, number>, prov: number, n: number): void {
  pins.set(prov, (pins.get(prov) ?? 0) + n);
}

/**
 * Page-at-a-time GUP, the baseline: pins like {@link pinUserRange} but returns one frame number
 * per page (the `struct page *` array), filled in batches of VFIO_BATCH_MAX_CAPACITY (512) pages the way
 * vfio type1 calls pin_user_pages_remote (vfio_pin_pages_remote).
 * O(pages).
 * @returns a Float64Array of len / PAGE_SIZE frame numbers.
 * @throws as {@link pinUserRange}; PinFailed for PFNMAP ranges (no struct page to return).
 */
export function pinUserPages(mm: AddressSpace, va: number, len: number, opts: PinOptions = {}): Float64Array {
  const kind = prepare(mm, va, len, opts, true);
  const mem = mm.mem;
  const f = mem.folios;
  const pt = mm.pt;
  const n = len / PAGE_SIZE;
  const pages = new Float64Array(n);
  const batch = new Float64Array(VFIO_BATCH_MAX_CAPACITY);
  let done = 0;
  while (done < n) {
    const want = Math.min(VFIO_BATCH_MAX_CAPACITY, n - done);
    let got = 0;
    let a = va + done * PAGE_SIZE;
    while (got < want) {
      const e = pt.lookup(a);
      const pfn0 = ptePfn(e) + (a - pt.lastBase) / PAGE_SIZE;
      const inLeaf = Math.min(want - got, (pt.lastBase + pt.lastSize - a) / PAGE_SIZE);
      const id = f.folioOfPfn(pfn0);
      if (id !== mem.zeroFolio || kind !== "pin") mem.grabFolio(id, inLeaf, kind);
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
 * Validation, fault-in and FOLL_LONGTERM migration shared by both pin paths. Returns the kind.
 * `pageArray` (pinUserPages) also refuses PFNMAP VMAs up front: there is no struct page to return,
 * and refusing before any fault or grab keeps a failed call from changing anything.
 */
function prepare(
  mm: AddressSpace,
  va: number,
  len: number,
  opts: PinOptions,
  pageArray = false,
): "pin" | "get" {
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
    if (v.kind === "dax" && !opts.p2pdma && mem.pgmaps[v.pgmap].type === "PCI_P2PDMA") {
      throw new PinFailed(
        `Cannot pin ${hex(a)}: the VMA at ${hex(v.start)} maps PCI_P2PDMA memory and FOLL_PCI_P2PDMA was not passed (-EREMOTEIO, try_grab_folio)`,
      );
    }
    if (v.kind === "pfnmap" && pageArray) {
      throw new PinFailed(
        `Cannot pin ${hex(a)} page by page: a PFNMAP mapping has no struct page (VM_PFNMAP, vm_normal_page)`,
      );
    }
    if (v.kind === "pfnmap" && kind === "get") {
      throw new PinFailed(
        `Cannot take references on ${hex(a)}: a PFNMAP range has no struct page, only kind "pin" is allowed`,
      );
    }
    a = v.end;
  }
  // One walk over the leaves: device-private pages (only their pgmap owner may reach them), pages
  // to fault in, and for FOLL_LONGTERM folios that must migrate first.
  const f = mem.folios;
  const pt = mm.pt;
  const longterm = opts.longterm === true;
  const write = opts.write === true;
  const zeroPfn = mem.zeroFolio >= 0 ? f.head[mem.zeroFolio] : -1;
  let missing = false;
  let migrate = false;
  for (let a = va; a < end; ) {
    const tab = pt.leafEntries(a);
    if (tab === undefined) {
      missing = true;
      a += PAGE_SIZE;
      continue;
    }
    const size = pt.lastSize;
    let leafVa = pt.lastBase;
    for (let i = pt.lastIndex; i < 512 && a < end; i++) {
      const e = tab[i];
      if (e === 0) break; // a hole or a lower-level table: walk again from the root
      const pfn = Math.floor(e / 64); // ptePfn / pteFlags inlined, as in pinUserRange
      const fl = e - pfn * 64;
      if (fl & PteFlag.DEVPRIV) {
        const pg = mem.pgmaps[f.pgmap[f.folioOfPfn(pfn)] - 1];
        if (opts.owner === undefined || opts.owner !== pg.owner) {
          throw new PinFailed(
            `Cannot pin ${hex(a)}: pfn ${hex(pfn)} is DEVICE_PRIVATE memory, unavailable to anyone but its pgmap owner`,
            pfn,
          );
        }
      } else if (!(fl & PteFlag.SPECIAL)) {
        const id = f.folioOfPfn(pfn);
        const pg = id >= 0 ? f.pgmap[id] : 0;
        if (pg !== 0 && !opts.p2pdma && mem.pgmaps[pg - 1].type === "PCI_P2PDMA") {
          throw new PinFailed(
            `Cannot pin ${hex(a)}: pfn ${hex(pfn)} is PCI_P2PDMA memory and FOLL_PCI_P2PDMA was not passed (-EREMOTEIO, try_grab_folio)`,
            pfn,
          );
        }
        if (write && pfn === zeroPfn)
          missing = true; // FOLL_WRITE breaks COW of the zero page
        else if (longterm && !migrate && id >= 0 && !folioIsLongtermPinnable(mem, id)) migrate = true;
      }
      leafVa += size;
      a = leafVa;
    }
  }
  // Fault in what is missing (and the zero page under a write pin); device-private entries
  // (owner's) stay where they are.
  if (missing) {
    for (let a = va; a < end; ) {
      const e = pt.lookup(a);
      if (e === 0 || (write && ptePfn(e) === zeroPfn)) mm.fault(a, write);
      pt.lookup(a);
      a = pt.lastBase + pt.lastSize;
    }
  }
  if (longterm && (missing || migrate)) migrateForLongterm(mm, va, end);
  return kind;
}

/**
 * check_and_migrate_movable_folios: moves every folio that may not be long-term pinned (hugetlb
 * folios through migrateHugetlbForPin). A failure is PinFailed naming the frame, as the kernel's
 * migrate_longterm_unpinnable_folios returns -ENOMEM; folios migrated before it stay migrated.
 */
function migrateForLongterm(mm: AddressSpace, va: number, end: number): void {
  const mem = mm.mem;
  const f = mem.folios;
  const pt = mm.pt;
  for (let a = va; a < end; ) {
    const e = pt.lookup(a);
    const next = pt.lastBase + pt.lastSize;
    if (!(pteFlags(e) & (PteFlag.SPECIAL | PteFlag.DEVPRIV))) {
      const id = f.folioOfPfn(ptePfn(e));
      if (!folioIsLongtermPinnable(mem, id)) {
        try {
          if (f.flags[id] & FolioFlag.HUGETLB) migrateHugetlbForPin(mem, id);
          else mem.migrateFolio(id, { movable: false, zones: [Zone.NORMAL, Zone.DMA32], node: f.node[id] });
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
