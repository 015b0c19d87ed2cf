import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns, GiB, MiB } from "../../test/kit/index.js";
import { DmaApiError, IommuFault, SwiotlbFull } from "../core/index.js";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory, memoryDigest } from "../mem/index.js";
import { PhyrList, type PhyrRead } from "../phyr/index.js";
import { dmaRead, dmaTranslate, dmaWrite } from "./access.js";
import { DMA_MASK_32, type DmaDevice } from "./device.js";
import { DmaList } from "./list.js";
import { dmaMap } from "./map.js";
import { SwiotlbPool } from "./swiotlb.js";
import { DmaSystem } from "./system.js";
import { dmaSyncForCpu, dmaSyncForDevice, dmaUnmap } from "./unmap.js";

/** A small machine: 1 GiB below 4 GiB and 1 GiB at 4 GiB; swiotlb 1 MiB at 16 MiB. */
function machine(opts: { swiotlb?: boolean; debug?: boolean } = {}): DmaSystem {
  const memory = new MachineMemory({
    nodes: [
      { start: 0, size: GiB },
      { start: 4 * GiB, size: GiB },
    ],
  });
  const swiotlb = opts.swiotlb === false ? undefined : new SwiotlbPool({ start: 16 * MiB, size: MiB });
  return new DmaSystem({ memory, swiotlb });
}

function list(ranges: [number, number][], cap = 2): PhyrList {
  return PhyrList.fromRanges(
    ranges.map(([addr, len]) => ({ addr, len })),
    { store: "wide", chunkCapacity: cap },
  );
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return b;
}

