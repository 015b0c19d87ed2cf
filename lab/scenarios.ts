/**
 * The lab's named scenarios: each one is a guest (kernel command line, devices, memory) and a
 * workload (buffers and O_DIRECT ops on /dev/nvme0n1). Sizes are small (1-2 MiB per buffer) so a
 * scenario boots, runs and powers off in about 10 s under TCG.
 */

/** How a workload buffer's memory is backed. */
export type Backing = "scattered4k" | "thp" | "hugetlb";

/** One buffer the workload allocates. */
export interface BufferSpec {
  id: number;
  backing: Backing;
  /** Bytes; hugetlb buffers are rounded up to 2 MiB by the workload's mmap. */
  length: number;
}

/** One O_DIRECT op: `length` bytes at `offset` in buffer `buffer`, at `devOffset` on the device. */
export interface OpSpec {
  buffer: number;
  offset: number;
  length: number;
  dir: "read" | "write";
  devOffset: number;
}

/** Guest options of a scenario. */
export interface ScenarioOptions {
  /** Emulated VT-d IOMMU present and enabled (intel_iommu=on). */
  iommu: boolean;
  /** iommu.strict=1 (true) or 0 (false) on the command line; false when there is no IOMMU. */
  strict: boolean;
  /** swiotlb=force on the command line. */
  swiotlbForce: boolean;
  /** hugepages=N on the command line (2 MiB pages). */
  hugetlbPages: number;
  /**
   * NVMe SGL use: true leaves the nvme module's sgl_threshold at its default, false loads nvme
   * with sgl_threshold=0 (drivers/nvme/host/pci.c: 0 disables SGLs; QEMU's controller supports them).
   */
  nvmeSgl: boolean;
  /** Guest memory in MiB. */
  memMiB: number;
}

/** A named lab scenario. */
export interface Scenario {
  name: string;
  description: string;
  options: ScenarioOptions;
  buffers: BufferSpec[];
  ops: OpSpec[];
}

const KiB = 1024;
const MiB = 1024 * KiB;

const base: ScenarioOptions = {
  iommu: true,
  strict: false,
  swiotlbForce: false,
  hugetlbPages: 0,
  nvmeSgl: true,
  memMiB: 512,
};

const scattered: BufferSpec = { id: 0, backing: "scattered4k", length: 1 * MiB };
const hugetlb: BufferSpec = { id: 1, backing: "hugetlb", length: 2 * MiB };
const hugetlb4m: BufferSpec = { id: 1, backing: "hugetlb", length: 4 * MiB };
const thp: BufferSpec = { id: 2, backing: "thp", length: 2 * MiB };

/** A write of the whole range then a read back into it. */
function writeRead(buffer: number, offset: number, length: number, devOffset: number): OpSpec[] {
  return [
    { buffer, offset, length, dir: "write", devOffset },
    { buffer, offset, length, dir: "read", devOffset },
  ];
}

