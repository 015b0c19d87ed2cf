/**
 * The address-space invariant checker and digest: VMAs sorted, aligned and disjoint; every leaf
 * inside a VMA of a kind that may hold it, with write permission only where the VMA allows;
 * struct-page leaves point at a live folio whose head and size match the leaf (anonymous, hugetlb
 * and 2 MiB DAX folios exactly; 4 KiB leaves inside their folio); PFNMAP leaves at the BAR frame
 * the VMA dictates; device-private entries at PRIVATE pgmap folios; every folio this space owns is
 * mapped exactly where its index says.
 */
import { hex, PAGE_SIZE } from "../core/index.js";
import { Hash } from "../mem/index.js";
import type { AddressSpace } from "./mm.js";
import { PteFlag, pteFlags, ptePfn } from "./pagetable.js";

/**
 * Verifies every address-space invariant. O(VMAs + leaves + folios).
 * @throws Error naming the first broken invariant with its address.
 */
export function checkAddressSpace(mm: AddressSpace): void {
  let prevEnd = 0;
  for (const v of mm.vmas) {
    if (v.start % PAGE_SIZE || v.end % PAGE_SIZE || v.start >= v.end || v.start < prevEnd) {
      throw new Error(
        `mm: VMA ${hex(v.start)}-${hex(v.end)} is unaligned, empty or overlaps its predecessor`,
      );
    }
    prevEnd = v.end;
  }
  const mem = mm.mem;
  const f = mem.folios;
  const mapped = new Map<number, number>();
  mm.pt.forEachLeaf((va, size, e) => {
    const v = mm.findVma(va);
    const at = () => `mm: leaf ${hex(va)}+${hex(size)}`; // built only on failure
    if (!v || va + size > v.end) throw new Error(`${at()} is not inside one VMA`);
    const fl = pteFlags(e);
    const pfn = ptePfn(e);
    if (fl & PteFlag.WRITE && !v.write) throw new Error(`${at()} is writable in a read-only VMA`);
    if (v.kind === "pfnmap") {
      const want = (v.phys + va - v.start + v.offset) / PAGE_SIZE;
      if (!(fl & PteFlag.SPECIAL) || pfn !== want)
        throw new Error(`${at()}: PFNMAP leaf maps pfn ${hex(pfn)}, expected ${hex(want)}`);
      return;
    }
    const id = f.folioOfPfn(pfn);
    if (id < 0) throw new Error(`${at()}: pfn ${hex(pfn)} belongs to no folio`);
    if (fl & PteFlag.DEVPRIV) {
      if (mem.pgmaps[f.pgmap[id] - 1]?.type !== "PRIVATE")
        throw new Error(`${at()}: device-private entry outside a PRIVATE pgmap`);
    } else if (!(fl & PteFlag.PRESENT))
      throw new Error(`${at()}: entry is neither present nor device-private`);
    const n = size / PAGE_SIZE;
    if (pfn < f.head[id] || pfn + n > f.head[id] + f.npages(id))
      throw new Error(`${at()}: extends beyond folio ${id}`);
    if (f.owner[id] === mm.id) {
      if (f.index[id] !== va || f.head[id] !== pfn || f.npages(id) !== n) {
        throw new Error(`${at()}: folio ${id} (index ${hex(f.index[id])}) is not mapped whole at its index`);
      }
      mapped.set(id, (mapped.get(id) ?? 0) + 1);
    }
    if (v.kind === "hugetlb" && size !== (v.hugeSize === "1G" ? 2 ** 30 : 2 ** 21))
      throw new Error(`${at()}: wrong hugetlb leaf size`);
  });
  f.forEachLive((id) => {
    if (f.owner[id] !== mm.id) return;
    if (mapped.get(id) !== 1 || f.mapcount[id] !== 1) {
      throw new Error(
        `mm: folio ${id} at pfn ${hex(f.head[id])} is owned by this space but mapped ${mapped.get(id) ?? 0} time(s), mapcount ${f.mapcount[id]}`,
      );
    }
  });
}

/**
 * Digest of the address space (VMAs and every leaf). O(VMAs + leaves).
 * @returns 16 hex digits.
 */
export function addressSpaceDigest(mm: AddressSpace): string {
  const h = new Hash();
  for (const v of mm.vmas) {
    h.add(v.start);
    h.add(v.end);
    h.addString(v.kind);
    h.add(v.write ? 1 : 0);
  }
  mm.pt.forEachLeaf((va, size, e) => {
    h.add(va);
    h.add(size);
    h.add(e);
  });
  return h.hex();
}
