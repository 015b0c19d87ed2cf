/**
 * The lab guest as a phyr snapshot: a {@link MachineSource} over a lab record (the guest's
 * /proc/iomem, PCI functions and IOMMU units; one process, the workload, whose VMAs are its
 * buffers with the physical runs it read from its own pagemap and kpageflags), written with the
 * project's snapshot writer so `phyr analyze --snapshot` loads the lab machine like any capture.
 * What the workload did not read (its code and stack VMAs, smaps counters beyond its buffers) is
 * not in the snapshot.
 */
import {
  type AccessProbe,
  type CaptureResult,
  capture,
  type IomemResource,
  type IommuInfo,
  type KernelInfo,
  type MachineSource,
  PageRuns,
  type PciDevice,
  parseIomem,
  RunFlag,
  RunKind,
  type VmaStats,
} from "../src/node.js";
import type { LabBuffer, LabRecord } from "./record.js";

/** The pid the workload is given in the snapshot (the guest's real pid is not recorded). */
export const LAB_WORKLOAD_PID = 1000;

const PAGE = 4096;
const HPAGE = 2 * 1024 * 1024;
const num = (h: string) => Number.parseInt(h.slice(2), 16);
const KIND = { base: RunKind.BASE, thp: RunKind.THP, hugetlb: RunKind.HUGETLB } as const;

/** The VMA a buffer's mapping covers: hugetlb rounds up to 2 MiB, others to 4 KiB. */
function bufferVma(b: LabBuffer): VmaStats {
  const start = num(b.va);
  const step = b.backing === "hugetlb" ? HPAGE : PAGE;
  const end = start + Math.ceil(b.length / step) * step;
  const present = b.runs.reduce((n, r) => n + r.pages * PAGE, 0);
  const thpBytes = b.runs
    .filter((r) => (r.kind ?? b.backing) === "thp")
    .reduce((n, r) => n + r.pages * PAGE, 0);
  const hugetlb = b.backing === "hugetlb" ? present : 0;
  return {
    start,
    end,
    perms: "rw-p",
    offset: 0,
    dev: "00:00",
    inode: 0,
    path: b.backing === "hugetlb" ? "/anon_hugepage (deleted)" : "",
    size: end - start,
    // The workload's present pages (the lab reads no smaps). A real smaps shows Rss 0 for a
    // hugetlb VMA (its pages count in *_Hugetlb), and capture() reads no pagemap for a VMA
    // whose rss is 0, so hugetlb pages are counted here too: the runs are what the lab is for.
    rss: present,
    pss: present,
    anonymous: b.backing === "hugetlb" ? 0 : present,
    anonHugePages: thpBytes,
    swap: 0,
    locked: 0,
    hugetlb,
    kernelPageSize: b.backing === "hugetlb" ? HPAGE : PAGE,
    thpEligible: b.backing === "thp",
    vmFlags: [
      "rd",
      "wr",
      "mr",
      "mw",
      "me",
      "ac",
      ...(b.backing === "thp" ? ["hg"] : b.backing === "hugetlb" ? ["ht"] : ["nh"]),
    ],
  };
}

/**
 * A {@link MachineSource} over a lab record. O(runs) to build.
 * @param r a validated record
 */
export function labSource(r: LabRecord): MachineSource {
  const buffers = [...r.buffers].sort((a, b) => num(a.va) - num(b.va));
  const vmas = buffers.map(bufferVma);
  const iomem = parseIomem(r.iomem, `${r.scenario.name}: iomem`);
  const pci: PciDevice[] = r.pci.map((p) => {
    const parts = p.path.split("/");
    return {
      bdf: p.bdf,
      vendor: num(p.vendor),
      device: num(p.device),
      class: num(p.class),
      resources: p.resources
        .map((x, index) => ({ index, start: num(x.start), end: num(x.end), flags: num(x.flags) }))
        .filter((x) => x.start !== 0 || x.end !== 0 || x.flags !== 0),
      iommuGroup: p.iommuGroup,
      hostBridge: parts.find((s) => s.startsWith("pci")) ?? "",
      upstream: parts.filter((s) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(s)).slice(0, -1),
    };
  });
  const groups = new Map<number, string[]>();
  for (const p of pci)
    if (p.iommuGroup >= 0) groups.set(p.iommuGroup, [...(groups.get(p.iommuGroup) ?? []), p.bdf]);
  const iommus: IommuInfo = {
    units: [...r.iommuUnits],
    groups: [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([id, devices]) => ({ id, devices })),
  };
  const access: AccessProbe = {
    pagemapFrames: "readable",
    kpageflags: "readable",
    iomemAddresses: "readable",
    capSysAdmin: true,
    messages: [],
  };
  const kernel: KernelInfo = {
    release: r.kernel.release,
    version: `Linux version ${r.kernel.release} (phyr kernel lab guest, scenario ${r.scenario.name})`,
    hostname: "phyr-lab",
    pageSize: PAGE,
  };
  return {
    origin: `lab:${r.scenario.name}`,
    kernel: () => kernel,
    access: () => access,
    iomem: (): IomemResource[] => iomem,
    pci: () => pci,
    iommus: () => iommus,
    processes: () => [{ pid: LAB_WORKLOAD_PID, comm: "workload", cmdline: `/workload ${r.scenario.name}` }],
    vmas: (pid) => {
      if (pid !== LAB_WORKLOAD_PID)
        throw new RangeError(`pid ${pid} is not in the lab record ${r.scenario.name}`);
      return vmas;
    },
    runs: (pid, vaStart, vaEnd) => {
      if (pid !== LAB_WORKLOAD_PID)
        throw new RangeError(`pid ${pid} is not in the lab record ${r.scenario.name}`);
      const out = new PageRuns(vaStart, vaEnd);
      let present = 0;
      for (const b of buffers) {
        for (const run of b.runs) {
          const va = num(run.va);
          const lo = Math.max(va, vaStart);
          const hi = Math.min(va + run.pages * PAGE, vaEnd);
          if (lo >= hi) continue;
          const skip = (lo - va) / PAGE;
          out.push(
            lo,
            num(run.pfn) + skip,
            (hi - lo) / PAGE,
            RunFlag.PRESENT | RunFlag.EXCLUSIVE,
            KIND[run.kind ?? (b.backing === "scattered4k" ? "base" : b.backing)],
          );
          present += (hi - lo) / PAGE;
        }
      }
      out.presentPages = present;
      out.unmappedPages = (vaEnd - vaStart) / PAGE - present;
      return out;
    },
    close: () => {},
  };
}

/**
 * Writes the lab guest as a `phyr-snapshot` file (newline-delimited JSON) with the project's
 * snapshot writer. O(runs).
 * @param r a validated record
 * @param out output path
 * @param capturedAt fixed capture time for reproducible files
 */
export function writeLabSnapshot(r: LabRecord, out: string, capturedAt?: string): Promise<CaptureResult> {
  return capture({ out, source: labSource(r), capturedAt });
}
