import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns, GiB, MiB } from "../../test/kit/index.js";
import { DmaApiError, IommuFault, MemError, P2pNotSupported } from "../core/index.js";
import { IommuDomain, IommuProt } from "../iommu/index.js";
import { MachineMemory, memoryDigest } from "../mem/index.js";
import { ProviderRegistry, providersForDevice } from "../p2p/index.js";
import { PciAcs, type PciP2pAllowlist, PciTopology } from "../pci/index.js";
import { PhyrFlag, PhyrList } from "../phyr/index.js";
import { dmaRead, dmaTranslate, dmaWrite } from "./access.js";
import type { DmaDevice } from "./device.js";
import type { DmaList } from "./list.js";
import { dmaMap } from "./map.js";
import { p2pPortFor } from "./p2p-port.js";
import { DmaSystem } from "./system.js";
import { dmaUnmap } from "./unmap.js";

/** Host bridge 0's bus offset: bus address = CPU address + 2^40. */
const BUS_OFFSET = 2 ** 40;
/** Where the GPU's DEVICE_PRIVATE memory sits in the physical map (no RAM there). */
const PRIVATE_START = 64 * GiB;
const GPU_OWNER = 4;

interface Options {
  /** Allowlist entry of host bridge 0 (default "any"). */
  hb0?: PciP2pAllowlist;
  /** Allowlist entries of host bridges 1 and 2 (default "none"). */
  far?: [PciP2pAllowlist, PciP2pAllowlist];
  /** ACS control of the GPU's switch downstream port 0000:02:01.0. */
  gpuPortAcs?: number;
  /** AMD Zen (family 0x19): cpu_supports_p2pdma(). */
  amd?: boolean;
  /** Memory profile: false = no ZONE_DEVICE (s390). */
  zoneDevice?: boolean;
}

/**
 * Host bridge 0 (bus offset 2^40):
 *   root port 0000:00:01.0 -> switch 0000:01:00.0 -> 0000:02:00.0 -> NVMe 0000:03:00.0 (2 MiB CMB)
 *                                                -> 0000:02:01.0 -> GPU  0000:04:00.0 (16 MiB BAR)
 *                                                -> 0000:02:02.0 -> VFIO 0000:05:00.0 (4 KiB BAR)
 *   root port 0000:00:02.0 -> NIC 0000:06:00.0 (1 MiB BAR)
 * Host bridge 1: root port 0001:00:01.0 -> A 0001:01:00.0 (1 MiB BAR)
 * Host bridge 2: root port 0002:00:01.0 -> B 0002:01:00.0 (1 MiB BAR)
 * The GPU, NIC and B sit behind IOMMUs; the NVMe is dma-direct. Every BAR is a registered provider;
 * the first 64 KiB of each (all of the VFIO BAR) has byte contents.
 */
