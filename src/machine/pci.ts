/**
 * The reference machine's PCI tree: built as a {@link PciTopology} (the model's P2P rules run on
 * it), described the way sysfs describes it (linux/pci.ts `PciDevice`: BDF, ids, class, resources,
 * IOMMU group, upstream bridges), and placed in the /proc/iomem tree (windows, bridge spans, BARs).
 */
import type { IomemTree } from "../mem/index.js";
import { PciAcs, type PciDev, PciTopology } from "../pci/index.js";
import {
  ACS_KERNEL_DEFAULT,
  HOST_BRIDGES,
  mem32Window,
  mem64Window,
  PCI_BARS,
  PCI_IDS,
  type PciIdentity,
} from "./spec.js";

/** A function as sysfs shows it (the shape of linux/pci.ts `PciDevice`, restated so machine/ needs no Node reader). */
export interface SysfsPciDevice {
  bdf: string;
  vendor: number;
  device: number;
  class: number;
  resources: { index: number; start: number; end: number; flags: number }[];
  iommuGroup: number;
  hostBridge: string;
  upstream: string[];
}

/** Flags of a 64-bit prefetchable memory BAR in sysfs `resource` (IORESOURCE_MEM | PREFETCH | MEM_64 | SIZEALIGN | type bits). */
export const RES_MEM64_PREF = 0x0014220c;
/** Flags of a 64-bit non-prefetchable memory BAR. */
export const RES_MEM64 = 0x00140204;
/** Flags of a 32-bit non-prefetchable memory BAR. */
export const RES_MEM32 = 0x00040200;

/** ACS bits pci_device_group() requires on a path (drivers/iommu/iommu.c REQ_ACS_FLAGS). */
const REQ_ACS_FLAGS = PciAcs.SV | PciAcs.RR | PciAcs.CR | PciAcs.UF;

/** The PCI side of the reference machine. */
export interface ReferencePci {
  topology: PciTopology;
  /** Identity of each function, by topology index. */
  ids: PciIdentity[];
  /** Sysfs view, sorted by BDF. */
  devices: SysfsPciDevice[];
  /** IOMMU groups (group number -> member BDFs, sorted). */
  groups: { id: number; devices: string[] }[];
}

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

/**
 * Builds the tree of spec.ts HOST_BRIDGES: per host bridge its bb:00.0 function, a root port
 * bb:01.0 (ACS SV|RR|CR|UF), a switch (upstream port, four downstream ports with the layout's ACS)
 * and below the downstream ports GPU, GPU, NIC, NVMe. Host bridges are on the P2P allowlist
 * without REQ_SAME_HOST_BRIDGE (Intel 0x09a2, drivers/pci/p2pdma.c pci_p2pdma_whitelist). O(devices^2).
 */
export function buildReferencePci(): ReferencePci {
  const t = new PciTopology({ cpuVendor: "Intel", cpuFamily: 6 });
  const ids: PciIdentity[] = [];
  const add = (i: number, id: PciIdentity) => {
    ids[i] = id;
  };
  HOST_BRIDGES.forEach((hb, h) => {
    const b = hb.bus;
    t.hostBridge({
      bus: b,
      allowlist: "any",
      mem32: mem32Window(h),
      mem64: mem64Window(h),
    });
    add(t.endpoint(`0000:${hex2(b)}:00.0`, { name: PCI_IDS.hostBridge.name }), PCI_IDS.hostBridge);
    add(
      t.rootPort(`0000:${hex2(b)}:01.0`, {
        secondary: b + 1,
        acsCtrl: ACS_KERNEL_DEFAULT,
        name: PCI_IDS.rootPort.name,
      }),
      PCI_IDS.rootPort,
    );
    add(
      t.switchUp(`0000:${hex2(b + 1)}:00.0`, { secondary: b + 2, name: PCI_IDS.switchUp.name }),
      PCI_IDS.switchUp,
    );
    const roles = [PCI_IDS.gpu, PCI_IDS.gpu, PCI_IDS.nic, PCI_IDS.nvme];
    const bars = [PCI_BARS.gpu, PCI_BARS.gpu, PCI_BARS.nic, PCI_BARS.nvme];
    roles.forEach((role, k) => {
      const bus = b + 3 + k;
      add(
        t.switchDown(`0000:${hex2(b + 2)}:${hex2(k)}.0`, {
          secondary: bus,
          acsCtrl: hb.downstreamAcs,
          name: PCI_IDS.switchDown.name,
        }),
        PCI_IDS.switchDown,
      );
      add(t.endpoint(`0000:${hex2(bus)}:00.0`, { bars: bars[k], name: role.name }), role);
    });
  });
  const groups = iommuGroups(t);
  const groupOf = new Map<string, number>();
  for (const g of groups) for (const d of g.devices) groupOf.set(d, g.id);
  const devices = t.devices
    .map((d) => sysfsDevice(t, d, ids[d.index], groupOf.get(d.bdf) ?? -1))
    .sort((a, b) => (a.bdf < b.bdf ? -1 : 1));
  return { topology: t, ids, devices, groups };
}

