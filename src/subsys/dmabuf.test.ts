import { describe, expect, test } from "vitest";
import { IommuFault, P2pNotSupported } from "../core/index.js";
import { DmaDebug, DmaSystem, dmaRead, p2pPortFor } from "../dma/index.js";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { ProviderRegistry, providersForDevice } from "../p2p/index.js";
import { PciTopology } from "../pci/index.js";
import { PhyrFlag, PhyrList } from "../phyr/index.js";
import { DmaBuf, vfioPciExportBar } from "./dmabuf.js";
import { DmaBufError } from "./errors.js";

/**
 * HB0: RP 00:01.0 -> switch -> GPU 03:00.0 (256 MiB BAR), NIC 04:00.0, NVMe 05:00.0.
 * HB1 (not allowlisted, Intel CPU): RP 0001:00:01.0 -> NIC 0001:01:00.0.
 */
function machine(amd = false) {
  const t = new PciTopology(amd ? { cpuVendor: "AMD", cpuFamily: 0x17 } : {});
  t.hostBridge({ domain: 0 });
  t.hostBridge({ domain: 1 });
  t.rootPort("0000:00:01.0", { secondary: 1 });
  t.switchUp("0000:01:00.0", { secondary: 2 });
  t.switchDown("0000:02:00.0", { secondary: 3 });
  t.switchDown("0000:02:01.0", { secondary: 4 });
  t.switchDown("0000:02:02.0", { secondary: 5 });
  t.endpoint("0000:03:00.0", { bars: [{ size: 2 ** 28 }], name: "GPU" });
  t.endpoint("0000:04:00.0", { bars: [{ size: 2 ** 20 }], name: "NIC" });
  t.endpoint("0000:05:00.0", { bars: [{ size: 0x4000 }], name: "NVMe" });
  t.rootPort("0001:00:01.0", { secondary: 1 });
  t.endpoint("0001:01:00.0", { bars: [{ size: 2 ** 20 }], name: "far NIC" });
  const reg = new ProviderRegistry();
  const gpuBar = providersForDevice(t, "0000:03:00.0")[0];
  const gpu = reg.add(gpuBar);
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: 2 ** 28 }],
    seed: 2,
    pciWindows: [{ start: 2 ** 44, size: 2 ** 41 }],
  });
  const bytes = new Uint8Array(2 ** 20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  mem.data.registerMmio(gpuBar.start, bytes);
  const sys = new DmaSystem({ memory: mem, debug: new DmaDebug(true), p2p: p2pPortFor(t, reg) });
  const dom = () => new IommuDomain({ type: "dma" });
  const nic = sys.addDevice({ name: "0000:04:00.0" }, dom());
  const nvme = sys.addDevice({ name: "0000:05:00.0" }, dom());
  const farDomain = dom();
  const far = sys.addDevice({ name: "0001:01:00.0" }, farDomain);
  // The GPU exports two 256 KiB pieces of its VRAM BAR (vfio-pci style phys_vec ranges + provider).
  const ranges = PhyrList.fromRanges(
    [
      { addr: gpuBar.start + 0x10000, len: 0x40000, flags: PhyrFlag.MMIO, provider: gpu },
      { addr: gpuBar.start + 0x80000, len: 0x40000, flags: PhyrFlag.MMIO, provider: gpu },
    ],
    { store: "wide", chunkCapacity: 2 },
  );
  return { t, reg, gpuBar, gpu, mem, sys, nic, nvme, far, farDomain, ranges, bytes };
}