function machine(o: Options = {}) {
  const t = new PciTopology(o.amd ? { cpuVendor: "AMD", cpuFamily: 0x19 } : {});
  t.hostBridge({ domain: 0, allowlist: o.hb0 ?? "any", busOffset: BUS_OFFSET });
  t.hostBridge({ domain: 1, allowlist: o.far?.[0] ?? "none" });
  t.hostBridge({ domain: 2, allowlist: o.far?.[1] ?? "none" });
  t.rootPort("0000:00:01.0", { secondary: 1 });
  t.switchUp("0000:01:00.0", { secondary: 2 });
  t.switchDown("0000:02:00.0", { secondary: 3 });
  t.switchDown("0000:02:01.0", { secondary: 4, acsCtrl: o.gpuPortAcs ?? 0 });
  t.switchDown("0000:02:02.0", { secondary: 5 });
  t.endpoint("0000:03:00.0", { bars: [{ size: 2 * MiB }], name: "NVMe" });
  t.endpoint("0000:04:00.0", { bars: [{ size: 16 * MiB }], name: "GPU" });
  t.endpoint("0000:05:00.0", { bars: [{ size: 4096 }], name: "VFIO" });
  t.rootPort("0000:00:02.0", { secondary: 6 });
  t.endpoint("0000:06:00.0", { bars: [{ size: MiB }], name: "NIC" });
  t.rootPort("0001:00:01.0", { secondary: 1 });
  t.endpoint("0001:01:00.0", { bars: [{ size: MiB }], name: "A" });
  t.rootPort("0002:00:01.0", { secondary: 1 });
  t.endpoint("0002:01:00.0", { bars: [{ size: MiB }], name: "B" });
  const reg = new ProviderRegistry();
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: GiB }],
    pciWindows: [{ start: 2 ** 44, size: 3 * 2 ** 40 }],
    zoneDevice: o.zoneDevice,
  });
  const bar = (bdf: string) => {
    const p = providersForDevice(t, bdf)[0];
    const index = reg.add(p);
    const bytes = new Uint8Array(Math.min(p.size, 64 * 1024));
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + index * 29) & 0xff;
    mem.data.registerMmio(p.start, bytes);
    return { index, start: p.start, size: p.size, bytes };
  };
  const cmb = bar("0000:03:00.0");
  const gpuBar = bar("0000:04:00.0");
  const vfioBar = bar("0000:05:00.0");
  const nicBar = bar("0000:06:00.0");
  const aBar = bar("0001:01:00.0");
  const sys = new DmaSystem({ memory: mem, p2p: p2pPortFor(t, reg) });
  const doms = new Map<DmaDevice, IommuDomain>();
  const add = (name: string, iommu: boolean) => {
    const dom = iommu ? new IommuDomain({ type: "dma" }) : undefined;
    const dev = sys.addDevice({ name }, dom);
    if (dom) doms.set(dev, dom);
    return dev;
  };
  const nvme = add("0000:03:00.0", false);
  const gpu = add("0000:04:00.0", true);
  const nic = add("0000:06:00.0", true);
  const b = add("0002:01:00.0", true);
  return { t, reg, mem, sys, doms, cmb, gpuBar, vfioBar, nicBar, aBar, nvme, gpu, nic, b };
}

type M = ReturnType<typeof machine>;

function list(ranges: { addr: number; len: number; provider?: number }[]): PhyrList {
  return PhyrList.fromRanges(ranges, { store: "wide", chunkCapacity: 2 });
}

/** Nothing of `dev` is mapped: no live mapping, no IO page-table entry, no leak; memory unchanged. */
function expectNothingMapped(m: M, dev: DmaDevice, digest: string): void {
  expect(dev.liveMappings).toBe(0);
  dev.checkValid();
  const dom = m.doms.get(dev);
  if (dom) {
    expect(dom.pgtable!.pteCount).toBe(0);
    dom.checkValid();
  }
  m.sys.debug.checkNoLeaks();
  expect(memoryDigest(m.mem)).toBe(digest);
}

