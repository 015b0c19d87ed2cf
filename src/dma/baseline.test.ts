import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns, GiB } from "../../test/kit/index.js";
import { DmaApiError, IommuFault, VFIO_BATCH_MAX_CAPACITY } from "../core/index.js";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory, memoryDigest } from "../mem/index.js";
import { PhyrList } from "../phyr/index.js";
import { dmaRead } from "./access.js";
import {
  dmaMapSgDirect,
  dmaUnmapSgDirect,
  iommuMapPageAtATime,
  iommuUnmapPageAtATime,
  sgDmaRanges,
  sgTableFromList,
} from "./baseline.js";
import { DMA_MASK_32 } from "./device.js";
import { dmaMap } from "./map.js";
import { DmaSystem } from "./system.js";
import { dmaUnmap } from "./unmap.js";

const P = 4096;

function sys(): DmaSystem {
  return new DmaSystem({
    memory: new MachineMemory({
      nodes: [
        { start: 0, size: 2 * GiB },
        { start: 4 * GiB, size: 2 * GiB },
      ],
    }),
  });
}

function list(ranges: [number, number][]): PhyrList {
  return PhyrList.fromRanges(
    ranges.map(([addr, len]) => ({ addr, len })),
    { store: "wide", chunkCapacity: 3 },
  );
}

describe("scatterlist baseline (sg_alloc_table_from_pages + dma_direct_map_sg)", () => {
  it("merges contiguous pages across entries and writes one DMA address per scatterlist entry", () => {
    const s = sys();
    const dev = s.addDevice({
      name: "0000:01:00.0",
      dmaRangeMap: [{ cpuStart: 0, dmaStart: 0x8000_0000, size: 2 * GiB }],
    });
    // Entries 0 and 1 are physically contiguous (0x10000..0x13000 then 0x13000..0x15000): the page
    // array forgets the entry boundary and sg_alloc_table_from_pages merges them. Entry 2 starts a
    // new scatterlist entry. First offset 0x200, last entry ends mid-page at 0x40800.
    const l = list([
      [0x10200, 0x2e00],
      [0x13000, 0x2000],
      [0x40000, 0x800],
    ]);
    const sgt = sgTableFromList(l);
    expect(sgt.origNents).toBe(2);
    expect(dmaMapSgDirect(s, dev, sgt, "to-device")).toBe(2);
    expect(sgDmaRanges(sgt)).toEqual([0x8001_0200, 0x4e00, 0x8004_0000, 0x800]);
    s.memory.writePhys(0x13ffe, Uint8Array.of(1, 2, 3, 4));
    expect(dmaRead(s, dev, 0x8001_3ffe, 4)).toEqual(Uint8Array.of(1, 2, 3, 4));
    dmaUnmapSgDirect(s, dev, sgt, "to-device");
    expect(sgDmaRanges(sgt)).toEqual([0, 0x0, 0, 0]);
    s.debug.checkNoLeaks();
  });

  it("gives the device the same bytes at the same addresses as dmaMap on a dma-direct device", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 3 })), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.boolean(),
        (pages, offset) => {
          const s = sys();
          const dev = s.addDevice({
            name: "0000:02:00.0",
            dmaRangeMap: offset ? [{ cpuStart: 4 * GiB, dmaStart: 0x1000_0000, size: 2 * GiB }] : [],
          });
          // page runs at slot k * 256 KiB (distinct slots, so no overlap), in high memory
          const seen = new Set<number>();
          const l = list(
            pages
              .filter(([k]) => !seen.has(k) && seen.add(k))
              .map(([k, n]): [number, number] => [4 * GiB + k * 0x40000, n * P]),
          );
          const m = dmaMap(s, dev, l, "to-device");
          const sgt = sgTableFromList(l);
          dmaMapSgDirect(s, dev, sgt, "to-device");
          const r = sgDmaRanges(sgt);
          expect(r.length / 2).toBeLessThanOrEqual(l.nents); // merging only shrinks the count
          let total = 0;
          const c = m.cursor();
          for (let i = 0; i < r.length; i += 2) {
            expect(r[i]).toBe(c.addr); // byte k of the buffer is at the same DMA address both ways
            c.advance(r[i + 1]);
            total += r[i + 1];
          }
          expect(total).toBe(l.totalBytes);
          dmaUnmapSgDirect(s, dev, sgt, "to-device");
          dmaUnmap(s, dev, m, "to-device");
          s.debug.checkNoLeaks();
        },
      ),
      fcRuns(30),
    );
  });

  it("bad input: interior mid-page entry, unreachable entry, IOMMU device, not mapped -- state unchanged", () => {
    const s = sys();
    expect(() =>
      sgTableFromList(
        list([
          [0x1000, 0x800],
          [0x5000, 0x1000],
        ]),
      ),
    ).toThrow(/entry 0 0x1000\+0x800 is invalid for a page array/);
    const narrow = s.addDevice({ name: "0000:03:00.0", dmaMask: DMA_MASK_32 });
    const sgt = sgTableFromList(
      list([
        [0x1000, 0x1000],
        [4 * GiB, 0x1000],
      ]),
    );
    const digest = memoryDigest(s.memory);
    const err = (() => {
      try {
        dmaMapSgDirect(s, narrow, sgt);
      } catch (e) {
        return e as DmaApiError;
      }
    })();
    expect(err).toBeInstanceOf(DmaApiError);
    expect(err!.code).toBe("DMA_MASK");
    expect(err!.message).toMatch(
      /0x100000000\+0x1000 for 0000:03:00\.0: scatterlist entry 1 is beyond DMA mask 0xffffffff/,
    );
    expect(sgDmaRanges(sgt)).toEqual([0, 0, 0, 0]);
    expect(() => dmaUnmapSgDirect(s, narrow, sgt)).toThrow(/has not mapped/);
    const hole = sgTableFromList(list([[3 * GiB, 0x1000]])); // between the two RAM nodes
    expect(() => dmaMapSgDirect(s, s.addDevice({ name: "0000:03:00.1" }), hole)).toThrow(
      /0xc0000000\+0x1000 for 0000:03:00\.1: scatterlist entry 0 is not memory/,
    );
    const withIommu = s.addDevice({ name: "0000:04:00.0" }, new IommuDomain({ type: "dma" }));
    expect(() => dmaMapSgDirect(s, withIommu, sgt)).toThrow(/has an IOMMU domain/);
    expect(memoryDigest(s.memory)).toBe(digest);
    s.debug.checkNoLeaks();
  });
});

