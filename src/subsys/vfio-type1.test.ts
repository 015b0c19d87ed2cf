import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { AddressSpace, MappedFile } from "../mm/index.js";
import { buildGuest, GUEST_IOVA } from "../scenarios/index.js";
import type { VfioError } from "./errors.js";
import { IommufdIoas } from "./iommufd.js";
import { IOMMUFD_BATCH_MAX, IOMMUFD_UPAGES_MAX } from "./iommufd-pages.js";
import { VfioType1Container } from "./vfio.js";

const P = 4096;
const BAR = 0x380000000000;

function vm(thp: "never" | "always" = "never") {
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: GiB }],
    seed: 5,
    pciWindows: [{ start: BAR, size: 4 * GiB, name: "PCI Bus 0000:00" }],
  });
  const mm = new AddressSpace(mem, { thp });
  const dom = () => new IommuDomain({ type: "dma", name: "vfio" });
  return { mem, mm, dom };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as VfioError).code;
  }
  return "ok";
}

describe("type1 huge-PFNMAP batching (vaddr_get_pfns: min(npages, epfn - pfn) per follow_fault_pfn)", () => {
  // [BAR offset (sets the leaf size the fault picks), map offset into the VMA, map length,
  //  vaddr_get_pfns calls, iommu_map calls]. Worked from vaddr_get_pfns: each call returns the pfns
  // to the end of the leaf holding vaddr (epfn = (pfn | ~addr_mask >> PAGE_SHIFT) + 1), capped by
  // the pages still wanted; the run continues across calls while pfns stay contiguous and reserved,
  // so the whole BAR range is one iommu_map.
  const rows: [string, number, number, number, number, number][] = [
    ["4 KiB leaves", 0x1000, 0, 2 * MiB, 512, 1],
    ["2 MiB leaves", 2 * MiB, 0, 4 * MiB, 2, 1],
    ["2 MiB leaves, map from 1 MiB in", 2 * MiB, MiB, 2 * MiB, 2, 1],
    ["1 GiB leaf", 0, 0, GiB, 1, 1],
  ];
  for (const [what, barOff, at, len, calls, maps] of rows) {
    test(`${what}: ${calls} call(s), ${maps} iommu_map`, () => {
      const { mem, mm, dom } = vm();
      const vlen = Math.max(len + at, 4 * MiB);
      const v = mm.mmap({
        kind: "pfnmap",
        len: Math.ceil(vlen / GiB) * GiB,
        phys: BAR + barOff,
        provider: 1,
      });
      const d = dom();
      const c = new VfioType1Container(mm, d);
      const st = c.mapDma(v.start + at, GUEST_IOVA, len);
      expect([st.pinCalls, st.pinOps, st.iommuMaps, st.lockedPages]).toEqual([calls, calls, maps, 0]);
      expect(d.iovaToPhys(GUEST_IOVA + len - P)).toBe(BAR + barOff + at + len - P);
      expect(mm.lockedVm).toBe(0);
      expect(c.unmapDma(GUEST_IOVA, len)).toBe(len);
      expect(d.pgtable!.mappedBytes).toBe(0);
      mem.checkValid();
    });
  }
});