describe("P2P map types through dmaMap (drivers/pci/p2pdma.c calc_map_type_and_dist)", () => {
  // Provider = the GPU BAR (0000:04:00.0); expected values follow the kernel rule by hand:
  // - NVMe 0000:03:00.0 shares switch port 0000:01:00.0 with the GPU (GPU walk 04:00.0 -> 02:01.0
  //   -> 01:00.0, which is on the NVMe's chain): BUS_ADDR unless an ACS redirect bit is set on the
  //   walk; then THRU_HOST_BRIDGE if the host bridge is allowlisted (or the CPU is AMD >= 0x17).
  // - NIC 0000:06:00.0 is below another root port: no shared bridge -> THRU_HOST_BRIDGE when host
  //   bridge 0 is on the allowlist (any entry: same host bridge) or the CPU supports it, else
  //   NOT_SUPPORTED.
  // THRU_HOST_BRIDGE for a dma-direct client (the NVMe) is dma = CPU address (offset-free map);
  // for an IOMMU client (the NIC) one IOVA mapped as MMIO.
  const cases: [string, Options, "nvme" | "nic", string][] = [
    ["same switch", {}, "nvme", "BUS_ADDR"],
    [
      "same switch, ACS RR on the GPU port, allowlisted",
      { gpuPortAcs: PciAcs.RR },
      "nvme",
      "THRU_HOST_BRIDGE",
    ],
    [
      "same switch, ACS CR on the GPU port, not allowlisted",
      { gpuPortAcs: PciAcs.CR, hb0: "none" },
      "nvme",
      "NOT_SUPPORTED",
    ],
    [
      "same switch, ACS SV only (not a redirect bit)",
      { gpuPortAcs: PciAcs.SV, hb0: "none" },
      "nvme",
      "BUS_ADDR",
    ],
    ["other root port, allowlisted (any)", {}, "nic", "THRU_HOST_BRIDGE"],
    ["other root port, allowlisted (sameHostBridge)", { hb0: "sameHostBridge" }, "nic", "THRU_HOST_BRIDGE"],
    ["other root port, not allowlisted", { hb0: "none" }, "nic", "NOT_SUPPORTED"],
    [
      "other root port, not allowlisted, AMD family 0x19",
      { hb0: "none", amd: true },
      "nic",
      "THRU_HOST_BRIDGE",
    ],
  ];
  for (const [name, opts, who, want] of cases) {
    it(`${name}: ${want}`, () => {
      const m = machine(opts);
      const dev = m[who];
      const digest = memoryDigest(m.mem);
      const l = list([{ addr: m.gpuBar.start + 0x3000, len: 0x2000 }]);
      if (want === "NOT_SUPPORTED") {
        expect(() => dmaMap(m.sys, dev, l)).toThrow(P2pNotSupported);
        expectNothingMapped(m, dev, digest);
        return;
      }
      const d = dmaMap(m.sys, dev, l, "to-device") as DmaList;
      const e = d.entry(0);
      expect(e.provider).toBe(m.gpuBar.index);
      expect(e.flags & PhyrFlag.MMIO).toBe(PhyrFlag.MMIO);
      if (want === "BUS_ADDR") {
        expect(d.kind).toBe("p2p-bus");
        expect(e.addr).toBe(m.gpuBar.start + 0x3000 + BUS_OFFSET);
        expect(e.flags & PhyrFlag.BUS_ADDR).toBe(PhyrFlag.BUS_ADDR);
      } else {
        expect(e.flags & PhyrFlag.BUS_ADDR).toBe(0);
        if (who === "nvme") expect(e.addr).toBe(m.gpuBar.start + 0x3000);
        else expect(d.kind).toBe("iommu-single");
      }
      expect(dmaRead(m.sys, dev, e.addr + 0x10, 8)).toEqual(m.gpuBar.bytes.subarray(0x3010, 0x3018));
      dmaUnmap(m.sys, dev, d, "to-device");
      expectNothingMapped(m, dev, digest);
    });
  }
});

