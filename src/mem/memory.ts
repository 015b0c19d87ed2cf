/**
 * MachineMemory: the simulated machine's physical memory — the iomem map, the section map, sparse
 * folio state, the buddy allocator, hugetlb pools, ZONE_DEVICE pgmaps and (optionally) the bytes.
 * Everything is deterministic from the spec's seed.
 *
 * Reference counting follows the kernel (include/linux/mm.h, mm/gup.c try_grab_folio):
 * an allocated folio holds one reference for its owner (the mapping or page cache that holds it;
 * the model folds per-mapping references into that one and counts mappings in `mapcount`);
 * FOLL_GET adds 1 per page; FOLL_PIN adds GUP_PIN_COUNTING_BIAS (1024) to a small folio's refcount
 * and, on a large folio, 1 to the refcount and 1 to `_pincount` per page. `checkValid()` verifies
 * that every refcount equals 1 + outstanding gets + outstanding pin contributions.
 */
import { hex, MemError, ORDER_1G, ORDER_2M, PAGE_SIZE, Rng } from "../core/index.js";
import { FreeArea } from "./buddy.js";
import { checkMemory, memoryDigest } from "./check.js";
import { FolioScratch } from "./folio-scratch.js";
import { FolioTable } from "./folios.js";
import { IomemTree } from "./iomem.js";
import { checkPgmapAlignment, type Pgmap, type PgmapSpec } from "./pgmap.js";
import { PhysData } from "./physdata.js";
import { SectionMap, SubKind } from "./sections.js";
import { checkMemorySpec, type MemorySpec } from "./spec.js";
import {
  DMA32_END_PFN,
  FolioFlag,
  GUP_PIN_COUNTING_BIAS,
  MAX_ORDER,
  MigrateType,
  PAGEBLOCK_PAGES,
  PAGES_PER_SUBSECTION,
  Zone,
  type ZoneId,
} from "./types.js";

/** Where and how to allocate a folio. */
export interface AllocOptions {
  /** Preferred NUMA node (others are tried after it). Default 0. */
  node?: number;
  /** __GFP_MOVABLE: may come from ZONE_MOVABLE and CMA. Default true. */
  movable?: boolean;
  /** Prefer CMA pageblocks (implies movable). Default false: CMA is a movable allocation's last resort. */
  cma?: boolean;
  /** Explicit zone fallback list (overrides the default order for `movable`). */
  zones?: readonly ZoneId[];
  /** FolioFlag bits to set. */
  flags?: number;
  /** Owner id (from {@link MachineMemory.registerOwner}) for reverse mapping; -1 none. */
  owner?: number;
  /** Owner's index of the folio (virtual address or file offset). */
  index?: number;
}

/** Something that maps folios and must follow them when they migrate (an address space, a file). */
export interface MigrationClient {
  /** Called after folio `oldId`'s contents moved to `newId`; must repoint every mapping. */
  folioMoved(oldId: number, newId: number): void;
}

/** Hugetlb page sizes. */
export type HugeSize = "2M" | "1G";

/** Where boot-time hugetlb pool pages are placed (see {@link MachineMemory.addHugetlb}). */
export type HugetlbPlacement = "unmovable" | "movable" | "cma";

/** Everything about one frame, as pfn_to_page() + the folio would say. */
export interface PageInfo {
  pfn: number;
  /** pfn_valid(). */
  valid: boolean;
  /** "folio" (in use), "free" (buddy), "device" (ZONE_DEVICE, no folio), "hole" (no struct page or not RAM). */
  state: "folio" | "free" | "device" | "hole";
  zone: number;
  node: number;
  /** Folio id, or -1. */
  folio: number;
  /** Folio head frame, or -1. */
  head: number;
  order: number;
  refcount: number;
  pincount: number;
  migratetype: number;
  /** Pgmap id, or -1. */
  pgmap: number;
}

