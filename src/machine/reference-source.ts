/**
 * `referenceSource()`: the reference machine behind the same read interface as the live machine
 * and snapshots ({@link MachineSource}, machine/source-types.ts), giving back the shapes the live
 * readers give: /proc/iomem as a resource tree, sysfs PCI devices and IOMMU groups, processes,
 * smaps-like VMA counters and pagemap-like runs. It lives next to the model it reads; it uses no
 * Node API, so it runs in a browser too.
 */

import { hex } from "../core/index.js";
import type { Resource } from "../mem/index.js";
import { processRuns, vmaStats } from "./model-runs.js";
import { clipRuns, type PageRuns } from "./page-runs.js";
import { type ReferenceMachine, referenceMachine } from "./reference.js";
import type {
  AccessProbe,
  IomemResource,
  IommuInfo,
  KernelInfo,
  MachineSource,
  P2pPlatform,
  PciDevice,
  ProcessInfo,
  VmaStats,
} from "./source-types.js";
import { REFERENCE_KERNEL } from "./spec.js";

/** Origin string of the reference machine's source. */
export const REFERENCE_ORIGIN = "reference machine";

/** The one message the reference machine's access probe carries: what the data is. */
export const REFERENCE_NOTE =
  "This is phyr's reference machine: a simulated 2-socket server (512 GiB RAM, 8 GPUs behind PCIe switches, an IOMMU) whose processes were laid out by the model's allocator; it is not the computer phyr runs on.";

/** A {@link MachineSource} over a built reference machine. */
export class ReferenceSource implements MachineSource {
  readonly origin = REFERENCE_ORIGIN;
  private iomemTree: IomemResource[] | undefined;
  private pciList: PciDevice[] | undefined;
  private readonly vmaCache = new Map<number, VmaStats[]>();
  private readonly runCache = new Map<number, PageRuns>();

  /** @param machine a machine from {@link referenceMachine} */
  constructor(readonly machine: ReferenceMachine) {}

  /** Kernel identity: says it is the reference machine, not a kernel release. O(1). */
  kernel(): KernelInfo {
    return { ...REFERENCE_KERNEL };
  }
  /** Everything is readable (the model knows every frame); one message says what this machine is. O(1). */
  access(): AccessProbe {
    return {
      pagemapFrames: "readable",
      kpageflags: "readable",
      iomemAddresses: "readable",
      capSysAdmin: true,
      messages: [REFERENCE_NOTE],
    };
  }
  /** /proc/iomem as a tree with depths. O(resources), cached. */
  iomem(): IomemResource[] {
    this.iomemTree ??= toIomem(this.machine.mem.iomem.root.children, 0);
    return this.iomemTree;
  }
  /** PCI functions sorted by BDF. O(devices), cached. */
  pci(): PciDevice[] {
    this.pciList ??= this.machine.pci.devices.map((d) => ({
      ...d,
      resources: d.resources.map((r) => ({ ...r })),
      upstream: [...d.upstream],
    }));
    return this.pciList;
  }
  /** IOMMU units and groups. O(groups). */
  iommus(): IommuInfo {
    return {
      units: [...this.machine.iommu.units],
      groups: this.machine.pci.groups.map((g) => ({ id: g.id, devices: [...g.devices] })),
    };
  }
  /** Processes sorted by pid. O(processes). */
  processes(): ProcessInfo[] {
    return this.machine.processes.map((p) => ({ pid: p.pid, comm: p.comm, cmdline: p.cmdline }));
  }
  /**
   * VMAs of a process with smaps counters. O(runs of the process), cached.
   * @throws RangeError for a pid the reference machine does not have
   */
  vmas(pid: number): VmaStats[] {
    const hit = this.vmaCache.get(pid);
    if (hit) return hit;
    const p = this.process(pid);
    const runs = this.processRuns(pid);
    const v = p.vmas.map((rv) => vmaStats(this.machine.mem, p, rv, runs));
    this.vmaCache.set(pid, v);
    return v;
  }
  /**
   * Runs of [vaStart, vaEnd) (rounded out to pages), classified as kpageflags would. O(log runs +
   * runs in the range).
   * @throws RangeError for an unknown pid or a range that is not start < end below 2^52
   */
  runs(pid: number, vaStart: number, vaEnd: number): PageRuns {
    this.process(pid);
    const a = Math.floor(vaStart / 4096) * 4096;
    const b = Math.ceil(vaEnd / 4096) * 4096;
    if (!(Number.isInteger(vaStart) && Number.isInteger(vaEnd) && a >= 0 && b > a && b <= 2 ** 52)) {
      throw new RangeError(`range ${hex(vaStart)}-${hex(vaEnd)} is invalid: expected start < end below 2^52`);
    }
    return clipRuns([this.processRuns(pid)], a, b);
  }
  /**
   * Runs of a process's whole address space, read from the model's page tables once. O(leaves).
   * @throws RangeError for an unknown pid
   */
  processRuns(pid: number): PageRuns {
    let r = this.runCache.get(pid);
    if (!r) {
      r = processRuns(this.machine.mem, this.process(pid));
      this.runCache.set(pid, r);
    }
    return r;
  }
  /** Nothing to release. */
  close(): void {}

  /** ACS, allowlist and CPU facts of the PCI tree, for the P2P matrix. O(devices). */
  p2pPlatform(): P2pPlatform {
    const t = this.machine.pci.topology;
    const acs = new Map<string, number>();
    for (const d of t.devices) if (d.acsCtrl !== 0) acs.set(d.bdf, d.acsCtrl);
    return { acs, allowlist: t.hostBridges[0]?.allowlist ?? "none", cpuSupportsP2p: t.cpuSupportsP2p };
  }

  private process(pid: number) {
    const p = this.machine.processes.find((x) => x.pid === pid);
    if (!p) throw new RangeError(`pid ${pid} is invalid: not a process of the ${REFERENCE_ORIGIN}`);
    return p;
  }
}

function toIomem(list: readonly Resource[], depth: number): IomemResource[] {
  return list.map((r) => ({
    start: r.start,
    end: r.end,
    name: r.name,
    depth,
    children: toIomem(r.children, depth + 1),
  }));
}

/**
 * Builds the reference machine and opens it as a {@link MachineSource}. About 0.3-0.5 s (see
 * bench/machine.bench.ts).
 * @returns the source; `source.machine` is the model behind it
 */
export function referenceSource(): ReferenceSource {
  return new ReferenceSource(referenceMachine());
}