describe("dmaMap paths", () => {
  it("identity: no IOMMU, no offset, capable -> returns the very same list object", () => {
    const sys = machine();
    const dev = sys.addDevice({ name: "0000:01:00.0" });
    const l = list([
      [0x10000, 0x3000],
      [4 * GiB + 0x1000, 0x800],
    ]);
    const m = dmaMap(sys, dev, l, "to-device");
    expect(m).toBe(l);
    expect(sys.debug.leaks(dev.name)).toHaveLength(1);
    dmaUnmap(sys, dev, m, "to-device");
    sys.debug.checkNoLeaks();
    expect(dev.liveMappings).toBe(0);
  });

  it("offset: dma_range_map translates every entry, one output entry each (never merged)", () => {
    const sys = machine();
    const dev = sys.addDevice({
      name: "0000:02:00.0",
      dmaRangeMap: [
        { cpuStart: 0, dmaStart: 0x80000000, size: GiB },
        { cpuStart: 4 * GiB, dmaStart: 0xc0000000, size: GiB },
      ],
    });
    const l = list([
      [0x1000, 0x1000],
      [0x2000, 0x1000],
      [4 * GiB + 0x10, 0x20],
    ]);
    const m = dmaMap(sys, dev, l);
    expect(m).toBeInstanceOf(DmaList);
    expect((m as DmaList).kind).toBe("offset");
    expect([...m].map((e) => [e.addr, e.len])).toEqual([
      [0x80001000, 0x1000],
      [0x80002000, 0x1000],
      [0xc0000010, 0x20],
    ]);
    m.checkValid();
    dmaUnmap(sys, dev, m);
    sys.debug.checkNoLeaks();
  });

  it("bounce: a 32-bit device bounces high memory; device write -> sync -> CPU read is byte-exact", () => {
    const sys = machine();
    const dev = sys.addDevice({ name: "0000:03:00.0", dmaMask: DMA_MASK_32 });
    const hi = 4 * GiB + 0x3000;
    const l = list([
      [0x5000, 0x200],
      [hi, 0x1800],
    ]);
    const m = dmaMap(sys, dev, l, "bidirectional");
    expect((m as DmaList).kind).toBe("bounce");
    const e = [...m];
    expect(e[0].addr).toBe(0x5000);
    expect(e[1].addr).toBeGreaterThanOrEqual(16 * MiB);
    expect(e[1].addr + e[1].len).toBeLessThanOrEqual(17 * MiB);
    const data = bytes(0x1800, 3);
    dmaWrite(sys, dev, e[1].addr, data);
    expect(sys.memory.readPhys(hi, 0x1800)).not.toEqual(data); // still in the bounce buffer
    dmaSyncForCpu(sys, dev, m, "bidirectional");
    expect(sys.memory.readPhys(hi, 0x1800)).toEqual(data);
    // and back: CPU write -> sync for device -> device read
    const back = bytes(0x1800, 9);
    sys.memory.writePhys(hi, back);
    dmaSyncForDevice(sys, dev, m, "bidirectional");
    expect(dmaRead(sys, dev, e[1].addr, 0x1800)).toEqual(back);
    dmaUnmap(sys, dev, m, "bidirectional");
    expect(sys.swiotlb!.used).toBe(0);
    sys.swiotlb!.checkValid();
    sys.debug.checkNoLeaks();
  });

  it("forced swiotlb bounces even capable memory; unmap copies from-device data back", () => {
    const sys = machine();
    const dev = sys.addDevice({ name: "0000:04:00.0", forceSwiotlb: true });
    const l = list([[0x40000, 0x1000]]);
    const m = dmaMap(sys, dev, l, "from-device");
    const dma = m.entry(0).addr;
    expect(dma).not.toBe(0x40000);
    dmaWrite(sys, dev, dma, bytes(0x1000, 5));
    dmaUnmap(sys, dev, m, "from-device");
    expect(sys.memory.readPhys(0x40000, 0x1000)).toEqual(bytes(0x1000, 5));
  });

  it("swiotlb full: a typed error and nothing stays mapped", () => {
    const sys = machine();
    const dev = sys.addDevice({ name: "0000:05:00.0", forceSwiotlb: true });
    // 5 entries of 256 KiB in a 1 MiB pool (4 segments): the fifth does not fit.
    const l = list(Array.from({ length: 5 }, (_, i): [number, number] => [0x100000 * (i + 1), 0x40000]));
    expect(() => dmaMap(sys, dev, l)).toThrow(SwiotlbFull);
    expect(sys.swiotlb!.used).toBe(0);
    sys.swiotlb!.checkValid();
    expect(dev.liveMappings).toBe(0);
  });

  it("IOMMU: granule-aligned interior boundaries give one contiguous IOVA entry", () => {
    const sys = machine();
    const dom = new IommuDomain({ type: "dma" });
    const dev = sys.addDevice({ name: "0000:06:00.0" }, dom);
    const l = list([
      [0x13000 + 0x200, 0xe00],
      [0x80000, 0x2000],
      [4 * GiB, 0x1000],
      [0x7000, 0x100],
    ]);
    const m = dmaMap(sys, dev, l, "bidirectional");
    expect((m as DmaList).kind).toBe("iommu-single");
    expect(m.nents).toBe(1);
    const e = m.entry(0);
    expect(e.len).toBe(0xe00 + 0x2000 + 0x1000 + 0x100);
    expect(e.addr % 0x1000).toBe(0x200); // in-granule offset kept
    // every byte reachable at its place in the IOVA range
    sys.memory.writePhys(4 * GiB + 0x10, bytes(16, 1));
    expect(dmaRead(sys, dev, e.addr + 0xe00 + 0x2000 + 0x10, 16)).toEqual(bytes(16, 1));
    dmaUnmap(sys, dev, m);
    expect(() => dmaRead(sys, dev, e.addr, 4)).toThrow(IommuFault);
    dom.checkValid();
    sys.debug.checkNoLeaks();
  });

  it("IOMMU: an unaligned interior boundary gives padded segments (iommu_dma_map_sg / __finalise_sg)", () => {
    const sys = machine();
    const dom = new IommuDomain({ type: "dma" });
    const dev = sys.addDevice({ name: "0000:07:00.0" }, dom);
    // entry 0 ends mid-granule: entry 1 starts a new output segment at the next granule
    // (+ its own offset 0x100). Entry 2 starts at offset 0 after entry 1 ends at a granule end -> merged.
    const l = list([
      [0x10000, 0x800],
      [0x20100, 0xf00],
      [0x30000, 0x1000],
    ]);
    const m = dmaMap(sys, dev, l);
    expect((m as DmaList).kind).toBe("iommu-segments");
    const e = [...m];
    expect(e.length).toBe(2);
    expect(e[0].len).toBe(0x800);
    expect(e[1].addr).toBe(e[0].addr + 0x1000 + 0x100);
    expect(e[1].len).toBe(0xf00 + 0x1000);
    dmaUnmap(sys, dev, m);
    dom.checkValid();
  });

  it("IOMMU: segment boundary padding keeps a segment from crossing seg_boundary", () => {
    const sys = machine();
    const dom = new IommuDomain({ type: "dma" });
    const dev = sys.addDevice({ name: "0000:08:00.0", segBoundaryMask: 0xffff }, dom);
    // 0x3000 then 0xe000: 0x3000 + 0xe000 > 0x10000, so the first is padded by 0xd000 and the
    // second starts on the 64 KiB boundary (a new output segment).
    const l = list([
      [0x100000, 0x3000],
      [0x200000, 0xe000],
    ]);
    const m = dmaMap(sys, dev, l);
    const e = [...m];
    expect(e.length).toBe(2);
    expect(e[1].addr - e[0].addr).toBe(0x10000);
    expect(e[1].addr % 0x10000).toBe(0);
    dmaUnmap(sys, dev, m);
    dom.checkValid();
  });
});

