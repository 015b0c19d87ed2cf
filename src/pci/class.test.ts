import { describe, expect, it } from "vitest";
import { isBridge, isDmaCapable, isHostBridgeFunction, pciClassParts, pciKind } from "./class.js";

describe("pciKind (PCI base class / subclass)", () => {
  it.each([
    [0x010802, "nvme"],
    [0x010601, "storage"],
    [0x020000, "network"],
    [0x030000, "display"],
    [0x060400, "bridge"],
    [0x120000, "accelerator"],
    [0xff0000, "other"],
  ])("pciKind(%s) = %s", (c, k) => {
    expect(pciKind(c)).toBe(k);
  });

  it("splits a class code into base class and subclass, dropping the prog-if byte", () => {
    expect(pciClassParts(0x010802)).toEqual({ base: 0x01, sub: 0x08 });
    expect(pciClassParts(0x0c0330)).toEqual({ base: 0x0c, sub: 0x03 });
  });

  it("a bridge is base class 06 whatever its subclass", () => {
    expect(isBridge({ classCode: 0x060400 })).toBe(true);
    expect(isBridge({ classCode: 0x060100 })).toBe(true);
    expect(isBridge({ classCode: 0x088000 })).toBe(false);
  });
});

describe("isDmaCapable / isHostBridgeFunction (who is a P2P client)", () => {
  // Expected values from the class code (PCI Code and ID Assignment spec) and from
  // drivers/pci/p2pdma.c pci_host_bridge_dev(): the root bus's device at devfn 00.0.
  it.each([
    ["0000:00:00.0", 0x060000, [], false, true, "host bridge (06:00) at 00.0 of a root bus"],
    ["0000:00:00.0", 0x088000, [], false, true, "Intel 8086:09a2 Memory Map/VT-d (08:80) at 00.0"],
    ["0000:40:00.0", 0x088000, [], false, true, "the same on a second root bus"],
    ["0000:00:01.0", 0x060400, [], false, false, "PCI-to-PCI bridge (root port)"],
    ["0000:01:00.0", 0x060400, ["0000:00:01.0"], false, false, "switch port"],
    ["0000:00:01.0", 0x060100, [], false, false, "ISA bridge"],
    ["0000:00:14.0", 0x080600, [], false, false, "IOMMU (AMD IOMMU is 08:06)"],
    ["0000:00:1e.0", 0x080000, [], false, false, "interrupt controller (08:00)"],
    ["0000:00:1f.0", 0x080200, [], false, false, "timer (08:02)"],
    ["0000:00:1f.1", 0x080300, [], false, false, "RTC (08:03)"],
    ["0000:00:1f.2", 0x080400, [], false, false, "PCI hot-plug controller (08:04)"],
    ["0000:00:01.0", 0x088000, [], true, false, "Intel DSA (08:80) away from 00.0"],
    ["0000:05:00.0", 0x088000, ["0000:00:01.0"], true, false, "08:80 below a bridge at 00.0"],
    ["0000:00:04.0", 0x080100, [], true, false, "DMA controller (08:01)"],
    ["0000:00:05.0", 0x080501, [], true, false, "SD host controller (08:05)"],
    ["0000:00:00.0", 0x010802, [], true, false, "NVMe at 00.0 of a root bus"],
    ["0000:03:00.0", 0x030200, ["0000:00:01.0"], true, false, "GPU"],
    ["0000:00:05.0", 0x00ff00, [], true, false, "unknown class (virtio devices)"],
  ])(
    "%s class %s upstream %j: DMA-capable %s, host bridge function %s (%s)",
    (bdf, classCode, upstream, dma, hb) => {
      const d = { bdf, classCode, upstream };
      expect(isDmaCapable(d)).toBe(dma);
      expect(isHostBridgeFunction(d)).toBe(hb);
    },
  );
});
