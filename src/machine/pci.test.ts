/**
 * The reference machine's PCI tree: shape, BARs, ACS, IOMMU groups, /proc/iomem placement, and the
 * P2P map types the kernel rule gives between its GPUs, NICs and NVMe drives (expected values
 * worked out by hand from drivers/pci/p2pdma.c calc_map_type_and_dist in the comments).
 */
import { describe, expect, it } from "vitest";
import { IomemTree } from "../mem/index.js";
import { PCI_ACS_REDIR_MASK } from "../pci/index.js";
import { buildReferencePci, insertPciIomem, RES_MEM64_PREF } from "./pci.js";
import { ACS_KERNEL_DEFAULT } from "./spec.js";

const ref = buildReferencePci();
const t = ref.topology;
const byClass = (c: number) => ref.devices.filter((d) => d.class === c);

describe("reference PCI tree", () => {
  it("has 4 host bridges, 4 switches and 8 GPUs, 4 NICs, 4 NVMe drives below them", () => {
    expect(t.hostBridges).toHaveLength(4);
    expect(t.devices.filter((d) => d.kind === "switchUp")).toHaveLength(4);
    expect(t.devices.filter((d) => d.kind === "switchDown")).toHaveLength(16);
    expect(byClass(0x030200)).toHaveLength(8);
    expect(byClass(0x020000)).toHaveLength(4);
    expect(byClass(0x010802)).toHaveLength(4);
    t.checkValid();
  });

  it("every GPU has a 64-bit prefetchable BAR of at least 64 GiB, every NVMe a prefetchable CMB BAR", () => {
    for (const g of byClass(0x030200)) {
      const big = g.resources.filter((r) => r.end - r.start + 1 >= 64 * 2 ** 30);
      expect(big).toHaveLength(1);
      expect(big[0].flags).toBe(RES_MEM64_PREF);
      expect(big[0].index).toBe(1);
    }
    for (const n of byClass(0x010802)) {
      expect(n.resources.map((r) => [r.index, r.end - r.start + 1])).toEqual([
        [0, 32768],
        [2, 64 * 2 ** 20],
      ]);
    }
  });

  it("endpoints below a switch list root port, upstream port and downstream port as upstream bridges", () => {
    const gpu = ref.devices.find((d) => d.bdf === "0000:83:00.0")!;
    expect(gpu.upstream).toEqual(["0000:80:01.0", "0000:81:00.0", "0000:82:00.0"]);
    expect(gpu.hostBridge).toBe("pci0000:80");
  });

  it("ACS redirect is set on socket 1's switch downstream ports and on every root port, not on socket 0's switches", () => {
    const redir = t.devices.filter((d) => (d.acsCtrl & PCI_ACS_REDIR_MASK) !== 0).map((d) => d.bdf);
    expect(redir).toEqual([
      "0000:00:01.0",
      "0000:40:01.0",
      "0000:80:01.0",
      "0000:82:00.0",
      "0000:82:01.0",
      "0000:82:02.0",
      "0000:82:03.0",
      "0000:c0:01.0",
      "0000:c2:00.0",
      "0000:c2:01.0",
      "0000:c2:02.0",
      "0000:c2:03.0",
    ]);
    expect(t.device("0000:82:00.0").acsCtrl).toBe(ACS_KERNEL_DEFAULT);
  });

  it("IOMMU groups: a GPU behind a port without ACS shares the port's group; behind ACS it is alone", () => {
    const group = (bdf: string) => ref.groups.find((g) => g.devices.includes(bdf))!.devices;
    // 03:00.0's upstream port 02:00.0 has no ACS: pci_device_group joins the port's group.
    expect(group("0000:03:00.0")).toEqual(["0000:02:00.0", "0000:03:00.0"]);
    // 83:00.0's port 82:00.0 and root port 80:01.0 have SV|RR|CR|UF: a group of its own.
    expect(group("0000:83:00.0")).toEqual(["0000:83:00.0"]);
    expect(new Set(ref.devices.map((d) => d.iommuGroup)).size).toBe(ref.groups.length);
  });

  // Provider BAR owner -> client, kernel rule by hand:
  // same switch, no ACS: walk 03:00.0 -> 02:00.0 -> 01:00.0 (shared with 05:00.0's chain 05:00.0,
  //   02:02.0, 01:00.0); no redirect on either side -> BUS_ADDR, distance 2 + 2.
  // same switch, ACS on 82:xx.0: the walk passes 82:00.0 (RR|CR) -> redirected; CPU is Intel, the
  //   host bridge is allowlisted without REQ_SAME_HOST_BRIDGE -> THRU_HOST_BRIDGE, distance 4.
  // different host bridges: no shared bridge; the walk climbs 4 functions, the client chain has 4 ->
  //   distance 8; both host bridges allowlisted -> THRU_HOST_BRIDGE.
  it.each([
    ["0000:03:00.0", "0000:05:00.0", "BUS_ADDR", 4],
    ["0000:03:00.0", "0000:04:00.0", "BUS_ADDR", 4],
    ["0000:06:00.0", "0000:05:00.0", "BUS_ADDR", 4],
    ["0000:83:00.0", "0000:85:00.0", "THRU_HOST_BRIDGE", 4],
    ["0000:85:00.0", "0000:83:00.0", "THRU_HOST_BRIDGE", 4],
    ["0000:03:00.0", "0000:45:00.0", "THRU_HOST_BRIDGE", 8],
    ["0000:03:00.0", "0000:85:00.0", "THRU_HOST_BRIDGE", 8],
    ["0000:03:00.0", "0000:03:00.0", "BUS_ADDR", 0],
  ])("p2p map type %s -> %s is %s at distance %i", (p, c, type, distance) => {
    expect(t.p2pMapType(p, c)).toEqual({ type, distance });
  });

  it("BARs sit under their bridges' windows in /proc/iomem", () => {
    const io = new IomemTree();
    insertPciIomem(io, t);
    io.checkValid();
    const text = io.format();
    // BAR1 of 03:00.0: 128 GiB at the start of host bridge 0's 64-bit window (2^45).
    expect(text).toContain(
      [
        "200000000000-20ffffffffff : PCI Bus 0000:00",
        "  200000000000-206007ffffff : PCI Bus 0000:01",
        "    200000000000-206007ffffff : PCI Bus 0000:02",
        "      200000000000-202001ffffff : PCI Bus 0000:03",
        "        200000000000-201fffffffff : 0000:03:00.0",
      ].join("\n"),
    );
    expect(io.lookup(0x80000000)?.name).toBe("0000:03:00.0");
  });
});