/** Every scenario, in `--list` order. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: "nvme-scattered4k",
    description: "1 MiB O_DIRECT write+read from a buffer of scattered 4 KiB pages, VT-d lazy",
    options: { ...base },
    buffers: [scattered],
    ops: writeRead(0, 0, 1 * MiB, 0),
  },
  {
    name: "nvme-thp",
    description: "2 MiB O_DIRECT write+read from a THP-backed buffer (MADV_HUGEPAGE), VT-d lazy",
    // mm/huge_memory.c hugepage_init(): below 512 MiB of RAM the kernel turns THP off ("never"),
    // and a 512 MiB guest has a little less than that; 1 GiB keeps the madvise setting.
    options: { ...base, memMiB: 1024 },
    buffers: [thp],
    ops: writeRead(2, 0, 2 * MiB, 0),
  },
  {
    name: "nvme-hugetlb",
    description: "2 MiB and 1 MiB O_DIRECT write+read from a 2 MiB hugetlb page, VT-d lazy",
    options: { ...base, hugetlbPages: 4 },
    buffers: [hugetlb],
    ops: [...writeRead(1, 0, 2 * MiB, 0), ...writeRead(1, 512 * KiB, 1 * MiB, 4 * MiB)],
  },
  {
    name: "nvme-unaligned",
    description:
      "O_DIRECT at 512-byte offsets that are not page aligned, scattered 4 KiB and hugetlb, VT-d lazy",
    options: { ...base, hugetlbPages: 4 },
    buffers: [scattered, hugetlb],
    ops: [
      ...writeRead(0, 0x200, 256 * KiB + 0x400, 0),
      ...writeRead(0, 0xe00, 64 * KiB, 1 * MiB),
      ...writeRead(1, 0x600, 512 * KiB + 0x200, 2 * MiB),
    ],
  },
  {
    name: "nvme-strict",
    description: "scattered 4 KiB and hugetlb O_DIRECT behind VT-d in strict mode (iommu.strict=1)",
    options: { ...base, strict: true, hugetlbPages: 4 },
    buffers: [scattered, hugetlb],
    ops: [...writeRead(0, 0, 512 * KiB, 0), ...writeRead(1, 0, 1 * MiB, 1 * MiB)],
  },
  {
    name: "nvme-lazy",
    description: "scattered 4 KiB and hugetlb O_DIRECT behind VT-d in lazy mode (iommu.strict=0)",
    options: { ...base, strict: false, hugetlbPages: 4 },
    buffers: [scattered, hugetlb],
    ops: [...writeRead(0, 0, 512 * KiB, 0), ...writeRead(1, 0, 1 * MiB, 1 * MiB)],
  },
  {
    name: "nvme-swiotlb",
    description: "no IOMMU, swiotlb=force: every O_DIRECT segment bounces (scattered 4 KiB and hugetlb)",
    options: { ...base, iommu: false, strict: false, swiotlbForce: true, hugetlbPages: 4 },
    buffers: [scattered, hugetlb],
    ops: [...writeRead(0, 0, 512 * KiB, 0), ...writeRead(1, 0, 1 * MiB, 1 * MiB)],
  },
  // SGL scenarios run without an IOMMU: behind dma-iommu a request maps to one contiguous IOVA
  // range, one DMA segment, and NVMe sends a single segment without SGLs. Directly mapped, an op
  // across the two 2 MiB hugetlb pages of a 4 MiB buffer is two large segments when the pages are
  // not adjacent, and 4 KiB pages are many small ones.
  {
    name: "nvme-nosgl",
    description:
      "no IOMMU, NVMe SGLs off (nvme sgl_threshold=0): PRPs only, across two hugetlb pages and scattered 4 KiB",
    options: { ...base, iommu: false, strict: false, nvmeSgl: false, hugetlbPages: 4 },
    buffers: [scattered, hugetlb4m],
    ops: [...writeRead(1, 1536 * KiB, 1 * MiB, 0), ...writeRead(0, 0, 256 * KiB, 2 * MiB)],
  },
  {
    name: "nvme-sgl",
    description:
      "no IOMMU, NVMe SGLs on (default sgl_threshold): across two hugetlb pages and scattered 4 KiB",
    options: { ...base, iommu: false, strict: false, nvmeSgl: true, hugetlbPages: 4 },
    buffers: [scattered, hugetlb4m],
    ops: [...writeRead(1, 1536 * KiB, 1 * MiB, 0), ...writeRead(0, 0, 256 * KiB, 2 * MiB)],
  },
  {
    name: "nvme-direct",
    description: "no IOMMU, no bounce: dma-direct maps scattered 4 KiB and hugetlb buffers 1:1",
    options: { ...base, iommu: false, strict: false, hugetlbPages: 4 },
    buffers: [scattered, hugetlb],
    ops: [...writeRead(0, 0, 512 * KiB, 0), ...writeRead(1, 0, 1 * MiB, 1 * MiB)],
  },
];

/** Error for a scenario name that is not in {@link SCENARIOS}. */
export class UnknownScenarioError extends Error {
  readonly code = "LAB_UNKNOWN_SCENARIO";
  constructor(readonly scenario: string) {
    super(
      `Unknown lab scenario ${JSON.stringify(scenario)}: expected one of ${SCENARIOS.map((s) => s.name).join(", ")} or "all"`,
    );
    this.name = "UnknownScenarioError";
  }
}

/**
 * The scenario of that name. O(scenarios).
 * @throws UnknownScenarioError when there is none
 */
export function findScenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new UnknownScenarioError(name);
  return s;
}

/**
 * The workload program's arguments for a scenario (see guest/workload.c): buffers first, then ops,
 * numbers in hex. O(buffers + ops).
 */
export function workloadArgs(s: Scenario): string[] {
  const h = (n: number) => `0x${n.toString(16)}`;
  return [
    ...s.buffers.map((b) => `buf:${b.id}:${b.backing}:${h(b.length)}`),
    ...s.ops.map(
      (o) =>
        `op:${o.buffer}:${h(o.offset)}:${h(o.length)}:${o.dir === "write" ? "w" : "r"}:${h(o.devOffset)}`,
    ),
  ];
}
