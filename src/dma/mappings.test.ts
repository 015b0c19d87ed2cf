import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns, GiB } from "../../test/kit/index.js";
import { DmaApiError } from "../core/index.js";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { PhyrList } from "../phyr/index.js";
import {
  dmaMapSgDirect,
  dmaUnmapSgDirect,
  iommuMapPageAtATime,
  iommuUnmapPageAtATime,
  sgTableFromList,
} from "./baseline.js";
import { mappingsOf } from "./device.js";
import { dmaIovaLink, dmaIovaTryAlloc, dmaIovaUnlink } from "./iova.js";
import { DmaListBuilder } from "./list.js";
import { dmaMap } from "./map.js";
import { DeviceMappings, type MapRecord } from "./mappings.js";
import { dmaMapPhys, dmaUnmapPhys } from "./phys.js";
import { DmaSystem } from "./system.js";
import { dmaUnmap } from "./unmap.js";

function sys(): DmaSystem {
  return new DmaSystem({ memory: new MachineMemory({ nodes: [{ start: 0, size: 2 * GiB }] }) });
}

function list(ranges: [number, number][]): PhyrList {
  return PhyrList.fromRanges(ranges.map(([addr, len]) => ({ addr, len })));
}

describe("a device's mapping state (DeviceMappings)", () => {
  it("holds every kind of live mapping in one place and is empty again after each unmap", () => {
    const s = sys();
    const dom = new IommuDomain({ type: "dma" });
    const dev = s.addDevice({ name: "0000:02:00.0" }, dom);
    const maps = mappingsOf(dev);
    expect(maps.empty).toBe(true);
    // dmaMap through the IOMMU
    const m = dmaMap(s, dev, list([[0x10000, 0x3000]]), "to-device");
    dev.checkValid();
    expect(maps.recordsOf(m)?.length).toBe(1);
    // dma_map_phys twice: two records, one address each
    const a = dmaMapPhys(s, dev, 0x40000, 0x1000);
    const b = dmaMapPhys(s, dev, 0x80000, 0x1000);
    dev.checkValid();
    expect(dev.liveMappings).toBe(3);
    expect(maps.lastPhys(a)).toBeDefined();
    // dma_iova_link: the checker's token lives with the device
    const st = dmaIovaTryAlloc(s, dev, 0x100000, 0x2000)!;
    dmaIovaLink(s, dev, st, 0x100000, 0, 0x2000);
    dev.checkValid();
    // the page-at-a-time baseline
    const pat = iommuMapPageAtATime(s, dev, list([[0x200000, 0x2000]]));
    expect(maps.baselineOf(pat)).toEqual({ dir: "bidirectional", iova: pat.iova, size: 0x2000 });
    dev.checkValid();
    expect(maps.empty).toBe(false);

    iommuUnmapPageAtATime(s, dev, pat);
    dmaIovaUnlink(s, dev, st, 0, 0x2000);
    dmaUnmapPhys(s, dev, b, 0x1000);
    dmaUnmapPhys(s, dev, a, 0x1000);
    dmaUnmap(s, dev, m, "to-device");
    dev.checkValid();
    expect(dev.liveMappings).toBe(0);
    expect(maps.lastPhys(a)).toBeUndefined();
    expect(maps.empty).toBe(true);
    s.debug.checkNoLeaks();
  });

  it("refuses a scatterlist already mapped on another device, and the other cannot unmap it", () => {
    const s = sys();
    const d1 = s.addDevice({ name: "0000:01:00.0" });
    const d2 = s.addDevice({ name: "0000:03:00.0" });
    const sgt = sgTableFromList(list([[0x10000, 0x2000]]));
    expect(dmaMapSgDirect(s, d1, sgt)).toBe(1);
    expect(() => dmaMapSgDirect(s, d2, sgt)).toThrow(/already mapped/);
    expect(mappingsOf(d2).empty).toBe(true);
    expect(() => dmaUnmapSgDirect(s, d2, sgt)).toThrow(DmaApiError);
    expect(mappingsOf(d1).baselineOf(sgt)).toBeDefined();
    dmaUnmapSgDirect(s, d1, sgt);
    expect(mappingsOf(d1).empty).toBe(true);
    d1.checkValid();
    d2.checkValid();
  });

  it("dma_map_phys at one address unmaps newest first, like a stack per address (property)", () => {
    // Naive model: per DMA address, the number of live mappings made there.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 })), { maxLength: 40 }),
        (ops) => {
          const s = sys();
          const dev = s.addDevice({ name: "0000:01:00.0" });
          const maps = mappingsOf(dev);
          const model = new Map<number, number>();
          for (const [map, k] of ops) {
            const phys = 0x10000 * (k + 1);
            const n = model.get(phys) ?? 0;
            if (map) {
              // No IOMMU, no offset: dma_map_phys returns phys (identity).
              expect(dmaMapPhys(s, dev, phys, 0x1000)).toBe(phys);
              model.set(phys, n + 1);
            } else if (n === 0) {
              expect(() => dmaUnmapPhys(s, dev, phys, 0x1000)).toThrow(/has not mapped/);
            } else {
              dmaUnmapPhys(s, dev, phys, 0x1000);
              model.set(phys, n - 1);
            }
            dev.checkValid();
            for (const [addr, live] of model) expect(maps.lastPhys(addr) !== undefined).toBe(live > 0);
          }
          let total = 0;
          for (const live of model.values()) total += live;
          expect(dev.liveMappings).toBe(total);
        },
      ),
      fcRuns(60),
    );
  });

  it("checkValid names a dma_map_phys mapping that has no record, and a record with broken triples", () => {
    const maps = new DeviceMappings();
    const orphan = list([[0x1000, 0x1000]]);
    maps.addPhys(0x1000, orphan);
    expect(() => maps.checkValid()).toThrow(/dma_map_phys mapping at 4096 has no record/);
    maps.popPhys(0x1000);
    maps.checkValid();
    const rec: MapRecord = {
      kind: "mixed",
      dir: "bidirectional",
      attrs: 0,
      nents: 1,
      totalBytes: 0x1000,
      iova: 0,
      iovaSize: 0,
      bounces: [],
      direct: [0x1000, 0x1000],
      directProvider: [0],
      iommu: [],
      iommuProvider: [],
      revoked: false,
      revokedRanges: [],
      detach: [],
    };
    maps.addRecord(orphan, rec);
    expect(() => maps.checkValid()).toThrow(/direct triples 2 \/ providers 1/);
    maps.dropRecord(orphan, rec);
    expect(() => maps.dropRecord(orphan, rec)).toThrow(/not live/);
    expect(maps.empty).toBe(true);
  });
});

