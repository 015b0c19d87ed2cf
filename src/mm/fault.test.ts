import { describe, expect, it } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { type MemError, PinFailed } from "../core/index.js";
import { FolioFlag, MachineMemory } from "../mem/index.js";
import {
  AddressSpace,
  MappedFile,
  type MmapSpec,
  PteFlag,
  pinUserRange,
  pteFlags,
  ptePfn,
  type ThpPolicy,
  unpinPhyrs,
} from "./index.js";

const BASE = 2 ** 40; // 1 GiB aligned
const BAR = 0x380000000; // 14 GiB: 1 GiB aligned

function machine(): MachineMemory {
  return new MachineMemory({
    nodes: [{ start: 0, size: 2 * GiB }],
    hugetlb: { pages2M: 2, pages1G: 1 },
    pmem: [{ start: 8 * GiB, size: 64 * MiB, type: "GENERIC" }],
    seed: 1,
  });
}

describe("demand faults: leaf size by VMA kind and THP policy (mm/memory.c, mm/huge_memory.c)", () => {
  // [name, THP policy, mmap spec (start defaults to BASE), fault offset, leaf bytes, folio flags or "special"]
  // Expected sizes follow the rules: anon THP only with "always", or "madvise" + MADV_HUGEPAGE, and
  // only when the aligned 2 MiB lies inside the VMA; file pages 4 KiB; hugetlb its page size;
  // DAX 2 MiB when VMA and pgmap offset are 2 MiB aligned; PFNMAP the largest of 1G/2M/4K that
  // both VA and BAR address alignments allow.
  const rows: [string, ThpPolicy, MmapSpec, number, number, number | "special"][] = [
    ["anon, never", "never", { kind: "anon", len: 4 * MiB }, 0x1000, 4096, FolioFlag.ANON],
    [
      "anon, never, MADV_HUGEPAGE",
      "never",
      { kind: "anon", len: 4 * MiB, hugepage: true },
      0,
      4096,
      FolioFlag.ANON,
    ],
    [
      "anon, madvise without MADV_HUGEPAGE",
      "madvise",
      { kind: "anon", len: 4 * MiB },
      0,
      4096,
      FolioFlag.ANON,
    ],
    [
      "anon, madvise + MADV_HUGEPAGE",
      "madvise",
      { kind: "anon", len: 4 * MiB, hugepage: true },
      0x1000,
      2 * MiB,
      FolioFlag.ANON | FolioFlag.THP,
    ],
    [
      "anon, always",
      "always",
      { kind: "anon", len: 4 * MiB },
      3 * MiB,
      2 * MiB,
      FolioFlag.ANON | FolioFlag.THP,
    ],
    // VMA [BASE+4K, BASE+2M+4K): no aligned 2 MiB fits inside it.
    [
      "anon, always, VMA too small for an aligned 2 MiB",
      "always",
      { kind: "anon", len: 2 * MiB, start: BASE + 4096 },
      0,
      4096,
      FolioFlag.ANON,
    ],
    ["file (page cache)", "always", { kind: "file", len: 4 * MiB }, 0x5000, 4096, FolioFlag.FILE],
    ["hugetlb 2M", "never", { kind: "hugetlb", len: 4 * MiB }, 0x3000, 2 * MiB, FolioFlag.HUGETLB],
    ["hugetlb 1G", "never", { kind: "hugetlb", hugeSize: "1G", len: GiB }, 5 * MiB, GiB, FolioFlag.HUGETLB],
    [
      "DAX, 2 MiB aligned",
      "never",
      { kind: "dax", pgmap: 0, len: 4 * MiB },
      0x1000,
      2 * MiB,
      FolioFlag.DEVICE,
    ],
    [
      "DAX, offset 4 KiB into the pgmap",
      "never",
      { kind: "dax", pgmap: 0, len: 4 * MiB, offset: 4096 },
      0,
      4096,
      FolioFlag.DEVICE,
    ],
    [
      "PFNMAP, BAR 1 GiB aligned",
      "never",
      { kind: "pfnmap", len: GiB, phys: BAR, provider: 1 },
      0x1000,
      GiB,
      "special",
    ],
    [
      "PFNMAP, BAR 2 MiB aligned",
      "never",
      { kind: "pfnmap", len: GiB, phys: BAR + 2 * MiB, provider: 1 },
      0,
      2 * MiB,
      "special",
    ],
    [
      "PFNMAP, BAR 4 KiB aligned",
      "never",
      { kind: "pfnmap", len: 4 * MiB, phys: BAR + 4096, provider: 1 },
      0,
      4096,
      "special",
    ],
  ];
  for (const [name, thp, spec, off, size, flags] of rows) {
    it(`${name} -> ${size / 1024} KiB leaf`, () => {
      const mem = machine();
      const mm = new AddressSpace(mem, { thp });
      const file = spec.kind === "file" ? new MappedFile(mem, "f") : undefined;
      const v = mm.mmap({ start: BASE, file, ...spec });
      mm.fault(v.start + off, true);
      const e = mm.pt.lookup(v.start + off);
      expect(mm.pt.lastSize).toBe(size);
      expect(mm.pt.lastBase % size).toBe(0);
      if (flags === "special") {
        expect(pteFlags(e) & PteFlag.SPECIAL).toBe(PteFlag.SPECIAL);
        // The leaf maps the BAR frame the VMA dictates: phys + (leaf VA - VMA start).
        expect(ptePfn(e) * 4096).toBe(spec.phys! + mm.pt.lastBase - v.start);
        expect(mem.folios.folioOfPfn(ptePfn(e))).toBe(-1);
      } else {
        const id = mem.folios.folioOfPfn(ptePfn(e));
        expect(mem.folios.npages(id) * 4096).toBe(size);
        expect(mem.folios.flags[id] & ~FolioFlag.DIRTY).toBe(flags);
      }
      mem.checkValid();
      mm.checkValid();
    });
  }

  it("anon THP falls back to 4 KiB when no order-9 block is free", () => {
    // 8 MiB = 2048 frames = four order-9 blocks: take all four, give one back and split it by
    // taking one frame, so 511 frames are free but no order-9 block is.
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 8 * MiB }] });
    const blocks = [0, 1, 2, 3].map(() => mem.allocFolio(9, { movable: false }));
    mem.putFolio(blocks[0]);
    mem.allocFolio(0, { movable: false });
    expect(mem.freePages).toBe(511);
    const mm = new AddressSpace(mem, { thp: "always" });
    const v = mm.mmap({ kind: "anon", len: 2 * MiB });
    mm.fault(v.start);
    mm.pt.lookup(v.start);
    expect(mm.pt.lastSize).toBe(4096);
    mem.checkValid();
    mm.checkValid();
  });

  it("a file page is one page-cache folio shared by every address space; migration repoints both", () => {
    const mem = machine();
    const file = new MappedFile(mem, "data");
    const p = new AddressSpace(mem);
    const q = new AddressSpace(mem);
    const vp = p.mmap({ kind: "file", file, len: 16 * 4096 });
    const vq = q.mmap({ kind: "file", file, len: 8 * 4096, offset: 4 * 4096, write: false });
    p.fault(vp.start + 5 * 4096, true);
    q.fault(vq.start + 1 * 4096); // file page 4 + 1 = 5
    const pfn = ptePfn(p.pt.lookup(vp.start + 5 * 4096));
    expect(ptePfn(q.pt.lookup(vq.start + 4096))).toBe(pfn);
    expect(pteFlags(q.pt.lookup(vq.start + 4096)) & PteFlag.WRITE).toBe(0);
    const id = mem.folios.folioOfPfn(pfn);
    expect(file.cache.get(5)).toBe(id);
    const to = mem.migrateFolio(id);
    const now = mem.folios.head[to];
    expect(now).not.toBe(pfn);
    expect(ptePfn(p.pt.lookup(vp.start + 5 * 4096))).toBe(now);
    expect(ptePfn(q.pt.lookup(vq.start + 4096))).toBe(now);
    const list = pinUserRange(q, vq.start + 4096, 4096);
    expect(list.entry(0).addr).toBe(now * 4096);
    unpinPhyrs(q, list);
    mem.checkValid();
    p.checkValid();
    q.checkValid();
  });

  it("device-private pages: migrated to a device, unreachable by the CPU, faulted back to RAM", () => {
    const mem = machine();
    const pg = mem.addPgmap({ type: "PRIVATE", start: 64 * GiB, size: 2 * MiB, owner: 5 });
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 3 * 4096 });
    mm.populate(v.start, 3 * 4096, true);
    const pinned = pinUserRange(mm, v.start + 2 * 4096, 4096);
    // migrate_vma skips the pinned page (refcount above the owner's).
    expect(mm.migrateToDevice(v.start, 3 * 4096, pg.id)).toBe(2);
    const e = mm.pt.lookup(v.start);
    expect(pteFlags(e) & (PteFlag.PRESENT | PteFlag.DEVPRIV)).toBe(PteFlag.DEVPRIV);
    expect(ptePfn(e)).toBeGreaterThanOrEqual((64 * GiB) / 4096);
    expect(() => pinUserRange(mm, v.start, 4096)).toThrow(PinFailed);
    mm.fault(v.start);
    expect(pteFlags(mm.pt.lookup(v.start)) & PteFlag.PRESENT).toBe(PteFlag.PRESENT);
    expect(ptePfn(mm.pt.lookup(v.start)) * 4096).toBeLessThan(2 * GiB);
    expect(() => mm.migrateToDevice(v.start, 4096, 0)).toThrow(/PRIVATE or COHERENT/);
    unpinPhyrs(mm, pinned);
    mem.checkValid();
    mm.checkValid();
  });

  it("faults outside a VMA or writes to a read-only VMA are SEGV, state unchanged", () => {
    const mem = machine();
    const mm = new AddressSpace(mem);
    const ro = mm.mmap({ kind: "anon", len: 4096, write: false });
    const before = mem.digest() + mm.digest();
    for (const [va, w] of [
      [ro.end, false],
      [ro.start, true],
    ] as const) {
      let err: unknown;
      try {
        mm.fault(va, w);
      } catch (x) {
        err = x;
      }
      expect((err as MemError).code).toBe("FAULT_SEGV");
    }
    expect(mem.digest() + mm.digest()).toBe(before);
  });
});