describe("page-at-a-time baseline (vfio type1 granularity)", () => {
  it("batches VFIO_BATCH_MAX_CAPACITY = PAGE_SIZE / sizeof(struct page *) = 4096 / 8 = 512 pages (vfio_iommu_type1.c)", () => {
    expect(VFIO_BATCH_MAX_CAPACITY).toBe(512);
  });

  it("1 GiB of 1 GiB pages: 262,144 iommu_map calls in 512 batches and as many 4 KiB leaves", () => {
    const s = sys();
    const dom = new IommuDomain({ type: "dma" });
    const dev = s.addDevice({ name: "0000:05:00.0" }, dom);
    const l = new PhyrList({ store: "compact" });
    l.append(4 * GiB, GiB);
    const m = iommuMapPageAtATime(s, dev, l);
    // 2^30 / 2^12 = 262,144 pages; 262,144 / 512 = 512 batches; no page larger than 4 KiB.
    expect(m.iommuMaps).toBe(262_144);
    expect(m.batches).toBe(512);
    expect(dom.pgtable!.leafCount(P)).toBe(262_144);
    expect(dom.pgtable!.leafCount(GiB)).toBe(0);
    s.memory.writePhys(4 * GiB + 0x2345_6789, Uint8Array.of(42));
    expect(dmaRead(s, dev, m.iova + 0x2345_6789, 1)).toEqual(Uint8Array.of(42));
    iommuUnmapPageAtATime(s, dev, m);
    expect(dom.pgtable!.leafCount(P)).toBe(0);
    expect(() => dmaRead(s, dev, m.iova, 1)).toThrow(IommuFault);
    expect(() => iommuUnmapPageAtATime(s, dev, m)).toThrow(/already unmapped/);
    dom.checkValid();
    s.debug.checkNoLeaks();
  });

  it("reaches every page at the same offset as dmaMap's single IOVA range", () => {
    const s = sys();
    const dom = new IommuDomain({ type: "dma" });
    const dev = s.addDevice({ name: "0000:06:00.0" }, dom);
    // 3 runs, 1100 pages in all: two batches of 512 and one of 76.
    const l = list([
      [0x100000, 600 * P],
      [4 * GiB + 0x200000, 400 * P],
      [0x900000, 100 * P],
    ]);
    const base = iommuMapPageAtATime(s, dev, l, "to-device");
    expect([base.iommuMaps, base.batches]).toEqual([1100, Math.ceil(1100 / VFIO_BATCH_MAX_CAPACITY)]);
    const m = dmaMap(s, dev, l, "to-device");
    const dma = m.entry(0).addr;
    const c = l.cursor();
    for (let off = 0; off < l.totalBytes; off += P, c.advance(P)) {
      s.memory.writePhys(c.addr + 7, Uint8Array.of((off / P) & 0xff));
      expect(dmaRead(s, dev, base.iova + off + 7, 1)).toEqual(dmaRead(s, dev, dma + off + 7, 1));
    }
    dmaUnmap(s, dev, m, "to-device");
    iommuUnmapPageAtATime(s, dev, base, "to-device");
    expect(dom.pgtable!.pteCount).toBe(0);
    dom.checkValid();
    s.debug.checkNoLeaks();
  });

  it("bad input: unaligned entry, no IOMMU, wrong direction -- typed errors, nothing mapped", () => {
    const s = sys();
    const dom = new IommuDomain({ type: "dma" });
    const dev = s.addDevice({ name: "0000:07:00.0" }, dom);
    expect(() => iommuMapPageAtATime(s, dev, list([[0x1000, 0x1800]]))).toThrow(/not page aligned/);
    expect(() => iommuMapPageAtATime(s, s.addDevice({ name: "0000:08:00.0" }), list([[0x1000, P]]))).toThrow(
      /has no IOMMU domain/,
    );
    expect(dom.pgtable!.pteCount).toBe(0);
    const m = iommuMapPageAtATime(s, dev, list([[0x1000, P]]), "to-device");
    expect(() => iommuUnmapPageAtATime(s, dev, m, "from-device")).toThrow(/different direction/);
    iommuUnmapPageAtATime(s, dev, m, "to-device");
    dom.checkValid();
    s.debug.checkNoLeaks();
  });
});