describe("P2P scenario", () => {
  it("an NVMe CMB and a GPU BAR behind one switch: bus addresses both ways, IOMMU bypassed", () => {
    const m = machine();
    const toCmb = dmaMap(m.sys, m.gpu, list([{ addr: m.cmb.start + 0x1000, len: 0x3000 }])) as DmaList;
    expect(toCmb.kind).toBe("p2p-bus");
    expect(toCmb.toArray()).toEqual([
      {
        addr: m.cmb.start + 0x1000 + BUS_OFFSET,
        len: 0x3000,
        flags: PhyrFlag.BUS_ADDR | PhyrFlag.MMIO,
        provider: m.cmb.index,
      },
    ]);
    expect(m.doms.get(m.gpu)!.pgtable!.pteCount).toBe(0); // SG_DMA_BUS_ADDRESS: no IOMMU mapping
    // device write into the CMB, read back by the CPU from the BAR bytes
    dmaWrite(m.sys, m.gpu, toCmb.entry(0).addr + 0x20, Uint8Array.of(9, 8, 7));
    expect(m.mem.readPhys(m.cmb.start + 0x1020, 3)).toEqual(Uint8Array.of(9, 8, 7));
    const toGpu = dmaMap(m.sys, m.nvme, list([{ addr: m.gpuBar.start, len: 0x1000 }]), "to-device");
    expect(toGpu.entry(0).addr).toBe(m.gpuBar.start + BUS_OFFSET);
    expect(dmaRead(m.sys, m.nvme, toGpu.entry(0).addr + 5, 4)).toEqual(m.gpuBar.bytes.subarray(5, 9));
    // one byte past the mapped CMB range is not the device's to touch (no IOMMU entry, no mapping)
    expect(() => dmaRead(m.sys, m.gpu, toCmb.entry(0).addr + 0x3000, 1)).toThrow(IommuFault);
    dmaUnmap(m.sys, m.gpu, toCmb);
    dmaUnmap(m.sys, m.nvme, toGpu, "to-device");
    m.sys.debug.checkNoLeaks();
  });

  it("memory and a peer BAR in one list: one IOVA for the memory, a bus address for the BAR (mixed)", () => {
    const m = machine();
    const l = list([
      { addr: 0x10_0000, len: 0x2000 },
      { addr: m.cmb.start + 0x4000, len: 0x1000 },
      { addr: 0x20_0000, len: 0x1000 },
    ]);
    const d = dmaMap(m.sys, m.gpu, l) as DmaList;
    expect(d.kind).toBe("mixed");
    const e = d.toArray();
    expect(e.map((x) => x.len)).toEqual([0x2000, 0x1000, 0x1000]);
    expect(e[1].addr).toBe(m.cmb.start + 0x4000 + BUS_OFFSET);
    expect(e[2].addr).toBe(e[0].addr + 0x2000); // the IOVA range continues past the bus entry
    m.mem.writePhys(0x20_0000, Uint8Array.of(1, 2));
    expect(dmaRead(m.sys, m.gpu, e[2].addr, 2)).toEqual(Uint8Array.of(1, 2));
    expect(dmaRead(m.sys, m.gpu, e[1].addr, 2)).toEqual(m.cmb.bytes.subarray(0x4000, 0x4002));
    dmaUnmap(m.sys, m.gpu, d);
    expect(m.doms.get(m.gpu)!.pgtable!.pteCount).toBe(0);
    m.sys.debug.checkNoLeaks();
  });

  it("behind different root ports of an allowlisted host bridge: through the host bridge as MMIO", () => {
    const m = machine();
    const d = dmaMap(m.sys, m.nic, list([{ addr: m.gpuBar.start + 0x2000, len: 0x5000 }])) as DmaList;
    expect(d.kind).toBe("iommu-single");
    const iova = d.entry(0).addr;
    const pt = m.doms.get(m.nic)!.pgtable!;
    expect(pt.lookup(iova)).toBe(true);
    expect(pt.found.phys).toBe(m.gpuBar.start + 0x2000);
    expect(pt.found.prot & IommuProt.MMIO).toBe(IommuProt.MMIO); // IOMMU_MMIO, not IOMMU_CACHE
    expect(pt.found.prot & IommuProt.CACHE).toBe(0);
    expect(dmaRead(m.sys, m.nic, iova + 0x4ff0, 16)).toEqual(m.gpuBar.bytes.subarray(0x6ff0, 0x7000));
    dmaUnmap(m.sys, m.nic, d);
    m.sys.debug.checkNoLeaks();
  });

  it("across two non-allowlisted host bridges: NOT_SUPPORTED and nothing mapped", () => {
    const m = machine();
    const digest = memoryDigest(m.mem);
    // the BAR alone, and behind a RAM entry (which must not stay mapped either)
    const alone = list([{ addr: m.aBar.start, len: 0x1000 }]);
    const mixed = list([
      { addr: 0x30_0000, len: 0x1000 },
      { addr: m.aBar.start + 0x1000, len: 0x1000 },
    ]);
    for (const l of [alone, mixed]) {
      expect(() => dmaMap(m.sys, m.b, l)).toThrow(
        /of 0001:01:00\.0 BAR 0 0x[0-9a-f]+\+0x100000 for 0002:01:00\.0: P2P map type is NOT_SUPPORTED/,
      );
      expectNothingMapped(m, m.b, digest);
    }
    // both host bridges allowlisted without REQ_SAME_HOST_BRIDGE: through the host bridges
    const ok = machine({ far: ["any", "any"] });
    const d = dmaMap(ok.sys, ok.b, list([{ addr: ok.aBar.start, len: 0x1000 }])) as DmaList;
    expect(d.kind).toBe("iommu-single");
    dmaUnmap(ok.sys, ok.b, d);
    // one of them only for its own host bridge: NOT_SUPPORTED again
    const half = machine({ far: ["sameHostBridge", "any"] });
    expect(() => dmaMap(half.sys, half.b, list([{ addr: half.aBar.start, len: 0x1000 }]))).toThrow(
      P2pNotSupported,
    );
  });

  it("a 4 KiB VFIO BAR is served by a provider, where no pgmap can cover it", () => {
    const m = machine();
    // memremap_pages works in 2 MiB subsections: a 4 KiB BAR cannot get a pgmap of its own.
    expect(() =>
      m.mem.addPgmap({ type: "PCI_P2PDMA", start: m.vfioBar.start, size: 4096, provider: m.vfioBar.index }),
    ).toThrow(MemError);
    expect(m.mem.pgmaps).toHaveLength(0);
    // provider carried in the entry (a vfio-pci dma-buf's ranges) and found by address lookup
    for (const provider of [m.vfioBar.index, 0]) {
      const l = list([{ addr: m.vfioBar.start + 0x800, len: 0x800, provider }]);
      const bus = dmaMap(m.sys, m.gpu, l, "to-device");
      expect(bus.entry(0)).toEqual({
        addr: m.vfioBar.start + 0x800 + BUS_OFFSET,
        len: 0x800,
        flags: PhyrFlag.BUS_ADDR | PhyrFlag.MMIO,
        provider: m.vfioBar.index,
      });
      expect(dmaRead(m.sys, m.gpu, bus.entry(0).addr + 0x7fc, 4)).toEqual(m.vfioBar.bytes.subarray(0xffc));
      const thru = dmaMap(m.sys, m.nic, l, "to-device");
      expect(dmaRead(m.sys, m.nic, thru.entry(0).addr, 4)).toEqual(m.vfioBar.bytes.subarray(0x800, 0x804));
      dmaUnmap(m.sys, m.gpu, bus, "to-device");
      dmaUnmap(m.sys, m.nic, thru, "to-device");
    }
    // a range running past the 4 KiB aperture is refused
    expect(() =>
      dmaMap(m.sys, m.gpu, list([{ addr: m.vfioBar.start + 0x800, len: 0x1000, provider: m.vfioBar.index }])),
    ).toThrow(/outside provider 0000:05:00\.0 BAR 0/);
    m.sys.debug.checkNoLeaks();
  });

  it("revoke while mapped tears the mappings down; the next device access faults", () => {
    const m = machine();
    const gpuRange = list([{ addr: m.gpuBar.start + 0x1000, len: 0x2000 }]);
    const viaIommu = dmaMap(m.sys, m.nic, gpuRange, "to-device"); // through the host bridge
    const viaBus = dmaMap(m.sys, m.nvme, gpuRange, "to-device"); // bus address
    const other = dmaMap(m.sys, m.gpu, list([{ addr: m.cmb.start, len: 0x1000 }]), "to-device");
    const nicDom = m.doms.get(m.nic)!;
    expect(dmaRead(m.sys, m.nic, viaIommu.entry(0).addr, 1)).toHaveLength(1);
    expect(nicDom.pgtable!.pteCount).toBeGreaterThan(0);
    m.reg.revoke(m.gpuBar.index);
    expect(nicDom.pgtable!.pteCount).toBe(0); // iommu_unmap + IOTLB sync at revoke time
    m.nic.checkValid(); // the revoked record keeps its triples and revoked ranges well formed
    m.nvme.checkValid();
    expect(() => dmaRead(m.sys, m.nic, viaIommu.entry(0).addr, 1)).toThrow(IommuFault);
    expect(() => dmaRead(m.sys, m.nvme, viaBus.entry(0).addr, 1)).toThrow(/was revoked/);
    expect(() => dmaWrite(m.sys, m.nvme, viaBus.entry(0).addr + 0x1000, Uint8Array.of(1))).toThrow(
      IommuFault,
    );
    // another provider's mapping is untouched
    expect(dmaRead(m.sys, m.gpu, other.entry(0).addr, 2)).toEqual(m.cmb.bytes.subarray(0, 2));
    // the owners still unmap what they mapped; new mappings of the revoked BAR are refused
    dmaUnmap(m.sys, m.nic, viaIommu, "to-device");
    dmaUnmap(m.sys, m.nvme, viaBus, "to-device");
    dmaUnmap(m.sys, m.gpu, other, "to-device");
    const err = (() => {
      try {
        dmaMap(m.sys, m.nic, gpuRange);
      } catch (e) {
        return e as DmaApiError;
      }
    })();
    expect(err?.code).toBe("NO_PROVIDER");
    expect(err?.message).toMatch(/provider 0000:04:00\.0 BAR 0 .* is revoked/);
    nicDom.checkValid();
    m.sys.debug.checkNoLeaks();
  });
});

