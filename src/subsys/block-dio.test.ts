import { describe, expect, test } from "vitest";
import { IommuFault, Rng } from "../core/index.js";
import { type AddressSpace, ptePfn } from "../mm/index.js";
import { blkCanDmaMapIova, nvmeDirectIo } from "./block-dio.js";
import { DEFAULT_QUEUE_LIMITS, NVME_QUEUE_LIMITS } from "./block-limits.js";
import { addDevice, buildMachine, type SubsysMachine } from "./machine.js";
import { NvmeController } from "./nvme-dev.js";

const MiB = 2 ** 20;

function setup(o: { iommu?: boolean; forceSwiotlb?: boolean; sgl?: boolean }) {
  const m = buildMachine({ seed: 5, ramBytes: 256 * MiB, thp: "always" });
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

function cpuWrite(m: SubsysMachine, va: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; off += 4096)
    m.mem.writePhys(vaToPhys(m.mm, va + off), bytes.subarray(off, off + 4096));
}
function cpuRead(m: SubsysMachine, va: number, len: number): Uint8Array {
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
        // 1280 KiB max request (256 KiB when bouncing: swiotlb_max_mapping_size).
        const want = s.o.forceSwiotlb ? 6 : 2;
        expect(w.requests).toBe(want);
        expect(r.requests).toBe(want);
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
    expect(b.sgBytes).toBeGreaterThan(0);
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

  test("bad input: unpinnable or misaligned buffers are refused and nothing stays pinned or mapped", () => {
    const { m, ctrl } = setup({ iommu: true });
    const digest = m.mem.digest();
    expect(() => nvmeDirectIo(m.mm, ctrl, 0x1000, 8192, { op: "write", sector: 0, path: "range" })).toThrow(
      /outside any VMA/,
    );
    const v = m.mm.mmap({ kind: "anon", len: 2 * MiB });
    expect(() =>
      nvmeDirectIo(m.mm, ctrl, v.start, 4096, { op: "write", sector: 64 * 2048, path: "range" }),
    ).toThrow(/outside the/);
    m.sys.debug.checkNoLeaks();
    m.mem.checkValid();
    void digest;
  });
});

describe("blkCanDmaMapIova follows blk_can_dma_map_iova", () => {
  // (virt_boundary + 1) & (granule - 1) == 0, by hand.
  const cases: [number, number, boolean][] = [
    [0xfff, 4096, true],
    [0, 4096, false],
    [0x1fff, 4096, true],
    [0xfff, 16384, false],
    [0xffff, 65536, true],
    [0, 0, true],
  ];
  for (const [virt, granule, want] of cases) {
    test(`virt_boundary ${virt.toString(16)} with granule ${granule}: ${want}`, () => {
      expect(blkCanDmaMapIova({ ...NVME_QUEUE_LIMITS, virtBoundaryMask: virt }, granule)).toBe(want);
    });
  }
  test("a queue without a virt boundary maps each segment instead of one IOVA", () => {
    const { m, ctrl } = setup({ iommu: true });
    const v = m.mm.mmap({ kind: "anon", len: 2 * MiB, hugepage: true });
    cpuWrite(m, v.start, random(65536, 4));
    const d = nvmeDirectIo(m.mm, ctrl, v.start, 65536, {
      op: "write",
      sector: 0,
      path: "range",
      limits: DEFAULT_QUEUE_LIMITS,
    });
    expect(d.iovaRequests).toBe(0);
    const e = nvmeDirectIo(m.mm, ctrl, v.start, 65536, { op: "write", sector: 0, path: "range" });
    expect(e.iovaRequests).toBe(1);
    m.sys.debug.checkNoLeaks();
  });
});
