/**
 * A file's page cache: folios indexed by page offset, shared by every address space that maps the
 * file. Migration of a cached folio repoints every mapping (the rmap walk of mm/rmap.c). A file
 * made with `{ hugetlb }` is a hugetlbfs memfd (memfd_create MFD_HUGETLB): its folios come from
 * that hugetlb pool, one per 2 MiB or 1 GiB of the file.
 */
import { PAGE_SIZE } from "../core/index.js";
import type { HugeSize, MachineMemory, MigrationClient } from "../mem/index.js";
import { FolioFlag } from "../mem/index.js";

/** Something that maps a file and can repoint its page-table entries. */
export interface FileMapper {
  /** Repoints every mapping of file page `index` from `oldPfn` to `newPfn`. */
  repointFile(file: MappedFile, index: number, oldPfn: number, newPfn: number): void;
}

/** A file with a page cache. Costs: lookup/insert O(1). */
export class MappedFile implements MigrationClient {
  /** Folio-aligned page index -> folio id. */
  readonly cache = new Map<number, number>();
  /** Pages per folio: 1, or 512 / 262,144 for a hugetlb memfd. */
  readonly folioPages: number;
  /** The hugetlb page size of a hugetlbfs memfd, or undefined for an ordinary file. */
  readonly hugetlb: HugeSize | undefined;
  /** Address spaces that map this file. */
  readonly mappers = new Set<FileMapper>();
  /** Owner id of the page-cache folios. */
  readonly ownerId: number;

  /** @throws RangeError for an unknown hugetlb size. */
  constructor(
    readonly mem: MachineMemory,
    readonly name: string,
    opts: { hugetlb?: HugeSize } = {},
  ) {
    if (opts.hugetlb !== undefined && opts.hugetlb !== "2M" && opts.hugetlb !== "1G")
      throw new RangeError(`hugetlb size ${String(opts.hugetlb)} is invalid: expected "2M" or "1G"`);
    this.hugetlb = opts.hugetlb;
    this.folioPages = opts.hugetlb === "1G" ? 262144 : opts.hugetlb === "2M" ? 512 : 1;
    this.ownerId = mem.registerOwner(this);
  }

  /**
   * The page-cache folio holding page `index`, read in (allocated; for a hugetlb memfd taken from
   * the pool) on first use. O(1) plus allocation.
   * @throws MemError NOMEM or HUGETLB_EMPTY.
   */
  getPage(index: number, policy = {}): number {
    const base = index - (index % this.folioPages);
    let id = this.cache.get(base);
    if (id === undefined) {
      id = this.hugetlb
        ? this.mem.allocHugetlb(this.hugetlb, this.ownerId, base * PAGE_SIZE)
        : this.mem.allocFolio(0, {
            ...policy,
            flags: FolioFlag.FILE,
            owner: this.ownerId,
            index: base * PAGE_SIZE,
          });
      this.cache.set(base, id);
    }
    return id;
  }

  /** Migration hook: update the cache and every mapping of every page of the folio. */
  folioMoved(oldId: number, newId: number): void {
    const f = this.mem.folios;
    const index = f.index[newId] / PAGE_SIZE;
    this.cache.set(index, newId);
    for (const m of this.mappers) {
      for (let i = 0; i < this.folioPages; i++)
        m.repointFile(this, index + i, f.head[oldId] + i, f.head[newId] + i);
    }
  }
}