/** The physical memory of a simulated machine. */
export class MachineMemory {
  /** /proc/iomem. */
  readonly iomem = new IomemTree();
  /** Section/subsection presence (pfn_valid). */
  readonly sections = new SectionMap();
  /** Folio state and the frame -> folio map. */
  readonly folios = new FolioTable();
  /** Free areas, indexed by `areaIndex(node, zone, cma)`. */
  readonly areas: FreeArea[] = [];
  /** ZONE_DEVICE pgmaps by id. */
  readonly pgmaps: Pgmap[] = [];
  /** Free hugetlb folios per size (stacks of folio ids). */
  readonly hugetlbFree: Record<HugeSize, number[]> = { "2M": [], "1G": [] };
  /** Total hugetlb folios per size. */
  readonly hugetlbTotal: Record<HugeSize, number> = { "2M": 0, "1G": 0 };
  /** Outstanding pins of PFNMAP ranges (no struct page) per provider index, in pages. */
  readonly pfnmapPins = new Map<number, number>();
  /**
   * Per-folio scratch for passes over a list (mm/unpin.ts unpinPhyrs), all-zero between calls;
   * grown on use to the folio table's capacity, so one per machine, not per address space.
   * @internal
   */
  readonly folioScratch = new FolioScratch();
  /** Isolated pageblock numbers (MIGRATE_ISOLATE; isolation.ts). */
  readonly isolatedBlocks = new Set<number>();
  /** Free frames held back by isolation, as triples [pfn, npages, area index] (isolation.ts). */
  readonly isolatedFree: number[] = [];
  /** Folio id of the shared zero page, or -1 until first used ({@link zeroFolioId}). */
  zeroFolio = -1;
  /** Byte contents (data mode). */
  readonly data = new PhysData();
  /** Seeded generator for aging and any other randomness. */
  readonly rng: Rng;
  /** Number of NUMA nodes. */
  readonly nodeCount: number;
  /** Online System RAM frames. */
  ramPages = 0;
  private readonly owners: (MigrationClient | undefined)[] = [];

  /**
   * Builds memory from a spec: RAM into the buddy allocator (lazily), CMA, ZONE_MOVABLE, pmem
   * pgmaps, PCI windows, hugetlb pools. O(nodes + ranges + hugetlb pages).
   * @throws RangeError/TypeError for a bad spec; MemError NOMEM when hugetlb pools do not fit.
   */
  constructor(readonly spec: MemorySpec) {
    checkMemorySpec(spec);
    this.rng = new Rng(spec.seed ?? 1);
    this.nodeCount = spec.nodes.length;
    for (let n = 0; n < this.nodeCount; n++) {
      for (let z = 0; z < 3; z++) for (const c of [false, true]) this.areas.push(new FreeArea(n, z, c));
    }
    const last = this.nodeCount - 1;
    spec.nodes.forEach((nd, n) => {
      const s = nd.start / PAGE_SIZE;
      const e = s + nd.size / PAGE_SIZE;
      this.iomem.insert(nd.start, nd.size, "System RAM");
      this.sections.mark(
        s - (s % PAGES_PER_SUBSECTION),
        Math.ceil(e / PAGES_PER_SUBSECTION) * PAGES_PER_SUBSECTION - (s - (s % PAGES_PER_SUBSECTION)),
        SubKind.RAM,
        n,
        true,
      );
      const movStart = n === last ? e - (spec.movable ?? 0) / PAGE_SIZE : e;
      let cmaStart = e;
      if (n === 0 && spec.cma) cmaStart = Math.max(s, Math.min(movStart, e) - spec.cma / PAGE_SIZE);
      this.addRam(s, Math.min(cmaStart, movStart), n, false);
      this.addRam(cmaStart, Math.min(movStart, e), n, true);
      if (movStart < e) this.area(n, Zone.MOVABLE, false).addRange(movStart, e - movStart);
      this.ramPages += e - s;
    });
    for (const r of spec.reserved ?? []) this.iomem.insert(r.start, r.size, "Reserved");
    for (const w of spec.pciWindows ?? []) this.iomem.insert(w.start, w.size, w.name ?? "PCI Bus 0000:00");
    for (const p of spec.pmem ?? []) {
      this.addPgmap({
        type: p.type ?? "FS_DAX",
        start: p.start,
        size: p.size,
        name: p.name ?? "Persistent Memory",
      });
    }
    const placement = spec.hugetlb?.placement ?? "unmovable";
    for (let i = 0; i < (spec.hugetlb?.pages1G ?? 0); i++) this.addHugetlb("1G", placement);
    for (let i = 0; i < (spec.hugetlb?.pages2M ?? 0); i++) this.addHugetlb("2M", placement);
  }

  /** Index of the free area of (node, zone, cma) in {@link areas}. O(1). */
  areaIndex(node: number, zone: number, cma: boolean): number {
    return node * 6 + zone * 2 + (cma ? 1 : 0);
  }

