import { describe, expect, test } from "vitest";
import { MiB } from "../../test/kit/index.js";
import { IommuFault, Rng } from "../core/index.js";
import { type AddressSpace, ptePfn } from "../mm/index.js";
import { blkCanDmaMapIova, nvmeDirectIo } from "./block-dio.js";
import { DEFAULT_QUEUE_LIMITS, NVME_QUEUE_LIMITS } from "./block-limits.js";
import { BlockError } from "./errors.js";
import { NvmeController } from "./nvme-dev.js";
import { addDevice, buildTestbed, type Testbed } from "./testbed.js";

function setup(o: { iommu?: boolean; forceSwiotlb?: boolean; sgl?: boolean; thp?: "never" | "always" }) {
  const m = buildTestbed({ seed: 5, ramBytes: 256 * MiB, thp: o.thp ?? "always" });
  const { dev, domain } = addDevice(m, "0000:01:00.0", o);
  const ctrl = new NvmeController(m.sys, dev, { capacity: 64 * MiB, sglSupported: o.sgl ?? true, domain });
  return { m, ctrl };
}

/** Physical address of `va` from the page table (faulting it in). */
function vaToPhys(mm: AddressSpace, va: number): number {
  mm.fault(va, true);
  const e = mm.pt.lookup(va);
  return ptePfn(e) * 4096 + (va - mm.pt.lastBase);
}

function cpuWrite(m: Testbed, va: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; off += 4096)
    m.mem.writePhys(vaToPhys(m.mm, va + off), bytes.subarray(off, off + 4096));
}
function cpuRead(m: Testbed, va: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let off = 0; off < len; off += 4096) out.set(m.mem.readPhys(vaToPhys(m.mm, va + off), 4096), off);
  return out;
}
/** Index of the first differing byte, -1 when equal (toEqual is slow on megabytes). */
function diff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
function random(len: number, seed: number): Uint8Array {
  const r = new Rng(seed);
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = r.u32() & 0xff;
  return b;
}