describe("bad input: typed errors, state unchanged", () => {
  /** Everything a failed call must leave as it was. */
  function snapshot(sys: DmaSystem, l: PhyrList, dom?: IommuDomain): string {
    sys.memory.checkValid();
    l.checkValid();
    dom?.checkValid();
    for (const d of sys.devices.values()) d.checkValid();
    return JSON.stringify({
      memory: memoryDigest(sys.memory),
      list: l.toArray(),
      live: [...sys.devices.values()].map((d) => d.liveMappings),
      debug: sys.debug.liveCount,
      swiotlb: sys.swiotlb?.used ?? 0,
      pte: dom?.pgtable?.pteCount ?? 0,
      faults: dom?.faults.length ?? 0,
    });
  }

  // [case, device setup, list, call, expected code, message]
  const cases: [string, "plain" | "iommu" | "narrow", [number, number][], "map" | "unmap", string, RegExp][] =
    [
      [
        "an entry in no RAM and no BAR",
        "plain",
        [
          [0x1000, 0x1000],
          [2 * GiB, 0x1000],
        ],
        "map",
        "NO_MEMORY",
        /^Cannot map 0x80000000\+0x1000 for 0000:09:00\.0: entry 1 is in no RAM and no BAR$/,
      ],
      [
        "an entry in no RAM and no BAR, IOMMU device",
        "iommu",
        [
          [0x1000, 0x1000],
          [5 * GiB + 0x1000, 0x1000],
        ],
        "map",
        "NO_MEMORY",
        /^Cannot map 0x140001000\+0x1000 for 0000:09:00\.0: entry 1 is in no RAM and no BAR$/,
      ],
      [
        "DEVICE_PRIVATE memory for a foreign device",
        "iommu",
        [
          [0x1000, 0x1000],
          [8 * GiB + 0x3000, 0x2000],
        ],
        "map",
        "DEVICE_PRIVATE",
        /^Cannot map 0x200003000\+0x2000 for 0000:09:00\.0: DEVICE_PRIVATE memory of owner 7 has no owner translation$/,
      ],
      [
        "out-of-mask addresses with swiotlb disabled",
        "narrow",
        [
          [0x1000, 0x1000],
          [4 * GiB, 0x1000],
        ],
        "map",
        "DMA_MASK",
        /^Cannot map 0x100000000\+0x1000 for 0000:09:00\.0: beyond DMA mask 0xffffffff \(swiotlb is disabled\)$/,
      ],
      [
        "unmapping a list that was never mapped",
        "iommu",
        [[0x1000, 0x1000]],
        "unmap",
        "DMA_NOT_MAPPED",
        /^0000:09:00\.0: device driver tries to unmap DMA memory it has not mapped \[size=0x1000\]$/,
      ],
    ];
  for (const [name, setup, ranges, call, code, message] of cases) {
    it(`${name}: ${code}`, () => {
      const sys = machine({ swiotlb: setup !== "narrow" });
      // a GPU's DEVICE_PRIVATE memory (owner token 7) at 8 GiB, where there is no RAM
      sys.memory.addPgmap({ type: "PRIVATE", start: 8 * GiB, size: 2 * MiB, owner: 7 });
      const dom = setup === "iommu" ? new IommuDomain({ type: "dma" }) : undefined;
      const dev = sys.addDevice(
        { name: "0000:09:00.0", dmaMask: setup === "narrow" ? DMA_MASK_32 : undefined },
        dom,
      );
      // another live mapping that must survive the failed call untouched
      const other = list([[0x7000, 0x1000]]);
      const live = dmaMap(sys, dev, other, "to-device");
      const l = list(ranges);
      const before = snapshot(sys, l, dom);
      const err = (() => {
        try {
          if (call === "map") dmaMap(sys, dev, l);
          else dmaUnmap(sys, dev, l);
        } catch (e) {
          return e as DmaApiError;
        }
      })();
      expect(err).toBeInstanceOf(DmaApiError);
      expect(err!.code).toBe(code);
      expect(err!.message).toMatch(message);
      expect(snapshot(sys, l, dom)).toBe(before);
      dmaUnmap(sys, dev, live, "to-device");
      sys.debug.checkNoLeaks();
      expect(dom?.pgtable?.pteCount ?? 0).toBe(0);
    });
  }

  it("unmapping a list that was never mapped, double unmap, wrong direction, changed size", () => {
    const sys = machine();
    const dev = sys.addDevice({ name: "0000:0b:00.0" });
    const l = list([[0x1000, 0x1000]]);
    expect(() => dmaUnmap(sys, dev, l)).toThrow(/has not mapped/);
    const m = dmaMap(sys, dev, l, "to-device");
    expect(() => dmaUnmap(sys, dev, m, "from-device")).toThrow(/different direction/);
    l.append(0x9000, 0x1000);
    expect(() => dmaUnmap(sys, dev, m, "to-device")).toThrow(
      /different size \[map size=0x1000\] \[unmap size=0x2000\]/,
    );
    expect(sys.debug.leaks()).toHaveLength(1);
    const l2 = list([[0x1000, 0x1000]]);
    const m2 = dmaMap(sys, dev, l2, "to-device");
    dmaUnmap(sys, dev, m2, "to-device");
    expect(() => dmaUnmap(sys, dev, m2, "to-device")).toThrow(/already unmapped/);
    expect(sys.debug.violations.map((v) => v.code)).toEqual([
      "DMA_NOT_MAPPED",
      "DMA_WRONG_DIR",
      "DMA_WRONG_SIZE",
      "DMA_DOUBLE_UNMAP",
    ]);
    expect(() => sys.debug.checkNoLeaks()).toThrow(
      /pending DMA mappings \[count=1\], first at 0x1000\+0x1000/,
    );
  });

  it("device access after unmap is caught (checker without IOMMU, fault with IOMMU)", () => {
    const sys = machine();
    const dev = sys.addDevice({ name: "0000:0c:00.0" });
    const l = list([[0x2000, 0x1000]]);
    const m = dmaMap(sys, dev, l, "to-device");
    expect(dmaRead(sys, dev, 0x2000, 8)).toHaveLength(8);
    expect(() => dmaWrite(sys, dev, 0x2000, new Uint8Array(8))).toThrow(
      /device write to 0x2000\+0x8 hits no live mapping/,
    );
    dmaUnmap(sys, dev, m, "to-device");
    expect(() => dmaRead(sys, dev, 0x2000, 8)).toThrow(/DMA_ACCESS_UNMAPPED|hits no live mapping/);
  });

  it("bad arguments throw TypeError / RangeError", () => {
    const sys = machine();
    const dev = sys.addDevice({ name: "0000:0d:00.0" });
    const l = list([[0x1000, 0x1000]]);
    expect(() => dmaMap(sys, dev, l, "sideways" as never)).toThrow(TypeError);
    expect(() => dmaMap(sys, dev, l, "to-device", 3)).toThrow(RangeError);
    expect(() => dmaMap(sys, dev, new PhyrList())).toThrow(/nents 0/);
    expect(() => sys.addDevice({ name: "0000:0d:00.0" })).toThrow(/already registered/);
    expect(() => sys.addDevice({ name: "x", dmaMask: 0x1234 })).toThrow(/2\^n - 1/);
    expect(dev.liveMappings).toBe(0);
  });
});