  /** The free area of (node, zone, cma). O(1). */
  area(node: number, zone: number, cma: boolean): FreeArea {
    return this.areas[this.areaIndex(node, zone, cma)];
  }

  /** Free frames over every area. O(areas). */
  get freePages(): number {
    let n = 0;
    for (const a of this.areas) n += a.freePages;
    return n;
  }

  /**
   * Registers a migration client; folios allocated with the returned owner id follow migration
   * through it. O(1).
   */
  registerOwner(client: MigrationClient): number {
    this.owners.push(client);
    return this.owners.length - 1;
  }

  /**
   * Allocates a folio of 2^order frames (orders above MAX_ORDER come from never-touched memory,
   * as gigantic pages do) with refcount 1. O(MAX_ORDER) amortised, plus O(2^order) frame-map fill.
   * @returns the folio id.
   * @throws RangeError for a bad order; MemError NOMEM when no zone in the fallback list has room.
   */
  allocFolio(order: number, opts: AllocOptions = {}): number {
    if (!Number.isInteger(order) || order < 0 || order > ORDER_1G) {
      throw new RangeError(`folio order ${order} is invalid: expected an integer in 0..18`);
    }
    const pfnArea = this.allocFrames(order, opts);
    if (pfnArea[0] < 0) {
      throw new MemError(
        "NOMEM",
        `Cannot allocate an order-${order} folio: no free block in the allowed zones`,
      );
    }
    const [pfn, ai] = pfnArea;
    const area = this.areas[ai];
    const f = this.folios;
    const id = f.add(pfn, order);
    f.zone[id] = area.zone;
    f.node[id] = area.node;
    f.mt[id] = area.cma
      ? MigrateType.CMA
      : opts.movable === false
        ? MigrateType.UNMOVABLE
        : MigrateType.MOVABLE;
    f.flags[id] = opts.flags ?? 0;
    f.ref[id] = 1;
    f.owner[id] = opts.owner ?? -1;
    f.index[id] = opts.index ?? 0;
    return id;
  }

  /**
   * Drops one reference (folio_put); at zero the folio is freed: hugetlb folios return to their
   * pool, device folios to their pgmap, others to the buddy allocator. O(MAX_ORDER + 2^order).
   * @throws MemError BAD_PUT when the folio is not live or has no reference.
   */
  putFolio(id: number): void {
    const f = this.folios;
    if (!f.used[id] || f.ref[id] <= 0)
      throw new MemError("BAD_PUT", `Cannot put folio ${id}: it holds no reference`);
    if (--f.ref[id] === 0) this.releaseFrames(id);
  }

  /**
   * Takes GUP references on `npages` pages of folio `id` (mm/gup.c try_grab_folio):
   * FOLL_GET adds npages; FOLL_PIN adds GUP_PIN_COUNTING_BIAS per page on a small folio, or
   * npages to both the refcount and `_pincount` on a large one. O(1).
   */
  grabFolio(id: number, npages: number, kind: "pin" | "get"): void {
    const f = this.folios;
    if (kind === "get") {
      f.ref[id] += npages;
      f.gets[id] += npages;
    } else if (f.order[id] === 0) {
      f.ref[id] += GUP_PIN_COUNTING_BIAS * npages;
      f.pins[id] += npages;
    } else {
      f.ref[id] += npages;
      f.pincount[id] += npages;
      f.pins[id] += npages;
    }
  }

  /**
   * Releases what {@link grabFolio} took (unpin_user_page / put_page), marking the folio dirty
   * when asked; frees it if that was the last reference. The caller validates first
   * ({@link canRelease}). O(1) unless the folio is freed.
   */
  releaseFolio(id: number, npages: number, kind: "pin" | "get", dirty: boolean): void {
    const f = this.folios;
    if (dirty) f.flags[id] |= FolioFlag.DIRTY;
    if (kind === "get") {
      f.ref[id] -= npages;
      f.gets[id] -= npages;
    } else if (f.order[id] === 0) {
      f.ref[id] -= GUP_PIN_COUNTING_BIAS * npages;
      f.pins[id] -= npages;
    } else {
      f.ref[id] -= npages;
      f.pincount[id] -= npages;
      f.pins[id] -= npages;
    }
    if (f.ref[id] === 0) this.releaseFrames(id);
  }