describe("O_DIRECT through a simulated NVMe moves bytes exactly", () => {
  const setups = [
    { name: "through the IOMMU", o: { iommu: true } },
    { name: "through swiotlb (forced bouncing)", o: { forceSwiotlb: true } },
    { name: "dma-direct without SGL support", o: { sgl: false } },
  ];
  for (const s of setups) {
    for (const path of ["range", "pages"] as const) {
      test(`${s.name}, ${path} path: write reaches the media, read brings it back`, () => {
        const { m, ctrl } = setup(s.o);
        const len = 1 * MiB + 512 * 1024;
        const v = m.mm.mmap({ kind: "anon", len: 4 * MiB, hugepage: true });
        const data = random(len, 9);
        cpuWrite(m, v.start, data);
        const w = nvmeDirectIo(m.mm, ctrl, v.start, len, { op: "write", sector: 2048, path });
        expect(diff(ctrl.readMedia(2048 * 512, len), data)).toBe(-1);
        cpuWrite(m, v.start, new Uint8Array(len)); // clobber the buffer
        const r = nvmeDirectIo(m.mm, ctrl, v.start, len, { op: "read", sector: 2048, path });
        expect(diff(cpuRead(m, v.start, len), data)).toBe(-1);
        // 7.2 max request (drivers/nvme/host/pci.c nvme_pci_alloc_dev, block/blk-settings.c):
        // dma_opt_mapping_size behind dma-iommu = iova_rcache_range 128 KiB -> 12 requests;
        // bouncing: swiotlb_max_mapping_size 256 KiB - roundup(0xfff, 2 KiB) = 252 KiB -> 7;
        // dma-direct: min(NVME_MAX_BYTES 8 MiB, BLK_DEF_MAX_SECTORS_CAP 4 MiB) -> 1.
        const want = s.o.forceSwiotlb ? 7 : s.o.iommu ? 12 : 1;
        expect(w.requests).toBe(want);
        expect(r.requests).toBe(want);
        m.sys.debug.checkNoLeaks();
        m.mem.checkValid();
        m.mm.checkValid();
      });
    }
  }

  // 4 KiB pages, none physically adjacent (faults interleaved with another VMA): every page is its
  // own bvec, so requests carry many segments and PRP lists; an odd LBA.
  const frag = [
    { name: "through the IOMMU", o: { iommu: true } },
    { name: "through swiotlb (forced bouncing)", o: { forceSwiotlb: true } },
    { name: "dma-direct, PRP-only controller", o: { sgl: false } },
  ];
  for (const s of frag) {
    for (const path of ["range", "pages"] as const) {
      test(`fragmented 4 KiB pages ${s.name}, ${path} path: byte-exact both ways`, () => {
        const { m, ctrl } = setup({ ...s.o, thp: "never" });
        const pages = 300;
        const len = pages * 4096;
        const v = m.mm.mmap({ kind: "anon", len });
        const w = m.mm.mmap({ kind: "anon", len });
        for (let off = 0; off < len; off += 4096) {
          m.mm.fault(v.start + off, true);
          m.mm.fault(w.start + off, true);
        }
        const data = random(len, 11);
        cpuWrite(m, v.start, data);
        const before = m.mem.digest() + m.mm.digest();
        const wr = nvmeDirectIo(m.mm, ctrl, v.start, len, { op: "write", sector: 7, path });
        // Everything pinned for the write was released (a read would leave the pages dirty).
        expect(m.mem.digest() + m.mm.digest()).toBe(before);
        expect(diff(ctrl.readMedia(7 * 512, len), data)).toBe(-1);
        // Untouched media around the transfer stays zero.
        expect(ctrl.readMedia(0, 7 * 512).every((b) => b === 0)).toBe(true);
        expect(ctrl.readMedia(7 * 512 + len, 4096).every((b) => b === 0)).toBe(true);
        cpuWrite(m, v.start, new Uint8Array(len));
        nvmeDirectIo(m.mm, ctrl, v.start, len, { op: "read", sector: 7, path });
        expect(diff(cpuRead(m, v.start, len), data)).toBe(-1);
        // 300 separate pages in bios of BIO_MAX_VECS 256 + 44 bvecs (7.2 NVMe limits, worked out from
        // nvme_pci_alloc_dev / nvme_set_ctrl_limits): behind dma-iommu 128 KiB = 32 pages per request
        // (8 + 2 requests); bouncing 252 KiB = 63 pages (4 x 63 + 4, then 44: 6); dma-direct 4 MiB
        // and 256 segments: one request per bio (2).
        expect(wr.requests).toBe(s.o.forceSwiotlb ? 6 : s.o.iommu ? 10 : 2);
        if (path === "pages") expect(wr.pinEntries).toBe(pages);
        else expect(wr.pinEntries).toBe(pages); // no two pages adjacent: one range each
        if (s.o.sgl === false) {
          // PRP lists: the 256-page request names 255 pages after PRP1 in one 4 KiB list page, the 44-
          // page one 43 (> 32: also a 4 KiB page): 1 + 255 + 1 + 43 = 300 PRP entries.
          expect([wr.descriptors, wr.descriptorListBytes, wr.sglRequests]).toEqual([300, 2 * 4096, 0]);
        }
        m.sys.debug.checkNoLeaks();
        m.mem.checkValid();
        m.mm.checkValid();
      });
    }
  }

  test("with an IOMMU each request maps as one IOVA segment and takes one inline SGL descriptor", () => {
    const { m, ctrl } = setup({ iommu: true });
    const v = m.mm.mmap({ kind: "anon", len: 4 * MiB, hugepage: true });
    cpuWrite(m, v.start, random(2 * MiB, 1));
    const d = nvmeDirectIo(m.mm, ctrl, v.start, 2 * MiB, { op: "write", sector: 0, path: "range" });
    expect(d.dmaSegments).toBe(d.requests);
    expect(d.descriptors).toBe(d.requests);
    expect(d.descriptorListBytes).toBe(0);
    const b = nvmeDirectIo(m.mm, ctrl, v.start, 2 * MiB, { op: "write", sector: 0, path: "pages" });
    expect(b.pinEntries).toBe(512);
    expect(b.pinBytes).toBe(4096);
    expect(d.pinEntries).toBeLessThan(b.pinEntries);
    expect(d.sgBytes).toBe(0);
    // 7.2 builds no scatterlist (the DMA iterator); 6.12 does (blk_rq_map_sg + dma_map_sg).
    expect(b.sgBytes).toBe(0);
    const b612 = nvmeDirectIo(m.mm, ctrl, v.start, 2 * MiB, {
      op: "write",
      sector: 0,
      path: "pages",
      release: "6.12",
    });
    expect(b612.sgBytes).toBeGreaterThan(0);
  });

  test("a device access after unmap faults and writes nothing", () => {
    const { m, ctrl } = setup({ iommu: true });
    const v = m.mm.mmap({ kind: "anon", len: 2 * MiB, hugepage: true });
    cpuWrite(m, v.start, random(8192, 3));
    nvmeDirectIo(m.mm, ctrl, v.start, 8192, { op: "write", sector: 0, path: "range" });
    // A stale command naming an IOVA the request used: the mapping is gone.
    const stale = {
      mode: "prp" as const,
      ptr1: 0x1000,
      ptr2: 0,
      ptr2IsList: false,
      lists: [],
      listBase: 0,
      descriptors: 1,
      chains: 0,
      listBytes: 0,
      descriptorBytes: 8,
    };
    const before = ctrl.readMedia(0, 4096);
    expect(() => ctrl.execute("write", 0, 4096, stale)).toThrow(IommuFault);
    expect(ctrl.readMedia(0, 4096)).toEqual(before);
  });

  test("bad input: unpinnable, misaligned or out-of-range I/O is refused and nothing changes", () => {
    const { m, ctrl } = setup({ iommu: true });
    const v = m.mm.mmap({ kind: "anon", len: 2 * MiB });
    cpuWrite(m, v.start, random(3 * 4096, 2));
    const ro = m.mm.mmap({ kind: "anon", len: 4096, write: false });
    m.mm.populate(ro.start, 4096);
    const state = () => [
      m.mem.digest(),
      m.mm.digest(),
      ctrl.stats.commands,
      ctrl.domain!.pgtable!.mappedBytes,
    ];
    const before = state();
    const media = ctrl.readMedia(0, 64 * 1024);
    const cases: [string, () => unknown, RegExp][] = [
      [
        "outside any VMA",
        () => nvmeDirectIo(m.mm, ctrl, 0x1000, 8192, { op: "write", sector: 0, path: "range" }),
        /outside any VMA/,
      ],
      // A read DMAs into the buffer: FOLL_WRITE on a read-only VMA.
      [
        "read into a read-only buffer",
        () => nvmeDirectIo(m.mm, ctrl, ro.start, 4096, { op: "read", sector: 0, path: "pages" }),
        /read-only/,
      ],
      [
        "beyond the namespace",
        () => nvmeDirectIo(m.mm, ctrl, v.start, 4096, { op: "write", sector: 64 * 2048, path: "range" }),
        /outside the/,
      ],
      // 12 KiB is no whole number of 8 KiB logical blocks: no bio can be built or split from it.
      [
        "not a whole logical block",
        () =>
          nvmeDirectIo(m.mm, ctrl, v.start, 3 * 4096, {
            op: "write",
            sector: 0,
            path: "range",
            limits: { ...NVME_QUEUE_LIMITS, logicalBlockSize: 8192 },
          }),
        /not a non-empty multiple of the 8192-byte logical block/,
      ],
    ];
    for (const [name, run, re] of cases) {
      expect(run, name).toThrow(re);
      expect(state(), name).toEqual(before);
    }
    expect(() =>
      nvmeDirectIo(m.mm, ctrl, v.start, 3 * 4096, {
        op: "write",
        sector: 0,
        path: "pages",
        limits: { ...NVME_QUEUE_LIMITS, logicalBlockSize: 8192 },
      }),
    ).toThrow(BlockError);
    expect(state()).toEqual(before);
    expect(diff(ctrl.readMedia(0, 64 * 1024), media)).toBe(-1);
    m.sys.debug.checkNoLeaks();
    m.mem.checkValid();
    m.mm.checkValid();
  });
});