/** Byte equality without vitest's element-by-element deep compare (fast on large arrays). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * "At no other address": probes DMA addresses around every output entry (one byte before, at the
 * end, about a granule either side). A probe that reaches memory at all (IOMMU granule padding,
 * the next entry) must not reach a byte of the list unless it is that byte's own DMA address.
 * Probes the checker refuses are logged as violations; they are deliberate, so the log is cleared.
 */
function checkNoOtherAddress(sys: DmaSystem, dev: DmaDevice, l: PhyrRead, m: PhyrRead): void {
  // the list's bytes as [phys, len, list offset]
  const bytesOf: number[] = [];
  let off = 0;
  for (const e of l) {
    bytesOf.push(e.addr, e.len, off);
    off += e.len;
  }
  const dmaAtOffset = (o: number): number => {
    const c = m.cursor();
    c.advance(o);
    return c.addr;
  };
  const probes: number[] = [];
  for (const e of m) probes.push(e.addr - 1, e.addr + e.len, e.addr - 0x1000, e.addr + e.len + 0xfff);
  for (const dma of probes) {
    if (dma < 0) continue;
    let phys = -1;
    try {
      dmaTranslate(sys, dev, dma, 1, false, (p) => {
        phys = p;
      });
    } catch {
      continue; // faulted or refused by the checker: not reachable
    }
    for (let i = 0; i < bytesOf.length; i += 3) {
      if (phys >= bytesOf[i] && phys < bytesOf[i] + bytesOf[i + 1]) {
        expect(dma).toBe(dmaAtOffset(bytesOf[i + 2] + phys - bytesOf[i]));
      }
    }
  }
  sys.debug.violations.length = 0;
}