  /** How many outstanding page references of `kind` folio `id` holds (0 for a dead folio). O(1). */
  outstanding(id: number, kind: "pin" | "get"): number {
    if (id < 0 || !this.folios.used[id]) return 0;
    return kind === "pin" ? this.folios.pins[id] : this.folios.gets[id];
  }

  /**
   * Counts one more page-table mapping of folio `id` (folio_mapcount; mm/rmap.c
   * folio_add_anon_rmap_ptes / folio_add_file_rmap_ptes raise it as a leaf is installed). The
   * only writer of `mapcount` outside mem/'s own paths. O(1).
   * @throws RangeError for an id that is not a live folio; nothing changes then.
   */
  addMapping(id: number): void {
    const f = this.folios;
    if (!(id >= 0 && id < f.capacity && f.used[id] === 1)) {
      throw new RangeError(`folio id ${String(id)} is invalid: not a live folio to map`);
    }
    f.mapcount[id]++;
  }

  /**
   * Moves folio `id` to a newly allocated folio placed by `opts` (migrate_pages): copies bytes,
   * flags and owner, tells the owner to repoint its mappings, frees the old folio.
   * O(MAX_ORDER + 2^order).
   * @returns the new folio id.
   * @throws RangeError for an id that is not a live folio; MemError FOLIO_PINNED (extra
   *   references), FOLIO_UNMOVABLE (kernel or free pool folio), NOMEM.
   */
  migrateFolio(id: number, opts: AllocOptions = {}): number {
    this.checkMigratable(id);
    const f = this.folios;
    const to = this.allocFolio(f.order[id], {
      ...opts,
      flags: f.flags[id],
      owner: f.owner[id],
      index: f.index[id],
    });
    this.moveFolio(id, to);
    return to;
  }

  /**
   * Throws unless folio `id` may be migrated now: live, not kernel-owned, not hugetlb (hugetlb
   * folios move only for long-term pins, through hugetlb.ts migrateHugetlbForPin), owned by a
   * migration client, holding only its owner's reference. O(1).
   * @throws RangeError for an id that is not a live folio; MemError FOLIO_PINNED or FOLIO_UNMOVABLE
   *   naming the head frame.
   */
  checkMigratable(id: number): void {
    const f = this.folios;
    if (!Number.isInteger(id) || id < 0 || id >= f.capacity || !f.used[id])
      throw new RangeError(`folio id ${id} is invalid: not a live folio`);
    const pfn = f.head[id];
    if (f.flags[id] & (FolioFlag.KERNEL | FolioFlag.POOL_FREE | FolioFlag.HUGETLB) || f.owner[id] < 0) {
      throw new MemError("FOLIO_UNMOVABLE", `Cannot migrate pfn ${hex(pfn)}: the folio is unmovable`, pfn);
    }
    const pg = f.pgmap[id] ? this.pgmaps[f.pgmap[id] - 1] : undefined;
    if (pg && pg.type !== "PRIVATE" && pg.type !== "COHERENT") {
      throw new MemError(
        "FOLIO_UNMOVABLE",
        `Cannot migrate pfn ${hex(pfn)}: ${pg.type} device memory stays in place`,
        pfn,
      );
    }
    if (f.ref[id] !== 1) {
      throw new MemError(
        "FOLIO_PINNED",
        `Cannot migrate pfn ${hex(pfn)}: refcount ${f.ref[id]} holds ${f.pins[id]} pin(s) and ${f.gets[id]} extra reference(s)`,
        pfn,
      );
    }
  }

  /** Moves folio `from` into the already allocated folio `to` of the same order (the core of migration). */
  moveFolio(from: number, to: number): void {
    const f = this.folios;
    f.flags[to] =
      (f.flags[from] & ~(FolioFlag.POOL_FREE | FolioFlag.DEVICE)) | (f.flags[to] & FolioFlag.DEVICE);
    f.owner[to] = f.owner[from];
    f.index[to] = f.index[from];
    f.mapcount[to] = f.mapcount[from];
    this.data.copyFrame(f.head[from], f.head[to], f.npages(from));
    const client = this.owners[f.owner[from]];
    if (client) client.folioMoved(from, to);
    f.mapcount[from] = 0;
    f.ref[from] = 0;
    this.releaseFrames(from);
  }