describe("DEVICE_PRIVATE memory and a foreign device", () => {
  /** The GPU's private memory: 2 MiB at 64 GiB, owner token 4; the owner shows it through its BAR. */
  function withPrivate(m: M): void {
    m.mem.addPgmap({ type: "PRIVATE", start: PRIVATE_START, size: 2 * MiB, owner: GPU_OWNER });
  }
  const translate = (m: M) => (p: number) =>
    p >= PRIVATE_START && p < PRIVATE_START + MiB ? m.gpuBar.start + (p - PRIVATE_START) : -1;

  it("is refused without the owner's translation; state unchanged", () => {
    const m = machine();
    withPrivate(m);
    const digest = memoryDigest(m.mem);
    const l = list([{ addr: PRIVATE_START + 0x1000, len: 0x2000 }]);
    for (const dev of [m.nic, m.nvme]) {
      const err = (() => {
        try {
          dmaMap(m.sys, dev, l);
        } catch (e) {
          return e as DmaApiError;
        }
      })();
      expect(err).toBeInstanceOf(DmaApiError);
      expect(err!.code).toBe("DEVICE_PRIVATE");
      expect(err!.message).toBe(
        `Cannot map 0x1000001000+0x2000 for ${dev.name}: DEVICE_PRIVATE memory of owner 4 has no owner translation`,
      );
      expectNothingMapped(m, dev, digest);
    }
    // a dma-direct device touching the private address without a mapping is caught too
    expect(() => dmaRead(m.sys, m.nvme, PRIVATE_START + 0x1000, 1)).toThrow(/hits no live mapping/);
  });

  it("reaches the right BAR bytes with it (through the host bridge and as a bus address)", () => {
    const m = machine();
    withPrivate(m);
    m.sys.registerPrivateOwner(GPU_OWNER, { device: "0000:04:00.0", translate: translate(m) });
    const l = list([{ addr: PRIVATE_START + 0x1000, len: 0x2000 }]);
    const nic = dmaMap(m.sys, m.nic, l) as DmaList;
    expect(nic.kind).toBe("iommu-single");
    expect(dmaRead(m.sys, m.nic, nic.entry(0).addr + 0x10, 8)).toEqual(
      m.gpuBar.bytes.subarray(0x1010, 0x1018),
    );
    const nvme = dmaMap(m.sys, m.nvme, l);
    expect(nvme.entry(0).addr).toBe(m.gpuBar.start + 0x1000 + BUS_OFFSET);
    expect(nvme.entry(0).provider).toBe(m.gpuBar.index);
    dmaWrite(m.sys, m.nvme, nvme.entry(0).addr + 0x1fff, Uint8Array.of(0xab));
    expect(m.mem.readPhys(m.gpuBar.start + 0x2fff, 1)).toEqual(Uint8Array.of(0xab));
    dmaUnmap(m.sys, m.nic, nic);
    dmaUnmap(m.sys, m.nvme, nvme);
    // the owner exposes only the first 1 MiB: a range beyond it is refused
    const digest = memoryDigest(m.mem);
    expect(() => dmaMap(m.sys, m.nic, list([{ addr: PRIVATE_START + MiB, len: 0x1000 }]))).toThrow(
      /has no linear BAR translation/,
    );
    expectNothingMapped(m, m.nic, digest);
  });
});

