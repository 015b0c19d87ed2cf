/**
 * A file's page cache: folios indexed by page offset, shared by every address space that maps the
 * file. Migration of a cached folio repoints every mapping (the rmap walk of mm/rmap.c).
 */
import type { MachineMemory, MigrationClient } from "../mem/index.js";
import { FolioFlag } from "../mem/index.js";

/** Something that maps a file and can repoint its page-table entries. */
export interface FileMapper {
  /** Repoints every mapping of file page `index` from `oldPfn` to `newPfn`. */
  repointFile(file: MappedFile, index: number, oldPfn: number, newPfn: number): void;
}

/** A file with a page cache. Costs: lookup/insert O(1). */
export class MappedFile implements MigrationClient {
  /** Page index -> folio id. */
  readonly cache = new Map<number, number>();
  /** Address spaces that map this file. */
  readonly mappers = new Set<FileMapper>();
  /** Owner id of the page-cache folios. */
  readonly ownerId: number;

  constructor(
    readonly mem: MachineMemory,
    readonly name: string,
  ) {
    this.ownerId = mem.registerOwner(this);
  }

  /**
   * The page-cache folio of page `index`, read in (allocated) on first use. O(1) plus allocation.
   * @throws MemError NOMEM.
   */
  getPage(index: number, policy = {}): number {
    let id = this.cache.get(index);
    if (id === undefined) {
      id = this.mem.allocFolio(0, {
        ...policy,
        flags: FolioFlag.FILE,
        owner: this.ownerId,
        index: index * 4096,
      });
      this.cache.set(index, id);
    }
    return id;
  }

  /** Migration hook: update the cache and every mapping. */
  folioMoved(oldId: number, newId: number): void {
    const f = this.mem.folios;
    const index = f.index[newId] / 4096;
    this.cache.set(index, newId);
    for (const m of this.mappers) m.repointFile(this, index, f.head[oldId], f.head[newId]);
  }
}