  /**
   * Takes a free hugetlb folio from the pool (refcount 0 -> 1). O(1).
   * @throws MemError HUGETLB_EMPTY when the pool has none left.
   */
  allocHugetlb(size: HugeSize, owner = -1, index = 0): number {
    const id = this.hugetlbFree[size].pop();
    if (id === undefined)
      throw new MemError("HUGETLB_EMPTY", `Cannot allocate a ${size} hugetlb page: the pool is empty`);
    const f = this.folios;
    f.flags[id] = FolioFlag.HUGETLB;
    f.ref[id] = 1;
    f.owner[id] = owner;
    f.index[id] = index;
    return id;
  }

  /**
   * Adds one folio to a hugetlb pool (boot-time reservation). O(2^order) frame-map fill.
   * `placement`: "unmovable" (ZONE_NORMAL/DMA32 outside CMA, the default), "movable" (ZONE_MOVABLE:
   * pool pages allocated with htlb_alloc_mask's __GFP_MOVABLE when movablecore= exists) or "cma"
   * (CMA pageblocks first: hugetlb_cma= for gigantic pages, CMA fallback for movable ones).
   * @throws MemError NOMEM when no suitably aligned free memory is left.
   */
  addHugetlb(size: HugeSize, placement: HugetlbPlacement = "unmovable"): number {
    const opts: AllocOptions =
      placement === "movable"
        ? { movable: true, zones: [Zone.MOVABLE] }
        : placement === "cma"
          ? { cma: true, zones: [Zone.NORMAL, Zone.DMA32] }
          : { movable: false, zones: [Zone.NORMAL, Zone.DMA32] };
    const id = this.allocFolio(size === "1G" ? ORDER_1G : ORDER_2M, opts);
    this.folios.flags[id] = FolioFlag.HUGETLB | FolioFlag.POOL_FREE;
    this.folios.ref[id] = 0;
    this.hugetlbFree[size].push(id);
    this.hugetlbTotal[size]++;
    return id;
  }

  /**
   * Creates a ZONE_DEVICE pgmap (memremap_pages) after the subsection and overlap rules. O(subsections).
   * @throws RangeError for bad ranges or provider; MemError PGMAP_UNALIGNED / PGMAP_OVERLAP with the
   *   reason, NO_ZONE_DEVICE when the spec's zoneDevice is false.
   */
  addPgmap(spec: PgmapSpec): Pgmap {
    if (this.spec.zoneDevice === false) {
      throw new MemError(
        "NO_ZONE_DEVICE",
        `Cannot create ${spec.type} pgmap ${hex(spec.start)}+${hex(spec.size)}: this architecture has no ZONE_DEVICE (memremap_pages)`,
      );
    }
    checkPgmapAlignment(spec);
    const provider = spec.provider ?? 0;
    if (
      !Number.isInteger(provider) ||
      provider < 0 ||
      provider > 0xffff ||
      (spec.type === "PCI_P2PDMA") !== provider > 0
    ) {
      throw new RangeError(
        `pgmap provider ${provider} is invalid: PCI_P2PDMA pgmaps need a provider index in 1..0xffff and other types none`,
      );
    }
    const startPfn = spec.start / PAGE_SIZE;
    const npages = spec.size / PAGE_SIZE;
    if (this.sections.anyPresent(startPfn, npages)) {
      throw new MemError(
        "PGMAP_OVERLAP",
        `Cannot create ${spec.type} pgmap ${hex(spec.start)}+${hex(spec.size)}: a subsection of it already holds RAM or another pgmap`,
        startPfn,
      );
    }
    if (spec.type !== "PCI_P2PDMA")
      this.iomem.insert(spec.start, spec.size, spec.name ?? `${spec.type.toLowerCase()} memory`);
    this.sections.mark(startPfn, npages, SubKind.DEVICE, 0, false);
    const pg: Pgmap = {
      id: this.pgmaps.length,
      type: spec.type,
      startPfn,
      npages,
      owner: spec.owner ?? 0,
      provider,
      inUse: new Uint8Array(npages),
    };
    this.pgmaps.push(pg);
    return pg;
  }

  /** The pgmap holding frame `pfn`, or undefined. O(pgmaps). */
  pgmapOf(pfn: number): Pgmap | undefined {
    return this.pgmaps.find((p) => pfn >= p.startPfn && pfn < p.startPfn + p.npages);
  }

