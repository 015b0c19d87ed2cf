/**
 * Platform summaries of one machine (live, snapshot or reference): the physical map (/proc/iomem
 * tree), the PCI tree (kinds decoded by pci/class.ts), IOMMU presence.
 */

import { hex } from "../core/index.js";
import { pciKind } from "../pci/index.js";
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