describe("the no-pgmap profile (no ZONE_DEVICE, as s390)", () => {
  it("P2P works through providers alone and gives what the pgmap path gives on x86-64", () => {
    const results: string[] = [];
    for (const zoneDevice of [true, false]) {
      const m = machine({ zoneDevice });
      expect(m.sys.pgmap).toBe(zoneDevice);
      const pgmap = {
        type: "PCI_P2PDMA" as const,
        start: m.gpuBar.start,
        size: 16 * MiB,
        provider: m.gpuBar.index,
      };
      if (zoneDevice)
        m.mem.addPgmap(pgmap); // x86-64: the BAR also has a P2PDMA pgmap
      else expect(() => m.mem.addPgmap(pgmap)).toThrow(/no ZONE_DEVICE/);
      const l = list([
        { addr: m.gpuBar.start + 0x4000, len: 0x1000 },
        { addr: m.cmb.start, len: 0x1000 },
      ]);
      const bus = dmaMap(m.sys, m.nvme, l, "to-device") as DmaList;
      const thru = dmaMap(m.sys, m.nic, l, "to-device") as DmaList;
      expect(dmaRead(m.sys, m.nic, thru.entry(0).addr, 4)).toEqual(m.gpuBar.bytes.subarray(0x4000, 0x4004));
      expect(dmaRead(m.sys, m.nvme, bus.entry(1).addr, 4)).toEqual(m.cmb.bytes.subarray(0, 4));
      results.push(JSON.stringify([bus.toArray(), thru.kind, thru.nents]));
      dmaUnmap(m.sys, m.nvme, bus, "to-device");
      dmaUnmap(m.sys, m.nic, thru, "to-device");
      m.sys.debug.checkNoLeaks();
    }
    expect(results[1]).toBe(results[0]);
  });
});

