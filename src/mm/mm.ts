/**
 * AddressSpace: a process's memory map (struct mm_struct) — VMAs, a 4-level page table, demand
 * faults, and migration of its folios (as a {@link MigrationClient}).
 *
 * Fault sizes (mm/memory.c, mm/huge_memory.c): anonymous memory gets a 2 MiB THP when the policy
 * is "always", or "madvise" and the VMA has MADV_HUGEPAGE, and the aligned 2 MiB lies inside the
 * VMA with no 4 KiB PTE table there yet (falling back to 4 KiB when no order-9 block is free);
 * file mappings get 4 KiB page-cache folios; hugetlb the VMA's huge page size; DAX 2 MiB when the
 * VMA and the pgmap frames are 2 MiB aligned, else 4 KiB; PFNMAP the largest of 1 GiB / 2 MiB /
 * 4 KiB that VA and physical alignment allow (huge pfnmap, vfio-pci since 6.12).
 */
import { alignDown, checkLen, checkRange, hex, MemError, ORDER_2M, PAGE_SIZE, SZ_2M } from "../core/index.js";
import { FolioFlag, type MachineMemory, type MigrationClient, Zone } from "../mem/index.js";
import { addressSpaceDigest, checkAddressSpace } from "./check.js";
import type { FileMapper, MappedFile } from "./file.js";
import { PageTable, PteFlag, pteFlags, ptePfn, VA_LIMIT } from "./pagetable.js";
import type { MmapSpec, ThpPolicy, Vma } from "./vma.js";

/** Options of an address space. */
export interface AddressSpaceOptions {
  /** THP policy. Default "madvise". */
  thp?: ThpPolicy;
  /**
   * Map the shared zero page on read faults of private anonymous memory that get no THP, as
   * mm/memory.c do_anonymous_page does (mm_forbids_zeropage false); a later write fault replaces it
   * with a private page (wp_page_copy). Default false: read faults allocate a page, which keeps the
   * reference machine's layout stable (docs/kernel-fidelity.md).
   */
  zeroPage?: boolean;
}

/** First address handed out when mmap is given no start. */
const MMAP_BASE = 2 ** 40;

/** A process address space. */
export class AddressSpace implements MigrationClient, FileMapper {
  /** VMAs sorted by start. */
  readonly vmas: Vma[] = [];
  /** The page table. */
  readonly pt = new PageTable();
  /** Owner id of this space's anonymous, hugetlb and DAX folios. */
  readonly id: number;
  readonly thp: ThpPolicy;
  /** Whether read faults map the shared zero page ({@link AddressSpaceOptions.zeroPage}). */
  readonly zeroPage: boolean;
  /** mm->locked_vm in pages: memory charged against RLIMIT_MEMLOCK (VFIO type1, iommufd in MM mode). */
  lockedVm = 0;
  private nextVa = MMAP_BASE;

  constructor(
    readonly mem: MachineMemory,
    opts: AddressSpaceOptions = {},
  ) {
    this.id = mem.registerOwner(this);
    this.thp = opts.thp ?? "madvise";
    this.zeroPage = opts.zeroPage ?? false;
  }