  /**
   * Creates a device folio of 2^order frames in pgmap `pgmapId`, at frame `pfn` or first-fit when
   * `pfn` is omitted. Refcount 1. O(npages of the pgmap) for first-fit, O(2^order) otherwise.
   * @throws RangeError for a pgmap id that names no pgmap or an order outside 0..ORDER_1G;
   *   MemError NOMEM (no free aligned run) or DEVICE_BUSY (the frames are in use).
   */
  allocDeviceFolio(pgmapId: number, order: number, opts: AllocOptions & { pfn?: number } = {}): number {
    if (!Number.isInteger(pgmapId) || pgmapId < 0 || pgmapId >= this.pgmaps.length)
      throw new RangeError(
        `pgmap id ${pgmapId} is invalid: ${this.pgmaps.length === 0 ? "no pgmap was added" : `expected 0..${this.pgmaps.length - 1}`}`,
      );
    if (!Number.isInteger(order) || order < 0 || order > ORDER_1G)
      throw new RangeError(
        `order ${order} is invalid: expected 0..${ORDER_1G} (a device folio is at most PUD-sized)`,
      );
    const pg = this.pgmaps[pgmapId];
    const n = 2 ** order;
    let off = -1;
    if (opts.pfn !== undefined) {
      off = opts.pfn - pg.startPfn;
      if (off < 0 || off % n || off + n > pg.npages || pg.inUse.subarray(off, off + n).some((x) => x !== 0)) {
        throw new MemError(
          "DEVICE_BUSY",
          `Cannot use device frames at pfn ${hex(opts.pfn)}: in use or outside the pgmap`,
          opts.pfn,
        );
      }
    } else {
      for (let o = 0; o + n <= pg.npages && off < 0; o += n)
        if (pg.inUse.subarray(o, o + n).every((x) => x === 0)) off = o;
      if (off < 0)
        throw new MemError(
          "NOMEM",
          `Cannot allocate an order-${order} folio from ${pg.type} pgmap ${pgmapId}`,
        );
    }
    pg.inUse.fill(1, off, off + n);
    const f = this.folios;
    const id = f.add(pg.startPfn + off, order);
    f.zone[id] = Zone.DEVICE;
    f.mt[id] = MigrateType.MOVABLE;
    f.flags[id] = (opts.flags ?? 0) | FolioFlag.DEVICE;
    f.ref[id] = 1;
    f.owner[id] = opts.owner ?? -1;
    f.index[id] = opts.index ?? 0;
    f.pgmap[id] = pgmapId + 1;
    return id;
  }

  /** pfn_to_page() and what the model knows about the frame. O(MAX_ORDER + pgmaps). */
  pfnToPage(pfn: number): PageInfo {
    const valid = this.sections.pfnValid(pfn);
    const id = valid ? this.folios.folioOfPfn(pfn) : -1;
    const f = this.folios;
    const pg = valid ? this.pgmapOf(pfn) : undefined;
    const info: PageInfo = {
      pfn,
      valid,
      state: "hole",
      zone: pg ? Zone.DEVICE : pfn < DMA32_END_PFN ? Zone.DMA32 : Zone.NORMAL,
      node: 0,
      folio: id,
      head: -1,
      order: 0,
      refcount: 0,
      pincount: 0,
      migratetype: MigrateType.MOVABLE,
      pgmap: pg ? pg.id : -1,
    };
    if (id >= 0) {
      Object.assign(info, {
        state: "folio",
        zone: f.zone[id],
        node: f.node[id],
        head: f.head[id],
        order: f.order[id],
        refcount: f.ref[id],
        pincount: f.pincount[id],
        migratetype: f.mt[id],
      });
      return info;
    }
    if (pg) info.state = "device";
    else if (valid) {
      const a = this.areas.find((x) => x.isFree(pfn));
      if (a)
        Object.assign(info, {
          state: "free",
          zone: a.zone,
          node: a.node,
          migratetype: a.cma ? MigrateType.CMA : 1,
        });
    }
    return info;
  }

  /** Reads physical bytes (data mode; untouched memory reads as zero). @throws RangeError */
  readPhys(addr: number, len: number): Uint8Array {
    return this.data.readPhys(addr, len);
  }

  /** Writes physical bytes (data mode). @throws RangeError */
  writePhys(addr: number, bytes: Uint8Array): void {
    this.data.writePhys(addr, bytes);
  }