describe("property: P2P and memory mixed, every client", () => {
  it("every byte is reachable at its DMA address and no other, or NOT_SUPPORTED maps nothing", () => {
    // regions a list entry may come from: RAM, and the first 64 KiB of each BAR (bytes backed)
    const regionArb = fc.record({
      region: fc.constantFrom("ram", "cmb", "gpu", "vfio", "nic", "a"),
      slot: fc.integer({ min: 0, max: 15 }),
      off: fc.integer({ min: 0, max: 0xfff }),
      len: fc.integer({ min: 1, max: 0x1000 }),
      carry: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(regionArb, {
          minLength: 1,
          maxLength: 5,
          selector: (r) => `${r.region}:${r.region === "vfio" ? 0 : r.slot}`,
        }),
        fc.constantFrom("nvme", "gpu", "nic") as fc.Arbitrary<"nvme" | "gpu" | "nic">,
        (entries, who) => {
          const m = machine();
          const dev = m[who];
          const bars = { cmb: m.cmb, gpu: m.gpuBar, vfio: m.vfioBar, nic: m.nicBar, a: m.aBar };
          const l = list(
            entries.map((e) => {
              const off = Math.min(e.off, 0x1000 - 1);
              const len = Math.min(e.len, 0x1000 - off);
              if (e.region === "ram") return { addr: 32 * MiB + e.slot * 0x10000 + off, len };
              const b = bars[e.region];
              const slot = e.region === "vfio" ? 0 : e.slot;
              return { addr: b.start + slot * 0x1000 + off, len, provider: e.carry ? b.index : 0 };
            }),
          );
          const digest = memoryDigest(m.mem);
          if (entries.some((e) => e.region === "a")) {
            // host bridge 1 is not allowlisted: NOT_SUPPORTED for every client on host bridge 0
            expect(() => dmaMap(m.sys, dev, l)).toThrow(P2pNotSupported);
            expectNothingMapped(m, dev, digest);
            return;
          }
          const d = dmaMap(m.sys, dev, l);
          d.checkValid();
          expect(d.totalBytes).toBe(l.totalBytes);
          // each input byte run: the device writes it at its DMA address; the CPU sees it in place
          const out = d.cursor();
          let seed = 1;
          for (const e of l) {
            let left = e.len;
            let phys = e.addr;
            while (left > 0) {
              const n = Math.min(left, out.remaining);
              const data = new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);
              seed++;
              dmaWrite(m.sys, dev, out.addr, data);
              expect(Buffer.compare(m.mem.readPhys(phys, n), data)).toBe(0);
              phys += n;
              left -= n;
              out.advance(n);
            }
          }
          // no other address: probes around each output entry never reach a list byte elsewhere
          const inList = (p: number): number => {
            let off = 0;
            for (const e of l) {
              if (p >= e.addr && p < e.addr + e.len) return off + p - e.addr;
              off += e.len;
            }
            return -1;
          };
          for (const e of d) {
            for (const probe of [e.addr - 1, e.addr + e.len, e.addr + e.len + 0xfff]) {
              let phys = -1;
              try {
                dmaTranslate(m.sys, dev, probe, 1, false, (p) => {
                  phys = p;
                });
              } catch {
                continue;
              }
              const o = inList(phys);
              if (o >= 0) {
                const c = d.cursor();
                c.advance(o);
                expect(probe).toBe(c.addr);
              }
            }
          }
          m.sys.debug.violations.length = 0;
          const starts = [...d].map((e) => e.addr);
          dmaUnmap(m.sys, dev, d);
          for (const a of starts) expect(() => dmaRead(m.sys, dev, a, 1)).toThrow();
          expect(dev.liveMappings).toBe(0);
          m.sys.debug.checkNoLeaks();
          const dom = m.doms.get(dev);
          if (dom) {
            expect(dom.pgtable!.pteCount).toBe(0);
            dom.checkValid();
          }
        },
      ),
      fcRuns(60),
    );
  });
});
