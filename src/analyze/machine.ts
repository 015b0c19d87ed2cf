/**
 * Machine-level summaries: the physical map (/proc/iomem tree), the PCI tree, IOMMU presence.
 */

import { hex } from "../core/index.js";
import type { IommuPresence, PciDeviceSummary, PciSummary, PhysMapSummary, PhysRegion } from "./output.js";
import type { IomemInput, MachineInput, PciInput } from "./types.js";

/** Resource names whose top-level bytes count as RAM. */
const SYSTEM_RAM = "System RAM";

/**
 * Physical map summary: top-level regions and their children (depth <= 1) in address order, and
 * bytes per top-level name, largest first. O(nodes log nodes).
 * @param iomem the resource tree.
 * @param addressesKnown false when /proc/iomem was read without CAP_SYS_ADMIN (every address 0):
 *   sizes are then 0 (unknown), not the 1 byte an all-zero start and end would give.
 * @returns the summary.
 */
export function physMapSummary(iomem: readonly IomemInput[], addressesKnown = true): PhysMapSummary {
  const regions: PhysRegion[] = [];
  const totals = new Map<string, number>();
  let systemRam = 0;
  const region = (r: IomemInput, depth: number): PhysRegion => ({
    name: r.name,
    start: hex(r.start),
    end: hex(r.end),
    // Hidden addresses (all 0) say nothing of sizes: 0, not 1 byte per region.
    bytes: addressesKnown ? r.end - r.start + 1 : 0,
    depth,
  });
  for (const r of [...iomem].sort((a, b) => a.start - b.start)) {
    const top = region(r, 0);
    regions.push(top);
    totals.set(r.name, (totals.get(r.name) ?? 0) + top.bytes);
    if (r.name === SYSTEM_RAM) systemRam += top.bytes;
    for (const c of [...r.children].sort((a, b) => a.start - b.start)) regions.push(region(c, 1));
  }
  return {
    regions,
    totals: [...totals]
      .map(([name, bytes]) => ({ name, bytes }))
      .sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1)),
    systemRam,
  };
}

/** Base class and subclass of a 24-bit class code (the prog-if byte dropped). O(1). */
function classParts(classCode: number): { base: number; sub: number } {
  return { base: Math.floor(classCode / 0x10000) % 0x100, sub: Math.floor(classCode / 0x100) % 0x100 };
}

/**
 * Kind of a PCI function from its class code (PCI Code and ID Assignment spec base classes;
 * 01:08 is NVMe).
 * @param classCode 24-bit class code.
 * @returns a short kind name.
 */
export function pciKind(classCode: number): string {
  const { base, sub } = classParts(classCode);
  if (base === 0x01) return sub === 0x08 ? "nvme" : "storage";
  const kinds: Record<number, string> = {
    2: "network",
    3: "display",
    4: "multimedia",
    5: "memory",
    6: "bridge",
    7: "communication",
    8: "system",
    12: "serial-bus",
    18: "accelerator",
  };
  return kinds[base] ?? "other";
}

/** True for PCI bridges (base class 06): not a DMA client in the P2P matrix. */
export function isBridge(d: PciInput): boolean {
  return pciKind(d.classCode) === "bridge";
}

/**
 * System-peripheral subclasses (base class 08) that never master DMA: PIC 00, timer 02, RTC 03,
 * PCI hot-plug controller 04, IOMMU 06 (PCI Code and ID Assignment spec). DMA controllers (01)
 * and SD host controllers (05) do master DMA; "other" (80) is decided per function below.
 */
const NON_DMA_SYSTEM_SUBCLASSES = new Set([0x00, 0x02, 0x03, 0x04, 0x06]);

/**
 * True for the host bridge function of a root bus: device 0 function 0 of a bus with no upstream
 * bridge, whose class is a bridge (06) or an "other" system peripheral (08:80, as Intel's
 * 8086:09a2 "Memory Map/VT-d"). It is the function drivers/pci/p2pdma.c pci_host_bridge_dev()
 * returns (the root bus's first device when its devfn is 00.0) and checks against the P2P
 * allowlist; it holds the root complex's registers and does not master DMA. O(1).
 * @param d the function.
 * @returns whether it is the host bridge function.
 */
export function isHostBridgeFunction(d: PciInput): boolean {
  if (d.upstream.length > 0 || !d.bdf.endsWith(":00.0")) return false;
  const { base, sub } = classParts(d.classCode);
  return base === 0x06 || (base === 0x08 && sub === 0x80);
}

/**
 * True for a function that can master DMA, so it is a client (and its memory BARs providers) in
 * the P2P matrix. False for bridges (they forward, they do not master), the host bridge function
 * ({@link isHostBridgeFunction}), and system peripherals that never master DMA (interrupt
 * controllers, timers, RTCs, hot-plug controllers, IOMMUs). Any other class, including unknown
 * ones and "other" system peripherals away from 00.0 of a root bus (Intel DSA is 08:80), counts as
 * DMA-capable: sysfs does not say more without reading the command register. O(1).
 * @param d the function.
 * @returns whether it is DMA-capable.
 */
export function isDmaCapable(d: PciInput): boolean {
  if (isBridge(d) || isHostBridgeFunction(d)) return false;
  const { base, sub } = classParts(d.classCode);
  return !(base === 0x08 && NON_DMA_SYSTEM_SUBCLASSES.has(sub));
}

const hex4 = (n: number): string => n.toString(16).padStart(4, "0");

/**
 * PCI summary: every function with its memory BARs, and a printable tree indented by the number
 * of upstream bridges (children after their bridge). O(n log n).
 * @param pci the PCI functions.
 * @returns the summary.
 */
export function pciSummary(pci: readonly PciInput[]): PciSummary {
  const devices: PciDeviceSummary[] = [...pci]
    .sort((a, b) => treeKey(a).localeCompare(treeKey(b)))
    .map((d) => ({
      bdf: d.bdf,
      vendor: hex4(d.vendor),
      device: hex4(d.device),
      classCode: d.classCode.toString(16).padStart(6, "0"),
      kind: pciKind(d.classCode),
      bars: d.bars
        .filter((b) => b.mem && b.size > 0)
        .map((b) => ({
          index: b.index,
          start: hex(b.start),
          bytes: b.size,
          prefetch: b.prefetch,
          is64: b.is64,
        })),
      iommuGroup: d.iommuGroup,
      upstream: [...d.upstream],
    }));
  const tree = devices.map(
    (d) => `${"  ".repeat(d.upstream.length)}${d.bdf} [${d.vendor}:${d.device}] ${d.kind}`,
  );
  return { devices, tree };
}

function treeKey(d: PciInput): string {
  return [...d.upstream, d.bdf].join("/");
}

/**
 * IOMMU presence: units from /sys/class/iommu and distinct groups among PCI functions. O(n).
 * @param m the machine.
 * @returns the presence summary.
 */
export function iommuPresence(m: MachineInput): IommuPresence {
  const groups = new Set<number>();
  for (const d of m.pci) if (d.iommuGroup >= 0) groups.add(d.iommuGroup);
  return { present: m.iommus.length > 0, units: [...m.iommus], groups: groups.size };
}