  /**
   * The shared zero page (ZERO_PAGE(0), is_zero_folio()): a kernel-owned order-0 folio that read
   * faults of private anonymous memory map (mm/memory.c do_anonymous_page) and that FOLL_PIN never
   * pins (mm/gup.c try_grab_folio). The kernel's lives in the kernel image; the model allocates it
   * from the buddy allocator on first use (docs/kernel-fidelity.md). O(1) after the first call.
   * @throws MemError NOMEM when no frame is free on the first call.
   */
  zeroFolioId(): number {
    if (this.zeroFolio < 0) {
      this.zeroFolio = this.allocFolio(0, {
        movable: false,
        zones: [Zone.NORMAL, Zone.DMA32],
        flags: FolioFlag.KERNEL,
      });
    }
    return this.zeroFolio;
  }

  /**
   * Frees the frames of folio `id` (whose references are gone) to the buddy allocator, or to the
   * isolated free store when one of its pageblocks is isolated (isolation.ts). O(MAX_ORDER + 2^order).
   */
  freeToBuddy(id: number): void {
    const f = this.folios;
    const pfn = f.head[id];
    const order = f.order[id];
    const ai = this.areaIndex(f.node[id], f.zone[id], f.mt[id] === MigrateType.CMA);
    f.remove(id);
    const n = 2 ** order;
    if (this.isolatedBlocks.size > 0) {
      for (let b = Math.floor(pfn / PAGEBLOCK_PAGES); b * PAGEBLOCK_PAGES < pfn + n; b++) {
        if (this.isolatedBlocks.has(b)) {
          this.isolatedFree.push(pfn, n, ai);
          return;
        }
      }
    }
    const area = this.areas[ai];
    if (order > MAX_ORDER) {
      for (let p = pfn; p < pfn + n; p += 2 ** MAX_ORDER) area.free(p, MAX_ORDER);
    } else area.free(pfn, order);
  }

  /** Verifies every memory invariant (check.ts checkMemory). @throws Error naming the broken invariant. */
  checkValid(): void {
    checkMemory(this);
  }

  /** Digest of the whole memory state, independent of folio ids and list order (check.ts memoryDigest). */
  digest(): string {
    return memoryDigest(this);
  }

  /** Adds frames [s, e) of node n to DMA32/NORMAL areas (split at 4 GiB). */
  private addRam(s: number, e: number, n: number, cma: boolean): void {
    const mid = Math.min(Math.max(s, DMA32_END_PFN), e);
    if (mid > s) this.area(n, Zone.DMA32, cma).addRange(s, mid - s);
    if (e > mid) this.area(n, Zone.NORMAL, cma).addRange(mid, e - mid);
  }

  private allocFrames(order: number, opts: AllocOptions): [number, number] {
    const movable = opts.movable !== false || opts.cma === true;
    const zones =
      opts.zones ?? (movable ? [Zone.MOVABLE, Zone.NORMAL, Zone.DMA32] : [Zone.NORMAL, Zone.DMA32]);
    const first = Math.min(opts.node ?? 0, this.nodeCount - 1);
    const kinds = opts.cma ? [true, false] : movable ? [false, true] : [false];
    for (const z of zones) {
      if (z === Zone.MOVABLE && !movable) continue;
      for (let i = 0; i < this.nodeCount; i++) {
        const node = (first + i) % this.nodeCount;
        for (const c of kinds) {
          const ai = this.areaIndex(node, z, c);
          const a = this.areas[ai];
          const pfn = order > MAX_ORDER ? a.allocContig(2 ** order) : a.alloc(order);
          if (pfn >= 0) return [pfn, ai];
        }
      }
    }
    return [-1, -1];
  }

  /** Frees a folio's frames whose refcount reached zero. */
  private releaseFrames(id: number): void {
    const f = this.folios;
    if (f.flags[id] & FolioFlag.HUGETLB) {
      const size: HugeSize = f.order[id] === ORDER_1G ? "1G" : "2M";
      f.flags[id] = FolioFlag.HUGETLB | FolioFlag.POOL_FREE;
      f.owner[id] = -1;
      f.mapcount[id] = 0;
      this.hugetlbFree[size].push(id);
      return;
    }
    const pfn = f.head[id];
    const order = f.order[id];
    if (f.pgmap[id]) {
      const pg = this.pgmaps[f.pgmap[id] - 1];
      pg.inUse.fill(0, pfn - pg.startPfn, pfn - pg.startPfn + 2 ** order);
      f.remove(id);
      return;
    }
    this.freeToBuddy(id);
  }
}