function sysfsDevice(t: PciTopology, d: PciDev, id: PciIdentity, group: number): SysfsPciDevice {
  const upstream: string[] = [];
  for (let p = d.parent; p >= 0; p = t.device(p).parent) upstream.unshift(t.device(p).bdf);
  const hb = t.hostBridges[d.hostBridge];
  return {
    bdf: d.bdf,
    vendor: id.vendor,
    device: id.device,
    class: id.class,
    resources: d.bars.map((b) => ({
      index: b.index,
      start: b.cpuStart,
      end: b.cpuStart + b.size - 1,
      flags: b.is64 ? (b.prefetch ? RES_MEM64_PREF : RES_MEM64) : RES_MEM32,
    })),
    iommuGroup: group,
    hostBridge: hb.name,
    upstream,
  };
}

/** pci_acs_enabled(): root and downstream ports need the flags; other single functions pass. */
function acsEnabled(t: PciTopology, i: number): boolean {
  const d = t.device(i);
  if (d.kind === "rootPort" || d.kind === "switchDown") return (d.acsCtrl & REQ_ACS_FLAGS) === REQ_ACS_FLAGS;
  return true;
}

/** pci_acs_path_enabled(start, NULL, REQ_ACS_FLAGS): every function from `start` to the root bus. */
function acsPathEnabled(t: PciTopology, start: number): boolean {
  for (let i = start; i >= 0; i = t.device(i).parent) if (!acsEnabled(t, i)) return false;
  return true;
}

/**
 * IOMMU groups as drivers/iommu/iommu.c pci_device_group() forms them for single-function devices
 * without DMA aliases, in enumeration order: walking up from a function, while its upstream
 * bridge's ACS path is not enabled the function joins that bridge's group; otherwise it gets a
 * new group. O(devices x depth).
 */
export function iommuGroups(t: PciTopology): { id: number; devices: string[] }[] {
  const group = new Int32Array(t.devices.length).fill(-1);
  let next = 0;
  for (const d of t.devices) {
    let pdev = d.index;
    let found = -1;
    for (let up = d.parent; up >= 0; up = t.device(up).parent) {
      if (acsPathEnabled(t, up)) break;
      pdev = up;
      if (group[pdev] >= 0) {
        found = group[pdev];
        break;
      }
    }
    group[d.index] = found >= 0 ? found : next++;
  }
  const out: { id: number; devices: string[] }[] = [];
  for (let g = 0; g < next; g++) out.push({ id: g, devices: [] });
  t.devices.forEach((d) => {
    out[group[d.index]].devices.push(d.bdf);
  });
  for (const g of out) g.devices.sort();
  return out;
}

/**
 * Adds the PCI resources to /proc/iomem: each BAR under its function's address, each bridge's span
 * of the BARs below it as "PCI Bus dddd:<secondary>", each host bridge window as "PCI Bus dddd:bb".
 * Inner resources go in first, so a bridge whose span equals its child's becomes the parent
 * (IomemTree.insert adopts equal ranges). O(devices x BARs x depth).
 */
export function insertPciIomem(iomem: IomemTree, t: PciTopology): void {
  for (const d of t.devices) for (const b of d.bars) iomem.insert(b.cpuStart, b.size, d.bdf);
  const depth = (i: number): number => {
    let n = 0;
    for (let p = t.device(i).parent; p >= 0; p = t.device(p).parent) n++;
    return n;
  };
  const below = (bridge: number, d: PciDev): boolean => {
    for (let p = d.parent; p >= 0; p = t.device(p).parent) if (p === bridge) return true;
    return false;
  };
  const bridges = t.devices.filter((d) => d.secondary >= 0).sort((a, b) => depth(b.index) - depth(a.index));
  for (const br of bridges) {
    for (const wide of [false, true]) {
      let lo = Number.POSITIVE_INFINITY;
      let hi = -1;
      for (const d of t.devices) {
        if (!below(br.index, d)) continue;
        for (const b of d.bars) {
          if ((b.is64 && b.prefetch) !== wide) continue;
          lo = Math.min(lo, b.cpuStart);
          hi = Math.max(hi, b.cpuStart + b.size);
        }
      }
      if (hi > lo) iomem.insert(lo, hi - lo, `PCI Bus ${br.bdf.slice(0, 4)}:${hex2(br.secondary)}`);
    }
  }
  for (const hb of t.hostBridges) {
    const name = `PCI Bus ${hb.domain.toString(16).padStart(4, "0")}:${hex2(hb.bus)}`;
    iomem.insert(hb.mem32.start, hb.mem32.size, name);
    iomem.insert(hb.mem64.start, hb.mem64.size, name);
  }
}