describe("dma-buf exporters and importers", () => {
  test("importers behind the same switch map the GPU BAR as bus addresses and read its bytes", () => {
    const m = machine();
    const buf = new DmaBuf(m.sys, m.ranges, "gpu-vram");
    const a = buf.attach(m.nic);
    const b = buf.attach(m.nvme);
    expect([a.mapType, b.mapType]).toEqual(["BUS_ADDR", "BUS_ADDR"]);
    const da = a.map("to-device");
    expect(da.nents).toBe(2);
    expect(da.entry(0).flags & PhyrFlag.BUS_ADDR).toBe(PhyrFlag.BUS_ADDR);
    const got = dmaRead(m.sys, m.nic, da.entry(1).addr + 5, 16);
    expect([...got]).toEqual([...m.bytes.subarray(0x80005, 0x80015)]);
    b.map("from-device");
    a.unmap();
    b.detach();
    a.detach();
    m.sys.debug.checkNoLeaks();
  });

  test("an importer that cannot reach the exporter is refused and nothing is attached", () => {
    const m = machine();
    const buf = new DmaBuf(m.sys, m.ranges, "gpu-vram");
    const a = buf.attach(m.nic);
    a.map();
    const state = () => [m.mem.digest(), buf.attachmentCount, m.sys.debug.leaks().length, buf.revoked];
    const before = state();
    // The far NIC sits under another, non-allowlisted host bridge (Intel CPU): NOT_SUPPORTED.
    expect(() => buf.attach(m.far)).toThrow(P2pNotSupported);
    expect(() => buf.attach(m.far)).toThrow(
      /Cannot attach 0001:01:00\.0 to dma-buf gpu-vram: provider \d+ at 0x[0-9a-f]+ is not reachable \(P2P map type NOT_SUPPORTED\)/,
    );
    expect(state()).toEqual(before);
    expect(m.sys.debug.leaks("0001:01:00.0")).toEqual([]);
    // A buffer mixing system memory and the BAR is refused as a whole: nothing for its memory part.
    const id = m.mem.allocFolio(0, { movable: false });
    const mixed = PhyrList.fromRanges(
      [{ addr: m.mem.folios.head[id] * 4096, len: 0x1000 }, ...m.ranges.toArray()],
      { store: "wide" },
    );
    const mbuf = new DmaBuf(m.sys, mixed, "mixed");
    expect(() => mbuf.attach(m.far)).toThrow(P2pNotSupported);
    expect(mbuf.attachmentCount).toBe(0);
    expect(m.sys.debug.leaks("0001:01:00.0")).toEqual([]);
    // The exporter still serves reachable importers.
    expect(a.mapping).not.toBeNull();
    const b = buf.attach(m.nvme);
    b.map();
    b.detach();
    a.detach();
    m.sys.debug.checkNoLeaks();
  });

  test("revoke on reset tears down every importer mapping, notifies, and the next importer DMA faults", () => {
    const m = machine();
    const buf = new DmaBuf(m.sys, m.ranges, "gpu-vram");
    const notified: string[] = [];
    const a = buf.attach(m.nic, () => notified.push("nic"));
    const b = buf.attach(m.nvme, () => notified.push("nvme"));
    const da = a.map();
    const db = b.map();
    // Before the revoke both importers reach the BAR bytes.
    expect([...dmaRead(m.sys, m.nvme, db.entry(0).addr, 4)]).toEqual([...m.bytes.subarray(0x10000, 0x10004)]);
    const addrs = [da.entry(0).addr, da.entry(1).addr + 0x3ff8];
    expect(buf.revoke()).toBe(2);
    expect(notified).toEqual(["nic", "nvme"]);
    expect([a.mapping, b.mapping]).toEqual([null, null]);
    m.sys.debug.checkNoLeaks();
    // The next importer DMA, by either importer, anywhere in the old ranges, faults.
    for (const addr of addrs) expect(() => dmaRead(m.sys, m.nic, addr, 8)).toThrow(IommuFault);
    expect(() => dmaRead(m.sys, m.nvme, db.entry(1).addr, 8)).toThrow(IommuFault);
    expect(() => a.map()).toThrow(/revoked/);
    expect(() => buf.attach(m.nic)).toThrow(DmaBufError);
    expect(buf.revoke()).toBe(0);
    m.sys.debug.checkNoLeaks();
  });

  test("a reset of the exporting device (provider revoke) tears down importer mappings and notifies", () => {
    const m = machine();
    const buf = new DmaBuf(m.sys, m.ranges, "gpu-vram");
    const notified: string[] = [];
    const a = buf.attach(m.nic, () => notified.push("nic"));
    const b = buf.attach(m.nvme, () => notified.push("nvme"));
    const da = a.map();
    const db = b.map();
    const before = dmaRead(m.sys, m.nvme, db.entry(0).addr, 4);
    expect([...before]).toEqual([...m.bytes.subarray(0x10000, 0x10004)]);
    m.reg.revoke(m.gpu, "reset");
    expect(notified).toEqual(["nic", "nvme"]);
    expect([a.mapping, b.mapping]).toEqual([null, null]);
    expect(buf.revoked).toBe(true);
    m.sys.debug.checkNoLeaks();
    expect(() => dmaRead(m.sys, m.nic, da.entry(0).addr, 8)).toThrow(IommuFault);
    expect(() => b.map()).toThrow(DmaBufError);
  });

  test("per importer map type: behind the switch BUS_ADDR, across host bridges on AMD THRU_HOST_BRIDGE via the IOMMU", () => {
    const m = machine(true);
    const buf = new DmaBuf(m.sys, m.ranges, "gpu-vram");
    const near = buf.attach(m.nic);
    const far = buf.attach(m.far);
    expect([near.mapType, far.mapType]).toEqual(["BUS_ADDR", "THRU_HOST_BRIDGE"]);
    near.map();
    const d = far.map("to-device");
    // Through the host bridge the BAR is mapped in the far NIC's IOMMU as MMIO: 2 x 256 KiB.
    expect(d.entry(0).flags & PhyrFlag.BUS_ADDR).toBe(0);
    expect(m.farDomain.pgtable!.mappedBytes).toBe(0x80000);
    expect([...dmaRead(m.sys, m.far, d.entry(0).addr + 0x40000 - 4, 4)]).toEqual([
      ...m.bytes.subarray(0x10000 + 0x40000 - 4, 0x10000 + 0x40000),
    ]);
    // Revoke: the IOMMU mapping is gone and the far NIC faults.
    expect(buf.revoke()).toBe(2);
    expect(m.farDomain.pgtable!.mappedBytes).toBe(0);
    expect(() => dmaRead(m.sys, m.far, d.entry(0).addr, 8)).toThrow(IommuFault);
    m.sys.debug.checkNoLeaks();
  });

  test("vfio-pci exports 4 KiB of a 16 KiB NVMe BAR to the NIC: a provider, no pgmap", () => {
    const m = machine();
    const nvmeBar = providersForDevice(m.t, "0000:05:00.0")[0];
    m.reg.add(nvmeBar);
    const cmb = new Uint8Array(0x4000).fill(0xab);
    m.mem.data.registerMmio(nvmeBar.start, cmb);
    const buf = vfioPciExportBar(m.sys, nvmeBar, 0x1000, 0x1000, "nvme-cmb");
    const a = buf.attach(m.nic);
    expect(a.mapType).toBe("BUS_ADDR");
    const d = a.map();
    expect([...dmaRead(m.sys, m.nic, d.entry(0).addr, 4)]).toEqual([0xab, 0xab, 0xab, 0xab]);
    expect(() => vfioPciExportBar(m.sys, nvmeBar, 0x3000, 0x2000)).toThrow(/inside the 0x4000-byte BAR/);
    a.detach();
    m.sys.debug.checkNoLeaks();
  });

  test("a system-memory dma-buf mapped through the IOMMU faults after revoke", () => {
    const m = machine();
    const id = m.mem.allocFolio(4, { movable: false });
    const ranges = PhyrList.fromRanges([{ addr: m.mem.folios.head[id] * 4096, len: 0x10000 }]);
    const buf = new DmaBuf(m.sys, ranges, "udmabuf");
    const a = buf.attach(m.far);
    expect(a.mapType).toBe("NONE");
    const d = a.map();
    expect(d.nents).toBe(1);
    buf.revoke();
    expect(() => dmaRead(m.sys, m.far, d.entry(0).addr, 8)).toThrow(IommuFault);
    m.sys.debug.checkNoLeaks();
  });
});