describe("type1 pinning of large folios and range unpin (vfio_pin_pages_remote, vfio_unpin_pages_remote)", () => {
  test("THP guest memory: batches of 512, one run and one range unpin per THP", () => {
    // 4 MiB on two THPs that are not physically adjacent (buildGuest interleaves another process):
    // 1,024 pages in 2 batches of 512, 2 runs -> 2 iommu_map; unmap: 2 chunks, each one
    // unpin_user_page_range_dirty_lock (put_valid_unreserved_pfns), 1,024 pages uncharged.
    const g = buildGuest("thp", 4 * MiB, 1);
    const digest = g.mem.digest();
    const d = new IommuDomain({ type: "dma", name: "type1" });
    const c = new VfioType1Container(g.mm, d);
    const st = c.mapDma(g.va, GUEST_IOVA, 4 * MiB);
    expect([st.pinCalls, st.pinOps, st.iommuMaps, st.lockedPages]).toEqual([2, 1024, 2, 1024]);
    expect(g.mm.lockedVm).toBe(1024);
    expect(d.pgtable!.leafCount(2 * MiB)).toBe(2);
    g.mem.checkValid();
    expect(c.unmapDmaStats(GUEST_IOVA, 4 * MiB)).toEqual({
      bytes: 4 * MiB,
      iommuUnmaps: 2,
      unpinCalls: 2,
      unlockedPages: 1024,
    });
    expect(g.mm.lockedVm).toBe(0);
    expect(g.mem.digest()).not.toBe(digest); // the THPs were dirtied by the writable mapping
    g.mem.checkValid();
  });

  test("a mapping holding reserved pfns unpins page by page (dma->has_rsvd: put_pfn)", () => {
    // 4 anon pages followed in VA by 4 BAR pages (4 KiB leaves): the BAR run is reserved, so
    // vfio_unpin_pages_remote takes the put_pfn path for the whole mapping: 8 calls, 4 real unpins.
    const { mem, mm, dom } = vm();
    const a = mm.mmap({ kind: "anon", len: 4 * P });
    mm.mmap({ kind: "pfnmap", start: a.end, len: 4 * P, phys: BAR + 0x1000, provider: 1 });
    mm.populate(a.start, 4 * P, true);
    const digest = mem.digest();
    const c = new VfioType1Container(mm, dom());
    const st = c.mapDma(a.start, GUEST_IOVA, 8 * P, { write: false });
    expect(st.lockedPages).toBe(4);
    const u = c.unmapDmaStats(GUEST_IOVA, 8 * P);
    expect([u.unpinCalls, u.unlockedPages]).toEqual([8, 4]);
    expect(mem.digest()).toBe(digest);
    mem.checkValid();
  });
});

describe("type1 and the zero page (is_invalid_reserved_pfn: PageReserved)", () => {
  test("a read-only MAP_DMA of never-written memory maps the zero page: reserved, uncharged, never unpinned", () => {
    // Read faults map the shared zero page; GUP returns it without a pin; type1 sees PageReserved,
    // so rsvd: one run per page (the pfns repeat), nothing charged, dma->has_rsvd -> put_pfn per
    // page on unmap, which skips it.
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const mm = new AddressSpace(mem, { thp: "never", zeroPage: true });
    const v = mm.mmap({ kind: "anon", len: 4 * P });
    mm.populate(v.start, 4 * P, false);
    const digest = mem.digest();
    const d = new IommuDomain({ type: "dma", name: "vfio" });
    const c = new VfioType1Container(mm, d);
    const st = c.mapDma(v.start, GUEST_IOVA, 4 * P, { write: false });
    expect([st.pinCalls, st.pinOps, st.iommuMaps, st.lockedPages]).toEqual([1, 4, 4, 0]);
    const zero = mem.folios.head[mem.zeroFolio] * P;
    for (let i = 0; i < 4; i++) expect(d.iovaToPhys(GUEST_IOVA + i * P)).toBe(zero);
    expect(mem.digest()).toBe(digest);
    expect(c.unmapDmaStats(GUEST_IOVA, 4 * P)).toEqual({
      bytes: 4 * P,
      iommuUnmaps: 4,
      unpinCalls: 4,
      unlockedPages: 0,
    });
    expect(mem.digest()).toBe(digest);
    mem.checkValid();
  });
});

describe("type1 RLIMIT_MEMLOCK accounting (vfio_lock_acct, mm_lock_acct)", () => {
  test("pages with a struct page are charged; past the limit MAP_DMA is ENOMEM and nothing changes", () => {
    const { mem, mm, dom } = vm();
    const v = mm.mmap({ kind: "anon", len: 16 * P });
    mm.populate(v.start, 16 * P, true);
    const bar = mm.mmap({ kind: "pfnmap", len: 16 * P, phys: BAR + 0x1000, provider: 1 });
    const d = dom();
    const c = new VfioType1Container(mm, d, { memlockLimit: 8 * P });
    expect(c.mapDma(v.start, GUEST_IOVA, 8 * P).lockedPages).toBe(8);
    expect(mm.lockedVm).toBe(8);
    const digest = mem.digest();
    const bytes = d.pgtable!.mappedBytes;
    // locked_vm 8 + 1 > limit 8.
    expect(codeOf(() => c.mapDma(v.start + 8 * P, GUEST_IOVA + 8 * P, P))).toBe("ENOMEM");
    expect(() => c.mapDma(v.start + 8 * P, GUEST_IOVA + 8 * P, P)).toThrow(/RLIMIT_MEMLOCK/);
    expect([mem.digest(), mm.lockedVm, d.pgtable!.mappedBytes, c.dmaCount]).toEqual([digest, 8, bytes, 1]);
    // Reserved pfns (a BAR) are never charged, so they map past the limit.
    expect(c.mapDma(bar.start, GUEST_IOVA + GiB, 16 * P).lockedPages).toBe(0);
    // CAP_IPC_LOCK charges but does not refuse.
    const capped = new VfioType1Container(mm, dom(), { memlockLimit: 8 * P, lockCap: true });
    expect(capped.mapDma(v.start + 8 * P, GUEST_IOVA, 8 * P).lockedPages).toBe(8);
    expect(mm.lockedVm).toBe(16);
    capped.unmapDma(GUEST_IOVA, 8 * P);
    c.unmapDma(GUEST_IOVA, 2 * GiB);
    expect(mm.lockedVm).toBe(0);
    mem.checkValid();
    expect(() => new VfioType1Container(mm, dom(), { memlockLimit: -1 })).toThrow(RangeError);
  });
});

