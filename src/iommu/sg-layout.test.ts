import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { iommuDmaSgLayout } from "./sg-layout.js";

const K = 1024;
const G = 2 ** 30;

// Expected layouts worked out by hand from drivers/iommu/dma-iommu.c iommu_dma_map_sg
// (s_iova_off = offset in the granule, s_length = iova_align(len + off),
// pad_len = (mask - iova_len + 1) & mask, previous segment padded when
// pad_len && pad_len < s_length - 1) and drivers/iommu/iommu.c iommu_map_sg (one iommu_map per
// run of segments whose sg_phys continues the previous padded segment).
describe("iommuDmaSgLayout follows iommu_dma_map_sg and iommu_map_sg", () => {
  const cases: {
    name: string;
    phys: number[];
    len: number[];
    mask: number;
    off: number[];
    pad: number[];
    total: number;
    maps: [off: number, phys: number, len: number][];
  }[] = [
    {
      name: "64 KiB boundary: 0x3000 then 0xe000 pads the first by 0xd000",
      phys: [0x100000, 0x200000],
      len: [0x3000, 0xe000],
      mask: 0xffff,
      off: [0, 0x10000],
      pad: [0xd000, 0],
      total: 0x1e000,
      maps: [
        [0, 0x100000, 0x10000],
        [0x10000, 0x200000, 0xe000],
      ],
    },
    {
      name: "a segment that ends exactly on the boundary needs no pad (pad_len 0)",
      phys: [0x100000, 0x200000],
      len: [0x10000, 0x4000],
      mask: 0xffff,
      off: [0, 0x10000],
      pad: [0, 0],
      total: 0x14000,
      maps: [
        [0, 0x100000, 0x10000],
        [0x10000, 0x200000, 0x4000],
      ],
    },
    {
      name: "a one-granule segment that fits up to the boundary is not padded (pad_len < s_length - 1 fails)",
      phys: [0x100000, 0x300000],
      len: [0xf000, 0x1000],
      mask: 0xffff,
      off: [0, 0xf000],
      pad: [0, 0],
      total: 0x10000,
      maps: [
        [0, 0x100000, 0xf000],
        [0xf000, 0x300000, 0x1000],
      ],
    },
    {
      name: "in-granule offsets are kept: the span starts at the granule and is padded to it",
      phys: [0x10200, 0x20000],
      len: [0x100, 0x1800],
      mask: 0xffffffff,
      off: [0, 0x1000],
      pad: [0, 0],
      total: 0x3000,
      maps: [
        [0, 0x10000, 0x1000],
        [0x1000, 0x20000, 0x2000],
      ],
    },
    {
      name: "4 GiB boundary: 3 GiB then 2 GiB pads the first by 1 GiB; the pad maps the memory after it",
      phys: [0, 6 * G],
      len: [3 * G, 2 * G],
      mask: 0xffffffff,
      off: [0, 4 * G],
      pad: [G, 0],
      total: 6 * G,
      maps: [
        [0, 0, 4 * G],
        [4 * G, 6 * G, 2 * G],
      ],
    },
    {
      name: "a padded segment followed by the memory after its pad is one iommu_map",
      phys: [0, 4 * G],
      len: [3 * G, 2 * G],
      mask: 0xffffffff,
      off: [0, 4 * G],
      pad: [G, 0],
      total: 6 * G,
      maps: [[0, 0, 6 * G]],
    },
    {
      name: "physically contiguous segments concatenate into one map call",
      phys: [0x40000, 0x42000, 0x90000],
      len: [0x2000, 4 * K, 4 * K],
      mask: 0xffffffff,
      off: [0, 0x2000, 0x3000],
      pad: [0, 0, 0],
      total: 0x4000,
      maps: [
        [0, 0x40000, 0x3000],
        [0x3000, 0x90000, 0x1000],
      ],
    },
  ];
  it.each(cases)("$name", (c) => {
    const lay = iommuDmaSgLayout({ n: c.phys.length, phys: c.phys, len: c.len }, 4096, c.mask);
    expect([...lay.iovaOff]).toEqual(c.off);
    expect([...lay.pad]).toEqual(c.pad);
    expect(lay.total).toBe(c.total);
    const maps: [number, number, number][] = [];
    for (let m = 0; m < lay.nmaps; m++) maps.push([lay.mapOff[m], lay.mapPhys[m], lay.mapLen[m]]);
    expect(maps).toEqual(c.maps);
  });

  it("skipped (bus-address) segments take no IOVA; keys keep providers in separate map calls", () => {
    const lay = iommuDmaSgLayout(
      {
        n: 4,
        phys: [0x10000, 0x11000, 0xe0000000, 0x12000],
        len: [0x1000, 0x1000, 0x1000, 0x1000],
        skip: [0, 0, 1, 0],
        key: [0, 1, 2, 1],
      },
      4096,
      0xffffffff,
    );
    expect([...lay.iovaLen]).toEqual([0x1000, 0x1000, 0, 0x1000]);
    expect(lay.total).toBe(0x3000);
    expect(lay.nmaps).toBe(2);
    expect([lay.mapPhys[0], lay.mapLen[0], lay.mapKey[0]]).toEqual([0x10000, 0x1000, 0]);
    expect([lay.mapPhys[1], lay.mapLen[1], lay.mapKey[1]]).toEqual([0x11000, 0x2000, 1]);
  });

  it("refuses a bad granule, mask or segment with a RangeError naming the value", () => {
    const one = { n: 1, phys: [0x1000], len: [0x1000] };
    expect(() => iommuDmaSgLayout(one, 3000, 0xffff)).toThrow(/granule 3000 is invalid/);
    expect(() => iommuDmaSgLayout(one, 4096, 0xfffe)).toThrow(/mask 65534 is invalid/);
    expect(() => iommuDmaSgLayout({ n: 1, phys: [0x1000], len: [0] }, 4096, 0xffff)).toThrow(
      /segment 0 0x1000\+0x0 is invalid/,
    );
  });

  it("maps exactly the IOVA it lays out, segments in order, each inside one boundary window when it fits (property)", () => {
    const seg = fc.record({
      page: fc.nat(1 << 20),
      off: fc.nat(4095),
      len: fc.integer({ min: 1, max: 40000 }),
    });
    fc.assert(
      fc.property(
        fc.array(seg, { minLength: 1, maxLength: 12 }),
        fc.constantFrom(0xffff, 0x1ffff, 0xffffffff),
        (ss, mask) => {
          const phys = ss.map((s) => s.page * 4096 + s.off);
          const len = ss.map((s) => s.len);
          const lay = iommuDmaSgLayout({ n: ss.length, phys, len }, 4096, mask);
          let mapped = 0;
          for (let m = 0; m < lay.nmaps; m++) {
            expect(lay.mapOff[m]).toBe(mapped);
            mapped += lay.mapLen[m];
          }
          expect(mapped).toBe(lay.total);
          for (let i = 0; i < ss.length; i++) {
            const span = Math.ceil((len[i] + (phys[i] % 4096)) / 4096) * 4096;
            expect(lay.iovaLen[i]).toBe(span + lay.pad[i]);
            if (i > 0) expect(lay.iovaOff[i]).toBe(lay.iovaOff[i - 1] + lay.iovaLen[i - 1]);
            // A segment no longer than the boundary never straddles it.
            if (span <= mask + 1) {
              expect(Math.floor(lay.iovaOff[i] / (mask + 1))).toBe(
                Math.floor((lay.iovaOff[i] + span - 1) / (mask + 1)),
              );
            }
          }
        },
      ),
      fcRuns(200),
    );
  });
});