describe("DmaListBuilder", () => {
  it("finish() hands over the list with its kind and starts over; a finished list never changes", () => {
    const b = new DmaListBuilder(2);
    b.push(0x1000, 0x1000, 0, 0);
    b.push(0x5000, 0x800, 0, 0);
    b.push(0x9000, 0x200, 0, 0);
    expect(b.nents).toBe(3);
    const out = b.finish("iommu-segments");
    expect(out.kind).toBe("iommu-segments");
    expect(b.nents).toBe(0);
    b.push(0xa000, 0x1000, 0, 0);
    expect(out.toArray()).toEqual([
      { addr: 0x1000, len: 0x1000, flags: 0, provider: 0 },
      { addr: 0x5000, len: 0x800, flags: 0, provider: 0 },
      { addr: 0x9000, len: 0x200, flags: 0, provider: 0 },
    ]);
    out.checkValid();
    expect(b.finish("offset").toArray()).toEqual([{ addr: 0xa000, len: 0x1000, flags: 0, provider: 0 }]);
  });

  it("push of a bad range throws a RangeError naming it and leaves the builder unchanged", () => {
    const b = new DmaListBuilder();
    b.push(0x1000, 0x1000, 0, 0);
    expect(() => b.push(0x2000, 0, 0, 0)).toThrow(
      new RangeError("entry length 0x0 is invalid: expected an integer in 1..2^52"),
    );
    expect(() => b.push(-1, 0x1000, 0, 0)).toThrow(/entry address -1 is invalid/);
    expect(b.nents).toBe(1);
    const out = b.finish("offset");
    expect(out.nents).toBe(1);
    out.checkValid();
  });
});
