import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { DmaApiError, IommuFault } from "../core/index.js";
import { IommuDomain, iommuMap, iommuUnmap } from "./domain.js";
import { IommuMapError, IommuProt } from "./prot.js";

const G = 2 ** 30;
const RW = IommuProt.READ | IommuProt.WRITE;

describe("IommuDomain", () => {
  test("a pinned 64 GiB buffer of 1 GiB pages: 64 leaves, and 64 IOTLB entries reach all of it", () => {
    const d = new IommuDomain({ type: "dma", iotlb: { entries: 128, ways: 8 } });
    iommuMap(d, 64 * G, 256 * G, 64 * G, RW);
    expect(d.pgtable!.leafCounts()).toEqual([{ pgsize: G, count: 64 }]);
    for (let i = 0; i < 64; i++)
      expect(d.translate("0000:03:00.0", 64 * G + i * G + 8, "read")).toBe(256 * G + i * G + 8);
    expect(d.iotlb.misses).toBe(64);
    expect(d.iotlb.validCount).toBe(64);
    expect(d.iotlb.reach).toBe(64 * G);
    for (let i = 0; i < 64; i++) d.translate("0000:03:00.0", 64 * G + i * G + 4096 * i, "write");
    expect(d.iotlb.hits).toBe(64);
    d.checkValid();
  });

  test("page-at-a-time mapping (vfio type1 style) writes one 4 KiB leaf per page", () => {
    const d = new IommuDomain({ type: "dma" });
    const pages = 4096; // 16 MiB; the bench runs the 64 GiB / 16,777,216-page case
    for (let i = 0; i < pages; i++) d.map(i * 4096, G + i * 4096, 4096, RW);
    expect(d.pgtable!.leafCounts()).toEqual([{ pgsize: 4096, count: 4096 }]);
    // range mapping of the same (2 MiB-congruent) buffer: 8 leaves of 2 MiB
    const r = new IommuDomain({ type: "dma" });
    r.map(0, G, pages * 4096, RW);
    expect(r.pgtable!.leafCounts()).toEqual([{ pgsize: 2 ** 21, count: 8 }]);
    d.checkValid();
    r.checkValid();
  });

  test("faults are recorded with device, IOVA and reason", () => {
    const d = new IommuDomain({ type: "dma", name: "grp7" });
    d.map(0x10000, 0x50000, 0x1000, IommuProt.READ);
    expect(d.translate("0000:03:00.0", 0x10010, "read")).toBe(0x50010);
    expect(() => d.translate("0000:03:00.0", 0x10010, "write")).toThrow(IommuFault);
    expect(() => d.translate("0000:03:00.0", 0x20000, "read")).toThrow(
      /grp7: 0000:03:00.0 read at 0x20000: unmapped/,
    );
    expect(d.tryTranslate("0000:04:00.0", 0x30000, "read")).toBe(-1);
    expect(d.faults).toEqual([
      { device: "0000:03:00.0", iova: 0x10010, access: "write", reason: "no-write" },
      { device: "0000:03:00.0", iova: 0x20000, access: "read", reason: "unmapped" },
      { device: "0000:04:00.0", iova: 0x30000, access: "read", reason: "unmapped" },
    ]);
    try {
      d.translate("0000:05:00.0", 0x40000, "read");
    } catch (e) {
      expect(e).toMatchObject({
        code: "IOMMU_FAULT",
        device: "0000:05:00.0",
        iova: 0x40000,
        reason: "unmapped",
      });
    }
  });

  test("blocked faults everything; identity translates to the same address and cannot map", () => {
    const b = new IommuDomain({ type: "blocked" });
    expect(() => b.translate("dev", 0x1000, "read")).toThrow(/blocked/);
    const id = new IommuDomain({ type: "identity" });
    expect(id.translate("dev", 0x123456, "write")).toBe(0x123456);
    expect(() => id.map(0, 0, 0x1000, RW)).toThrow(IommuMapError);
    expect(() => b.unmap(0, 0x1000)).toThrow(/no page table/);
  });

  test("strict unmap syncs one gathered invalidation; the device then faults", () => {
    const d = new IommuDomain({ type: "dma" });
    d.map(0, 0x100000, 0x8000, RW);
    for (let i = 0; i < 8; i++) d.translate("dev", i * 0x1000, "read");
    expect(d.iotlb.validCount).toBe(8);
    expect(iommuUnmap(d, 0, 0x8000)).toBe(0x8000);
    expect(d.stats.iotlbSyncs).toBe(1);
    expect(d.iotlb.validCount).toBe(0);
    expect(d.tryTranslate("dev", 0x3000, "read")).toBe(-1);
    d.checkValid();
  });

  // drivers/iommu/generic_pt/iommu_pt.h gather_range_pages (PT_FEAT_FLUSH_RANGE, VT-d and AMD v1):
  // iommu_iotlb_gather_add_range per unmap_pages, so the 4K step and the 2M step make one range.
  test("a generic_pt domain gathers one range per unmap and syncs once", () => {
    const d = new IommuDomain({ type: "dma" });
    d.map(0x1ff000, 0x3ff000, 0x201000, RW); // 4K at 0x1ff000, then 2M at 0x200000
    for (const a of [0x1ff000, 0x200000, 0x3ff000]) d.translate("dev", a, "read");
    expect(d.unmap(0x1ff000, 0x201000)).toBe(0x201000);
    expect(d.stats.iotlbSyncs).toBe(1);
    expect(d.iotlb.validCount).toBe(0);
  });

  // io-pgtable-arm: arm_smmu_tlb_inv_page_nosync -> iommu_iotlb_gather_add_page, which syncs when
  // the page size changes.
  test("an io-pgtable-arm domain syncs a gather of another page size before it is rewritten", () => {
    const d = new IommuDomain({ type: "dma", format: "arm-lpae-4k" });
    d.map(0x1ff000, 0x3ff000, 0x201000, RW); // 4K at 0x1ff000, then 2M at 0x200000
    expect(d.pgtable!.leafCounts()).toEqual([
      { pgsize: 4096, count: 1 },
      { pgsize: 2 ** 21, count: 1 },
    ]);
    expect(d.unmap(0x1ff000, 0x201000)).toBe(0x201000);
    expect(d.stats.iotlbSyncs).toBe(2);
  });

  test("lazy unmap leaves stale IOTLB entries until the flush queue flushes; IOVAs are freed then", () => {
    const d = new IommuDomain({ type: "dma-fq", fqSize: 3 });
    const iova = d.iovaAlloc(0x2000, 0xffffffff);
    d.map(iova, 0x700000, 0x2000, RW);
    expect(d.translate("dev", iova, "read")).toBe(0x700000);
    d.unmap(iova, 0x2000);
    d.iovaFree(iova, 0x2000);
    expect(d.translate("dev", iova, "read")).toBe(0x700000); // stale hit: the lazy-mode window
    expect(d.fqPending).toBe(1);
    expect(() => d.iovaFree(iova, 0x2000)).toThrow(DmaApiError);
    d.flush();
    expect(d.stats.iotlbFlushAll).toBe(1);
    expect(d.tryTranslate("dev", iova, "read")).toBe(-1);
    expect(d.iovad!.cachedCount(1)).toBe(1);
    // automatic flush after fqSize unmaps
    d.map(0, 0x1000, 0x1000, RW);
    d.translate("dev", 0, "read");
    for (let i = 0; i < 3; i++) d.unmap(0, 0x1000);
    expect(d.stats.iotlbFlushAll).toBe(2);
    d.checkValid();
  });

  test("lazy mode: a remap before the flush still hits the stale entry (why IOVAs wait in the queue)", () => {
    const d = new IommuDomain({ type: "dma-fq" });
    d.map(0x1000, 0xa000, 0x1000, RW);
    expect(d.translate("dev", 0x1000, "read")).toBe(0xa000);
    d.unmap(0x1000, 0x1000);
    d.map(0x1000, 0xb000, 0x1000, RW);
    expect(d.translate("dev", 0x1000, "read")).toBe(0xa000);
    d.flush();
    expect(d.translate("dev", 0x1000, "read")).toBe(0xb000);
  });

  test("a failed map leaves the domain unchanged", () => {
    const d = new IommuDomain({ type: "dma" });
    d.map(0x200000, 0x200000, 0x1000, RW);
    expect(() => d.map(0, 0, 0x400000, RW)).toThrow(/already mapped/);
    expect(d.pgtable!.leafCounts()).toEqual([{ pgsize: 4096, count: 1 }]);
    expect(d.iovaToPhys(0)).toBe(-1);
    expect(() => new IommuDomain({ type: "bogus" as "dma" })).toThrow(/domain type "bogus"/);
    expect(() => d.translate("dev", -1, "read")).toThrow(RangeError);
    d.checkValid();
  });
});