  /**
   * Creates a VMA (mmap). Nothing is faulted in. O(VMAs).
   * @returns the VMA.
   * @throws RangeError/TypeError for bad lengths, alignment, overlaps or missing backing.
   */
  mmap(spec: MmapSpec): Vma {
    checkLen("mmap length", spec.len);
    const hugeSize = spec.hugeSize ?? "2M";
    const align = spec.kind === "hugetlb" ? (hugeSize === "1G" ? 2 ** 30 : SZ_2M) : PAGE_SIZE;
    if (spec.len % align)
      throw new RangeError(`mmap length ${hex(spec.len)} is invalid: not a multiple of ${hex(align)}`);
    const start = spec.start ?? Math.ceil(this.nextVa / 2 ** 30) * 2 ** 30;
    checkRange("mmap", start, spec.len);
    if (start % align || start + spec.len > VA_LIMIT) {
      throw new RangeError(
        `mmap start ${hex(start)} is invalid: not ${hex(align)} aligned or beyond the 47-bit user space`,
      );
    }
    const offset = spec.offset ?? 0;
    if (offset % PAGE_SIZE) throw new RangeError(`mmap offset ${hex(offset)} is invalid: not page aligned`);
    for (const v of this.vmas) {
      if (start < v.end && v.start < start + spec.len) {
        throw new RangeError(
          `mmap ${hex(start)}+${hex(spec.len)} is invalid: it overlaps the VMA at ${hex(v.start)}`,
        );
      }
    }
    if (spec.kind === "file" && !spec.file) throw new TypeError("mmap kind file is invalid: no file given");
    if (spec.kind === "dax") {
      const pg = this.mem.pgmaps[spec.pgmap ?? -1];
      if (!pg || pg.type === "PRIVATE" || offset + spec.len > pg.npages * PAGE_SIZE) {
        throw new RangeError(
          `mmap dax pgmap ${spec.pgmap} is invalid: missing, device-private, or smaller than the mapping`,
        );
      }
    }
    if (spec.kind === "pfnmap") {
      checkRange("pfnmap BAR", spec.phys ?? -1, spec.len);
      if ((spec.phys ?? 0) % PAGE_SIZE)
        throw new RangeError(`pfnmap phys ${hex(spec.phys!)} is invalid: not page aligned`);
      const p = spec.provider ?? 0;
      if (!Number.isInteger(p) || p < 1 || p > 0xffff) {
        throw new RangeError(`pfnmap provider ${p} is invalid: expected a P2P provider index in 1..0xffff`);
      }
    }
    const vma: Vma = {
      start,
      end: start + spec.len,
      kind: spec.kind,
      write: spec.write ?? true,
      hugepage: spec.hugepage ?? false,
      hugeSize,
      file: spec.file,
      offset,
      pgmap: spec.pgmap ?? -1,
      phys: spec.phys ?? 0,
      provider: spec.provider ?? 0,
      policy: spec.policy ?? {},
    };
    this.vmas.push(vma);
    this.vmas.sort((a, b) => a.start - b.start);
    this.nextVa = Math.max(this.nextVa, vma.end);
    if (vma.file) vma.file.mappers.add(this);
    return vma;
  }