describe("type1 IOVA-range validity (vfio_iommu_iova_dma_valid, checked after EEXIST and ENOSPC)", () => {
  // Default ranges: x86 IOMMU aperture (48-bit IOVA) minus the IOAPIC/MSI window 0xfee00000-0xfeefffff.
  const rows: [string, number, number, string][] = [
    ["below the MSI window", 0xfec00000, MiB, "ok"],
    ["inside the MSI window", 0xfee00000, P, "EINVAL"],
    ["ending inside the MSI window", 0xfed00000, 2 * MiB, "EINVAL"],
    ["just above the MSI window", 0xfef00000, P, "ok"],
    ["ending at the aperture's last page", 2 ** 48 - P, P, "ok"],
    ["beyond the 48-bit aperture", 2 ** 48, P, "EINVAL"],
  ];
  for (const [what, iova, size, want] of rows) {
    test(`${what}: ${want}`, () => {
      const { mem, mm, dom } = vm();
      const v = mm.mmap({ kind: "anon", len: 2 * MiB });
      mm.populate(v.start, 2 * MiB, true);
      const digest = mem.digest();
      const c = new VfioType1Container(mm, dom());
      expect(codeOf(() => c.mapDma(v.start, iova, size))).toBe(want);
      if (want !== "ok") expect([mem.digest(), mm.lockedVm, c.dmaCount]).toEqual([digest, 0, 0]);
    });
  }

  test("an overlap is EEXIST before the range check; explicit and empty range lists", () => {
    const { mm, dom } = vm();
    const v = mm.mmap({ kind: "anon", len: 4 * MiB });
    mm.populate(v.start, 4 * MiB, true);
    const c = new VfioType1Container(mm, dom());
    c.mapDma(v.start, 0xfec00000, MiB);
    expect(codeOf(() => c.mapDma(v.start + MiB, 0xfec00000, 3 * MiB))).toBe("EEXIST");
    const own = new VfioType1Container(mm, dom(), { iovaRanges: [{ start: 0x10000, end: 0x1ffff }] });
    expect(codeOf(() => own.mapDma(v.start, 0x10000, 0x10000))).toBe("ok");
    expect(codeOf(() => own.mapDma(v.start, 0x20000, P))).toBe("EINVAL");
    const any = new VfioType1Container(mm, dom(), { iovaRanges: [] });
    expect(codeOf(() => any.mapDma(v.start, 0xfee00000, P))).toBe("ok");
    expect(() => new VfioType1Container(mm, dom(), { iovaRanges: [{ start: 5, end: 4 }] })).toThrow(
      RangeError,
    );
  });
});