describe("IommuDomain agrees with a page model under random map / unmap / translate", () => {
  for (const type of ["dma", "dma-fq"] as const) {
    test(`${type}: translations match the model (lazy: or a not-yet-flushed stale entry)`, () => {
      const op = fc.record({
        kind: fc.constantFrom("map", "unmap", "read", "write", "write", "flush"),
        page: fc.integer({ min: 0, max: 1023 }),
        phys: fc.integer({ min: 0, max: 4095 }),
        pages: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.constant(512)),
        prot: fc.constantFrom(IommuProt.READ, IommuProt.WRITE, RW),
        pick: fc.nat(),
      });
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
          const d = new IommuDomain({ type, iotlb: { entries: 8, ways: 2 }, fqSize: 4 });
          const model = new Map<number, { phys: number; prot: number }>();
          const stale = new Map<number, { phys: number; prot: number }>();
          const live: [number, number][] = [];
          let faults = 0;
          for (const o of ops) {
            if (o.kind === "map") {
              const pages = Math.min(o.pages, 1024 - o.page);
              let clash = false;
              for (let i = 0; i < pages; i++) if (model.has(o.page + i)) clash = true;
              if (clash)
                expect(() => d.map(o.page * 4096, o.phys * 4096, pages * 4096, o.prot)).toThrow(
                  IommuMapError,
                );
              else {
                d.map(o.page * 4096, o.phys * 4096, pages * 4096, o.prot);
                // a stale lazy-mode IOTLB entry outlives a remap until the flush
                for (let i = 0; i < pages; i++)
                  model.set(o.page + i, { phys: (o.phys + i) * 4096, prot: o.prot });
                live.push([o.page, pages]);
              }
            } else if (o.kind === "unmap" && live.length > 0) {
              const [page, pages] = live.splice(o.pick % live.length, 1)[0];
              const flushesBefore = d.stats.iotlbFlushAll;
              expect(d.unmap(page * 4096, pages * 4096)).toBe(pages * 4096);
              for (let i = 0; i < pages; i++) {
                if (type === "dma-fq") stale.set(page + i, model.get(page + i)!);
                model.delete(page + i);
              }
              if (d.stats.iotlbFlushAll !== flushesBefore) stale.clear();
            } else if (o.kind === "flush") {
              d.flush();
              stale.clear();
            } else if (o.kind === "read" || o.kind === "write") {
              const iova = o.page * 4096 + 8;
              const got = d.tryTranslate("0000:03:00.0", iova, o.kind);
              const m = model.get(o.page);
              const need = o.kind === "read" ? IommuProt.READ : IommuProt.WRITE;
              const want = m !== undefined && (m.prot & need) !== 0 ? m.phys + 8 : -1;
              const s = stale.get(o.page);
              const staleOk = s !== undefined && (s.prot & need) !== 0 && got === s.phys + 8;
              if (!staleOk) expect(got).toBe(want);
              if (got < 0) faults++;
            }
            d.checkValid();
            expect(d.faults.length).toBe(faults);
          }
        }),
        fcRuns(150),
      );
    });
  }
});