describe("blkCanDmaMapIova follows blk_can_dma_map_iova (block/blk-mq-dma.c, 7.2)", () => {
  // !(req_phys_gap_mask(req) & dma_get_merge_boundary(dev)), merge boundary = granule - 1, by hand:
  // the mask has every bit from the lowest seam gap up.
  const cases: [number, number, boolean][] = [
    [0, 4096, true], // every seam page aligned: no bit below 4 KiB
    [0x200, 4096, false], // a seam on a 512-byte boundary: bit 9 is inside 0xfff
    [0x800, 4096, false],
    [0x800, 0, true], // no IOMMU: merge boundary 0
    [0x1000, 4096, true], // a 4 KiB-aligned gap is outside 0xfff
    [0x1000, 16384, false], // ... but inside a 16 KiB granule's 0x3fff
  ];
  for (const [gap, granule, want] of cases) {
    test(`seam gap 0x${gap.toString(16)} with granule ${granule}: ${want}`, () => {
      expect(blkCanDmaMapIova(gap, granule)).toBe(want);
    });
  }
  // 7.2 decides by the request's seam gaps, not the virt boundary: a page-aligned buffer on a queue
  // without one still maps as one IOVA.
  test("a queue without a virt boundary still maps a page-aligned request as one IOVA", () => {
    const { m, ctrl } = setup({ iommu: true });
    const v = m.mm.mmap({ kind: "anon", len: 2 * MiB, hugepage: true });
    cpuWrite(m, v.start, random(65536, 4));
    const d = nvmeDirectIo(m.mm, ctrl, v.start, 65536, {
      op: "write",
      sector: 0,
      path: "range",
      limits: DEFAULT_QUEUE_LIMITS,
    });
    expect(d.iovaRequests).toBe(1);
    const e = nvmeDirectIo(m.mm, ctrl, v.start, 65536, { op: "write", sector: 0, path: "range" });
    expect(e.iovaRequests).toBe(1);
    m.sys.debug.checkNoLeaks();
  });
});