describe("iommufd's kernel pinning path (pfn_reader_user_pin, batch_from_pages, batch_to_domain)", () => {
  test("page-array and pfn_batch sizes come from TEMP_MEMORY_LIMIT", () => {
    expect([IOMMUFD_UPAGES_MAX, IOMMUFD_BATCH_MAX]).toEqual([8192, 5461]);
  });

  // [backing, size, pin_user_pages_fast calls, pages, iommu_map calls, tracking bytes]. Worked by
  // hand: calls = ceil(pages / 8192); one iommu_map per batch entry = per contiguous run (32
  // separate THPs; 2,048 / 10,000 separate 4 KiB pages); tracking = min(pages, 8192) * 8 +
  // min(pages, 5461) * 12.
  const rows: ["thp" | "fragmented", number, number, number, number, number][] = [
    ["thp", 64 * MiB, 2, 16384, 32, 8192 * 8 + 5461 * 12],
    ["fragmented", 8 * MiB, 1, 2048, 2048, 2048 * 8 + 2048 * 12],
    ["fragmented", 10000 * P, 2, 10000, 10000, 8192 * 8 + 5461 * 12],
  ];
  for (const [backing, size, calls, pages, maps, bytes] of rows) {
    test(`${backing} ${size / P} pages: ${calls} pin calls, ${maps} iommu_map; the design maps the same runs`, () => {
      const g = buildGuest(backing, size, 1);
      const digest = g.mem.digest();
      const dk = new IommuDomain({ type: "dma", name: "iommufd kernel" });
      const dd = new IommuDomain({ type: "dma", name: "iommufd design" });
      const k = new IommufdIoas(g.mm, dk, { pinPath: "kernel" });
      const io = new IommufdIoas(g.mm, dd);
      const st = k.map(g.va, GUEST_IOVA, size, { write: false });
      expect([st.pinCalls, st.pinOps, st.iommuMaps, st.trackingBytes, st.lockedPages]).toEqual([
        calls,
        pages,
        maps,
        bytes,
        pages,
      ]);
      const ds = io.map(g.va, GUEST_IOVA, size, { write: false });
      expect(ds.iommuMaps).toBe(maps);
      expect(dk.pgtable!.leafCounts()).toEqual(dd.pgtable!.leafCounts());
      g.mem.checkValid();
      expect(k.unmap(GUEST_IOVA, size)).toBe(size);
      expect(io.unmap(GUEST_IOVA, size)).toBe(size);
      expect(g.mem.digest()).toBe(digest);
    });
  }

  test("a pin that fails leaves nothing pinned or mapped; a PFNMAP range cannot be pinned", () => {
    const { mem, mm, dom } = vm();
    const a = mm.mmap({ kind: "anon", len: 4 * P });
    mm.populate(a.start, 4 * P, true);
    const bar = mm.mmap({ kind: "pfnmap", start: a.end, len: 4 * P, phys: BAR + 0x1000, provider: 1 });
    const d = dom();
    const k = new IommufdIoas(mm, d, { pinPath: "kernel" });
    const digest = mem.digest();
    expect(() => k.map(a.start, GUEST_IOVA, 8 * P)).toThrow(/PFNMAP/);
    expect(() => k.map(bar.end, GUEST_IOVA, P)).toThrow(/outside any VMA/);
    expect([mem.digest(), d.pgtable!.mappedBytes, k.areaCount]).toEqual([digest, 0, 0]);
    expect(() => new IommufdIoas(mm, d, { pinPath: "fast" as "kernel" })).toThrow(RangeError);
  });
});

