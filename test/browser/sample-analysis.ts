/**
 * A hand-written MachineAnalysis used as report input by the report unit tests and the browser
 * test. It carries hostile text (markup, script end tags, U+2028) in every untrusted field.
 */
import { encodeRunMap } from "../../src/analyze/index.js";
import type { MachineAnalysis } from "../../src/analyze/output.js";
import { verdict } from "../../src/analyze/verdict.js";

/** The process name the acceptance test looks for. */
export const HOSTILE_NAME = "<img src=x onerror=alert(1)>";
/** A path that tries to end the data island. */
export const HOSTILE_PATH = "/tmp/</script><script>alert(2)</script>\u2028&amp;";

/** Builds the sample (a fresh object each call). */
export function sampleAnalysis(): MachineAnalysis {
  const buffer = (
    pid: number,
    comm: string,
    label: string,
    pages: number,
    runs: number,
    thp: number,
    vfio: { registrations: number; pinBatches: number },
  ) => ({
    label,
    pid,
    comm,
    vaStart: "0x7f0000000000",
    vaLength: pages * 4096,
    pages,
    runs,
    swapped: 0,
    unmapped: 0,
    histogram: {
      runs: [runs - 2, 0, 0, 0, 0, 0, 0, 0, 0, 2],
      bytes: [(runs - 2) * 4096, 0, 0, 0, 0, 0, 0, 0, 0, 2 * 2 ** 21],
    },
    formats: [
      { name: "pages", bytes: pages * 8 },
      { name: "scatterlist", bytes: runs * 32 + 16 },
      { name: "phyr16", bytes: runs * 16 },
      { name: "compact", bytes: runs * 8 + 80 },
    ],
    iommu: [
      {
        bitmap: "x86-64 4K|2M|1G",
        placement: "kernel" as const,
        placementLabel: "kernel 7.2, size-aligned",
        leaves: [{ size: 4096, count: pages }],
        leafTotal: pages,
        tablePages: 4,
        iotlbEntries: pages,
      },
      {
        bitmap: "x86-64 4K|2M|1G",
        placement: "congruent" as const,
        placementLabel: "phyr design, congruent",
        leaves: [
          { size: 4096, count: runs - 2 },
          { size: 2 ** 21, count: 2 },
        ],
        leafTotal: runs,
        tablePages: 3,
        iotlbEntries: runs,
      },
    ],
    rdma: [
      {
        bitmap: "4K|2M|1G",
        pageSize: 4096,
        registrations: 1,
        bestPageSizes: [{ size: 4096, registrations: 1 }],
        entries: pages,
        entries4k: pages,
      },
    ],
    nvme:
      pid < 0
        ? null
        : {
            ioBytes: 1048576,
            prpEntries: 256,
            prpChains: 0,
            prpListBytes: 4096,
            sglDescriptors: runs,
            sglBytes: 16 * runs,
            sglListBytes: 256,
          },
    backing: { unknown: 0, base: pages - thp, thp, hugetlb: 0, zero: 0, mixed: 0 },
    vfio,
  });
  // Runs that add up to each buffer's pages and runs: a's 8 runs (6 single pages, then two 2 MiB
  // THPs), b's 40 runs (39 single pages, then one of 561 pages).
  const a = {
    // Registrations (VA-contiguous groups): the six single pages, then both THPs together.
    ...buffer(4242, HOSTILE_NAME, `4242 ${HOSTILE_NAME} ${HOSTILE_PATH}`, 1030, 8, 1024, {
      registrations: 7,
      pinBatches: 8,
    }),
    runMap: encodeRunMap({
      count: 8,
      va: [0, 2, 4, 6, 8, 10, 16, 528].map((page) => 0x7f0000000000 + page * 4096),
      pfn: [0x1100, 0x1200, 0x1300, 0x1400, 0x1500, 0x1600, 0x20000, 0x20400],
      npages: [1, 1, 1, 1, 1, 1, 512, 512],
      kind: [1, 1, 1, 1, 1, 1, 2, 2],
    }),
  };
  const b = {
    // Every run is its own registration; the last (561 pages) takes two 512-page batches.
    ...buffer(1, "init", "1 init [heap]", 600, 40, 0, { registrations: 40, pinBatches: 41 }),
    runMap: encodeRunMap({
      count: 40,
      va: Array.from({ length: 40 }, (_, i) => 0x55000000 + i * 8192),
      pfn: Array.from({ length: 40 }, (_, i) => 0x30000 + i * 2),
      npages: Array.from({ length: 40 }, (_, i) => (i < 39 ? 1 : 561)),
      kind: Array.from({ length: 40 }, () => 1),
    }),
  };
  const total = { ...buffer(-1, "", "total", 1630, 48, 1024, { registrations: 47, pinBatches: 49 }) };
  return {
    schema: "phyr-analysis/1",
    kernelModel: "7.2",
    origin: "snapshot",
    host: { hostname: `host${HOSTILE_NAME}`, kernel: "6.18.0-test", pageSize: 4096 },
    access: { pfns: true, iomem: true, messages: [`note: ${HOSTILE_PATH}`] },
    physmap: {
      regions: [
        { name: "System RAM", start: "0x100000", end: "0xbfffffff", bytes: 0xbff00000, depth: 0 },
        { name: HOSTILE_NAME, start: "0x1000000", end: "0x1ffffff", bytes: 0x1000000, depth: 1 },
        { name: "PCI Bus 0000:00", start: "0xc0000000", end: "0xfebfffff", bytes: 0x3ec00000, depth: 0 },
      ],
      totals: [
        { name: "System RAM", bytes: 0xbff00000 },
        { name: "PCI Bus 0000:00", bytes: 0x3ec00000 },
      ],
      systemRam: 0xbff00000,
    },
    pci: {
      devices: [
        {
          bdf: "0000:00:00.0",
          vendor: "8086",
          device: "1237",
          classCode: "060000",
          kind: "bridge",
          bars: [],
          iommuGroup: -1,
          upstream: [],
        },
        {
          bdf: "0000:00:03.0",
          vendor: "1af4",
          device: "1000",
          classCode: "020000",
          kind: "network",
          bars: [{ index: 4, start: "0xfe000000", bytes: 16384, prefetch: true, is64: true }],
          iommuGroup: -1,
          upstream: [],
        },
        {
          bdf: "0000:00:04.0",
          vendor: "1b36",
          device: "0010",
          classCode: "010802",
          kind: "nvme",
          bars: [{ index: 0, start: "0xfe010000", bytes: 16384, prefetch: false, is64: true }],
          iommuGroup: -1,
          upstream: [],
        },
      ],
      tree: [
        "0000:00:00.0 [8086:1237] bridge",
        "0000:00:03.0 [1af4:1000] network",
        "0000:00:04.0 [1b36:0010] nvme",
      ],
    },
    iommu: { present: false, units: [], groups: 0 },
    p2p: {
      providers: [
        { bdf: "0000:00:03.0", bar: 4, bytes: 16384 },
        { bdf: "0000:00:04.0", bar: 0, bytes: 16384 },
      ],
      clients: ["0000:00:03.0", "0000:00:04.0"],
      cells: [
        { type: "BUS_ADDR", distance: 0 },
        { type: "THRU_HOST_BRIDGE", distance: 4 },
        { type: "THRU_HOST_BRIDGE", distance: 4 },
        { type: "BUS_ADDR", distance: 0 },
      ],
      notes: ["P2P matrix assumes ACS redirect off"],
    },
    buffers: [a, b],
    total,
    whatIf: [
      {
        label: a.label,
        pid: a.pid,
        comm: a.comm,
        pages: a.pages,
        runs: a.runs,
        registrations: 2,
        vfio: {
          kernel: { pinOps: a.pages, pinCalls: 3, iommuMaps: a.runs },
          design: { pinOps: a.runs, pinCalls: 2, iommuMaps: 2 },
        },
        rdma: { bitmap: "4K|2M|1G", entries: a.pages, entries4k: a.pages },
        nvme: { ioBytes: 1048576, prpEntries: 256, sglDescriptors: 8 },
      },
    ],
    verdict: verdict({ total, buffers: [a, b] }),
    completeness: { status: "complete", notes: [] },
    scenarios: [
      {
        name: "vfio-1g",
        description: "VFIO mapping of 1 GiB pages",
        seed: 1,
        size: 2 ** 30,
        design: { leaves: 1, ops: 1 },
        baseline: { leaves: 262144, ops: 262144 },
        ratios: { leaves: 262144, ops: 262144 },
        notes: [],
      },
      {
        name: "rdma-mr",
        description: "RDMA memory registration",
        seed: 1,
        size: 2 ** 24,
        design: { entries: 8 },
        baseline: { entries: 4096 },
        ratios: { entries: 512 },
        notes: ["a note"],
      },
    ],
  };
}

/** An analysis with nothing in it: no regions, devices, buffers or scenarios (every chart says "no data"). */
export function emptyAnalysis(): MachineAnalysis {
  const s = sampleAnalysis();
  const total = {
    ...s.total,
    pages: 0,
    runs: 0,
    vaLength: 0,
    histogram: { runs: [], bytes: [] },
    formats: s.total.formats.map((f) => ({ ...f, bytes: 0 })),
    iommu: [],
    rdma: [],
  };
  return {
    ...s,
    whatIf: [],
    verdict: verdict({ total, buffers: [] }),
    completeness: { status: "empty", notes: ["no process had present pages with frame numbers"] },
    origin: "live",
    host: { hostname: "empty-host", kernel: "6.18.0-test", pageSize: 4096 },
    access: { pfns: true, iomem: false, messages: [] },
    physmap: { regions: [], totals: [], systemRam: 0 },
    pci: { devices: [], tree: [] },
    p2p: { providers: [], clients: [], cells: [], notes: [] },
    buffers: [],
    total,
    scenarios: [],
  };
}