describe("property: reachability and byte-exact data through every path", () => {
  it("every byte is reachable at its DMA address and no other; data is byte-exact; nothing after unmap", () => {
    const rangeArb = fc.tuple(fc.integer({ min: 1, max: 0x3000 }), fc.boolean());
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 8191 }), { minLength: 1, maxLength: 6 }),
        fc.array(rangeArb, { minLength: 6, maxLength: 6 }),
        fc.constantFrom("plain", "offset", "bounce", "iommu"),
        fc.constantFrom(2, 3, 64),
        (slots, shapes, setup, cap) => {
          const sys = machine();
          const dom = setup === "iommu" ? new IommuDomain({ type: "dma" }) : undefined;
          const dev = sys.addDevice(
            {
              name: "0000:10:00.0",
              dmaMask: setup === "bounce" ? DMA_MASK_32 : undefined,
              dmaRangeMap:
                setup === "offset"
                  ? [
                      { cpuStart: 4 * GiB, dmaStart: 0x40000000, size: GiB },
                      { cpuStart: 0, dmaStart: 8 * GiB, size: GiB },
                    ]
                  : undefined,
            },
            dom,
          );
          // disjoint ranges: distinct 64 KiB slots of 512 MiB in low (from 32 MiB) or high memory
          const l = list(
            slots.map((k, i): [number, number] => {
              const [len, high] = shapes[i];
              return [(high ? 4 * GiB : 32 * MiB) + k * 0x10000 + (len % 0x400), len];
            }),
            cap,
          );
          const digest = l.toArray();
          const m = dmaMap(sys, dev, l, "bidirectional", 0, { chunkCapacity: cap });
          m.checkValid();
          expect(m.totalBytes).toBe(l.totalBytes);
          if (setup === "plain") expect(m).toBe(l);
          checkNoOtherAddress(sys, dev, l, m);
          // walk input and output in step: device writes each input entry's bytes at its DMA address
          const out = m.cursor();
          const inp = l.cursor();
          let seed = 0;
          const expected: [number, Uint8Array][] = [];
          while (!inp.done) {
            let left = inp.entryLen;
            let phys = inp.entryAddr;
            while (left > 0) {
              const n = Math.min(left, out.remaining);
              const data = bytes(n, seed++);
              dmaWrite(sys, dev, out.addr, data);
              expected.push([phys, data]);
              phys += n;
              left -= n;
              out.advance(n);
            }
            inp.nextEntry();
          }
          dmaSyncForCpu(sys, dev, m, "bidirectional");
          for (const [phys, data] of expected)
            expect(same(sys.memory.readPhys(phys, data.length), data)).toBe(true);
          // CPU -> device
          for (const [phys, data] of expected)
            sys.memory.writePhys(
              phys,
              data.map((x) => x ^ 0x5a),
            );
          dmaSyncForDevice(sys, dev, m, "bidirectional");
          const c2 = m.cursor();
          for (const [, data] of expected) {
            expect(
              same(
                dmaRead(sys, dev, c2.addr, data.length),
                data.map((x) => x ^ 0x5a),
              ),
            ).toBe(true);
            c2.advance(data.length);
          }
          const starts = [...m].map((e) => e.addr);
          dmaUnmap(sys, dev, m, "bidirectional");
          // nothing is reachable after unmap: every output entry's first byte faults or is refused
          for (const a of starts) expect(() => dmaRead(sys, dev, a, 1)).toThrow();
          sys.debug.checkNoLeaks();
          if (sys.swiotlb) {
            expect(sys.swiotlb.used).toBe(0);
            sys.swiotlb.checkValid();
          }
          dom?.checkValid();
          l.checkValid();
          expect(l.toArray()).toEqual(digest); // the input list is unchanged
        },
      ),
      fcRuns(60),
    );
  });
});