describe("IOMMU_IOAS_MAP_FILE (iopt_map_file_pages -> memfd_pin_folios, batch_from_folios)", () => {
  test("a 1 GiB hugetlb memfd: 32 calls of 8,192 pages, one folio run, one iommu_map and one 1 GiB leaf", () => {
    // pfn_reader_user_pin caps each call at 8,192 pages (the ufolios array), so 262,144 pages take
    // 32 memfd_pin_folios calls, each returning the same folio (32 folio pointers); batch_from_folios
    // extends one pfn_batch entry and folio_add_pins brings the pins to one per page.
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 2 * GiB }], hugetlb: { pages1G: 1 } });
    const mm = new AddressSpace(mem);
    const file = new MappedFile(mem, "guest", { hugetlb: "1G" });
    const dk = new IommuDomain({ type: "dma", name: "kernel" });
    const dd = new IommuDomain({ type: "dma", name: "design" });
    const k = new IommufdIoas(mm, dk, { pinPath: "kernel" });
    const io = new IommufdIoas(mm, dd);
    const st = k.mapFile(file, 0, GUEST_IOVA, GiB);
    expect([st.pinCalls, st.pinOps, st.iommuMaps, st.trackingBytes, st.lockedPages]).toEqual([
      32,
      32,
      1,
      8192 * 8 + 5461 * 12,
      262144,
    ]);
    const id = file.cache.get(0)!;
    expect(mem.folios.pincount[id]).toBe(262144);
    const ds = io.mapFile(file, 0, GUEST_IOVA, GiB);
    expect([ds.pinCalls, ds.pinOps, ds.iommuMaps]).toEqual([1, 1, 1]);
    expect([dk.pgtable!.leafCount(GiB), dd.pgtable!.leafCount(GiB)]).toEqual([1, 1]);
    expect(dk.iovaToPhys(GUEST_IOVA + 0x1234)).toBe(mem.folios.head[id] * P + 0x1234);
    mem.checkValid();
    expect(k.unmap(GUEST_IOVA, GiB)).toBe(GiB);
    expect(io.unmap(GUEST_IOVA, GiB)).toBe(GiB);
    expect([mem.folios.ref[id], mem.folios.pincount[id]]).toEqual([1, 0]);
    mem.checkValid();
  });

  test("2 MiB memfd folios in CMA move to pinnable pages before the pin (long-term, memalloc_pin)", () => {
    const mem = new MachineMemory({
      nodes: [{ start: 0, size: 2 * GiB }],
      cma: GiB,
      hugetlb: { pages2M: 2, placement: "cma" },
    });
    const mm = new AddressSpace(mem);
    const file = new MappedFile(mem, "guest", { hugetlb: "2M" });
    const k = new IommufdIoas(mm, new IommuDomain({ type: "dma", name: "kernel" }), { pinPath: "kernel" });
    const st = k.mapFile(file, 0, GUEST_IOVA, 4 * MiB);
    expect(st.lockedPages).toBe(1024);
    for (const id of file.cache.values()) expect(mem.folios.mt[id]).not.toBe(4); // not MIGRATE_CMA
    expect(mem.hugetlbTotal["2M"]).toBe(2);
    mem.checkValid();
    k.unmap(GUEST_IOVA, 4 * MiB);
    mem.checkValid();
  });
});

describe("type1 against a page-by-page reference (seeded)", () => {
  test("random MAP_DMA / UNMAP_DMA keep pins, locked_vm and translations exact", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 63 }), fc.integer({ min: 1, max: 16 })), {
          maxLength: 25,
        }),
        (ops) => {
          // 64 pages: the first 2 MiB-aligned half may be a THP, the rest 4 KiB pages.
          const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }], seed: 9 });
          const mm = new AddressSpace(mem, { thp: "never" });
          const v = mm.mmap({ kind: "anon", len: 64 * P });
          for (let i = 63; i >= 0; i -= 1) mm.fault(v.start + i * P, true);
          const digest = mem.digest();
          const d = new IommuDomain({ type: "dma", name: "prop" });
          const c = new VfioType1Container(mm, d, { memlockLimit: 40 * P });
          const ref = new Map<number, number>(); // mapped page index -> pfn (naive model)
          const maps: [number, number][] = [];
          for (const [map, at, len] of ops) {
            const n = Math.min(len, 64 - at);
            const covered = [...Array(n).keys()].some((k) => ref.has(at + k));
            if (map) {
              const code = codeOf(() =>
                c.mapDma(v.start + at * P, GUEST_IOVA + at * P, n * P, { write: false }),
              );
              const want = covered ? "EEXIST" : ref.size + n > 40 ? "ENOMEM" : "ok";
              expect(code).toBe(want);
              if (code === "ok") {
                for (let k = 0; k < n; k++) ref.set(at + k, mm.pt.lookup(v.start + (at + k) * P) / 64);
                maps.push([at, n]);
              }
            } else if (maps.length > 0) {
              const [mat, mn] = maps.splice(at % maps.length, 1)[0];
              expect(c.unmapDma(GUEST_IOVA + mat * P, mn * P)).toBe(mn * P);
              for (let k = 0; k < mn; k++) ref.delete(mat + k);
            }
            expect(mm.lockedVm).toBe(ref.size);
            for (let i = 0; i < 64; i++) {
              const want = ref.has(i) ? Math.floor(ref.get(i)!) * P : -1;
              expect(d.iovaToPhys(GUEST_IOVA + i * P)).toBe(want);
              expect(
                mem.folios.pins[mem.folios.folioOfPfn(Math.floor(mm.pt.lookup(v.start + i * P) / 64))],
              ).toBe(ref.has(i) ? 1 : 0);
            }
            mem.checkValid();
          }
          c.unmapDma(GUEST_IOVA, 64 * P);
          expect([mm.lockedVm, mem.digest()]).toEqual([0, digest]);
        },
      ),
      { seed: 11, numRuns: 40 },
    );
  });
});