  /** The VMA containing `va`, or undefined. O(log VMAs). */
  findVma(va: number): Vma | undefined {
    let lo = 0;
    let hi = this.vmas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.vmas[mid];
      if (va < v.start) hi = mid - 1;
      else if (va >= v.end) lo = mid + 1;
      else return v;
    }
    return undefined;
  }

  /**
   * Handles a fault at `va` (handle_mm_fault): maps a leaf if none is there (the zero page for a
   * read of anonymous memory when {@link zeroPage} is on); a write to the zero page gets a private
   * page; brings a device-private page back to RAM. O(1) plus allocation.
   * @throws MemError FAULT_SEGV (no VMA or a write to a read-only VMA), NOMEM, HUGETLB_EMPTY.
   */
  fault(va: number, write = false): void {
    const vma = this.findVma(va);
    if (!vma || (write && !vma.write)) {
      throw new MemError(
        "FAULT_SEGV",
        `Fault at ${hex(va)}: ${vma ? "write to a read-only VMA" : "no VMA maps it"}`,
      );
    }
    const e = this.pt.lookup(va);
    if (e !== 0 && pteFlags(e) & PteFlag.DEVPRIV) {
      const id = this.mem.folios.folioOfPfn(ptePfn(e));
      this.mem.migrateFolio(id, { ...vma.policy, zones: vma.policy.zones ?? [Zone.NORMAL, Zone.DMA32] });
      return;
    }
    const mem = this.mem;
    const f = mem.folios;
    if (e !== 0) {
      // A write to the shared zero page: wp_page_copy gives the address a private page.
      if (write && mem.zeroFolio >= 0 && ptePfn(e) === f.head[mem.zeroFolio]) {
        const at = alignDown(va, PAGE_SIZE);
        const id = mem.allocFolio(0, { ...vma.policy, flags: FolioFlag.ANON, owner: this.id, index: at });
        this.mapFolio(at, PAGE_SIZE, id, PteFlag.PRESENT | PteFlag.WRITE, f.head[id], true);
      }
      return;
    }
    const prot = PteFlag.PRESENT | (vma.write ? PteFlag.WRITE : 0);
    switch (vma.kind) {
      case "anon": {
        const base = alignDown(va, SZ_2M);
        const thp = this.thp === "always" || (this.thp === "madvise" && vma.hugepage);
        if (thp && base >= vma.start && base + SZ_2M <= vma.end && this.pt.canMapHuge(base, SZ_2M)) {
          const id = this.tryAlloc(ORDER_2M, vma, base, FolioFlag.ANON | FolioFlag.THP);
          if (id >= 0) {
            this.mapFolio(base, SZ_2M, id, prot);
            return;
          }
        }
        const at = alignDown(va, PAGE_SIZE);
        if (!write && this.zeroPage) {
          // do_anonymous_page: a read fault maps the zero page read-only; it is not mapcounted.
          const zero = mem.zeroFolioId(); // first: allocating it may grow the folio table
          this.pt.set(at, PAGE_SIZE, mem.folios.head[zero], PteFlag.PRESENT);
          return;
        }
        const id = mem.allocFolio(0, { ...vma.policy, flags: FolioFlag.ANON, owner: this.id, index: at });
        this.mapFolio(at, PAGE_SIZE, id, prot);
        return;
      }
      case "file": {
        const at = alignDown(va, PAGE_SIZE);
        const index = (at - vma.start + vma.offset) / PAGE_SIZE;
        const id = vma.file!.getPage(index, vma.policy);
        // A 4 KiB leaf at the page's frame inside its (possibly large) folio.
        this.mapFolio(at, PAGE_SIZE, id, prot, f.head[id] + index - f.index[id] / PAGE_SIZE);
        return;
      }
      case "hugetlb": {
        const size = vma.hugeSize === "1G" ? 2 ** 30 : SZ_2M;
        const base = alignDown(va, size);
        this.mapFolio(base, size, mem.allocHugetlb(vma.hugeSize, this.id, base), prot);
        return;
      }
      case "dax": {
        const pg = mem.pgmaps[vma.pgmap];
        const pfnOf = (a: number) => pg.startPfn + (a - vma.start + vma.offset) / PAGE_SIZE;
        const base = alignDown(va, SZ_2M);
        if (
          base >= vma.start &&
          base + SZ_2M <= vma.end &&
          pfnOf(base) % 512 === 0 &&
          this.pt.canMapHuge(base, SZ_2M)
        ) {
          const p = pfnOf(base) - pg.startPfn;
          if (pg.inUse.subarray(p, p + 512).every((x) => x === 0)) {
            const id = mem.allocDeviceFolio(pg.id, ORDER_2M, {
              pfn: pfnOf(base),
              owner: this.id,
              index: base,
            });
            this.mapFolio(base, SZ_2M, id, prot);
            return;
          }
        }
        const at = alignDown(va, PAGE_SIZE);
        const pfn = pfnOf(at);
        const existing = f.folioOfPfn(pfn);
        if (existing >= 0) {
          mem.addMapping(existing);
          this.pt.set(at, PAGE_SIZE, pfn, prot);
          return;
        }
        this.mapFolio(
          at,
          PAGE_SIZE,
          mem.allocDeviceFolio(pg.id, 0, { pfn, owner: this.id, index: at }),
          prot,
        );
        return;
      }
      case "pfnmap": {
        for (const size of [2 ** 30, SZ_2M, PAGE_SIZE]) {
          const base = alignDown(va, size);
          const phys = vma.phys + base - vma.start + vma.offset;
          if (
            base >= vma.start &&
            base + size <= vma.end &&
            phys % size === 0 &&
            this.pt.canMapHuge(base, size)
          ) {
            this.pt.set(base, size, phys / PAGE_SIZE, prot | PteFlag.SPECIAL);
            return;
          }
        }
        return;
      }
    }
  }

  /**
   * Faults in every page of `[va, va+len)` (MAP_POPULATE / touching the memory). O(leaves).
   * @throws as {@link fault}.
   */
  populate(va: number, len: number, write = false): void {
    let a = va;
    while (a < va + len) {
      this.fault(a, write);
      this.pt.lookup(a);
      a = this.pt.lastBase + this.pt.lastSize;
    }
  }

  /**
   * Migrates the order-0 anonymous folios of `[va, va+len)` into a PRIVATE or COHERENT pgmap
   * (migrate_vma_setup/pages/finalize). Pinned or non-anonymous pages are skipped, as
   * migrate_vma does. Device-private pages become non-present device entries. O(pages).
   * @returns the number of pages migrated.
   * @throws RangeError when the pgmap is not PRIVATE or COHERENT; MemError NOMEM.
   */
  migrateToDevice(va: number, len: number, pgmapId: number): number {
    const pg = this.mem.pgmaps[pgmapId];
    if (!pg || (pg.type !== "PRIVATE" && pg.type !== "COHERENT")) {
      throw new RangeError(`migrate pgmap ${pgmapId} is invalid: expected a PRIVATE or COHERENT pgmap`);
    }
    const f = this.mem.folios;
    let moved = 0;
    for (let a = alignDown(va, PAGE_SIZE); a < va + len; a += PAGE_SIZE) {
      const e = this.pt.lookup(a);
      if (e === 0 || this.pt.lastSize !== PAGE_SIZE || pteFlags(e) & (PteFlag.SPECIAL | PteFlag.DEVPRIV))
        continue;
      const id = f.folioOfPfn(ptePfn(e));
      if (!(f.flags[id] & FolioFlag.ANON) || f.pgmap[id] || f.ref[id] !== 1) continue;
      const to = this.mem.allocDeviceFolio(pgmapId, 0, { flags: FolioFlag.ANON, owner: this.id, index: a });
      this.mem.moveFolio(id, to);
      moved++;
    }
    return moved;
  }

  /** Migration hook: repoints the leaf that mapped `oldId` to `newId` (device-private -> non-present entry). */
  folioMoved(oldId: number, newId: number): void {
    const f = this.mem.folios;
    const va = f.index[newId];
    const e = this.pt.lookup(va);
    if (e === 0 || ptePfn(e) !== f.head[oldId])
      throw new Error(`mm: folio ${oldId} is not mapped at ${hex(va)}`);
    const write = pteFlags(e) & PteFlag.WRITE;
    const pg = f.pgmap[newId] ? this.mem.pgmaps[f.pgmap[newId] - 1] : undefined;
    this.pt.replace(
      va,
      f.head[newId],
      pg?.type === "PRIVATE" ? write | PteFlag.DEVPRIV : write | PteFlag.PRESENT,
    );
  }

  /** File hook: repoints this space's mappings of file page `index`. */
  repointFile(file: MappedFile, index: number, oldPfn: number, newPfn: number): void {
    for (const v of this.vmas) {
      if (v.file !== file) continue;
      const va = v.start + index * PAGE_SIZE - v.offset;
      if (va < v.start || va >= v.end) continue;
      const e = this.pt.lookup(va);
      if (e !== 0 && ptePfn(e) === oldPfn) this.pt.replace(va, newPfn, pteFlags(e));
    }
  }

  /** Verifies VMAs, page tables and owned folios agree (check.ts). O(VMAs + leaves + folios). @throws Error */
  checkValid(): void {
    checkAddressSpace(this);
  }

  /** Digest of VMAs and page tables. O(VMAs + leaves). */
  digest(): string {
    return addressSpaceDigest(this);
  }

  private tryAlloc(order: number, vma: Vma, index: number, flags: number): number {
    try {
      return this.mem.allocFolio(order, { ...vma.policy, flags, owner: this.id, index });
    } catch (e) {
      if (e instanceof MemError && e.code === "NOMEM") return -1;
      throw e;
    }
  }

  /**
   * Maps `size` bytes at `va` to folio `id` (from frame `pfn`, default its head; `replace` swaps
   * the leaf already there) and counts the mapping.
   */
  private mapFolio(
    va: number,
    size: number,
    id: number,
    prot: number,
    pfn = this.mem.folios.head[id],
    replace = false,
  ): void {
    if (replace) this.pt.replace(va, pfn, prot);
    else this.pt.set(va, size, pfn, prot);
    this.mem.addMapping(id);
  }
}
