/**
 * The kernel lab in the test suite: boots Debian's newest kernel under QEMU for each scenario of
 * issue 10's list (two guests at a time: the machine has two cores) and checks that every traced
 * NVMe request is reproduced by phyr's model of that kernel (src/trace/replay.ts, fed the same
 * physical runs and queue limits), plus the limits the kernel source fixes for each set-up.
 *
 * Runs where QEMU can run: the host tools are present, or the process is root and installs them.
 * Under CI it never skips: a missing QEMU or kernel fails the suite. PHYR_LAB=0 skips it outside CI.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { replayLabRecord } from "../src/trace/index.js";
import type { LabRecord } from "./record.js";
import { missingHostPackages, type RunResult, runScenario } from "./run.js";
import { findScenario } from "./scenarios.js";
import { countTrace, deviceCommands } from "./summary.js";

/** Issue 10 item 4's list; lazy mode is the default of every IOMMU scenario but nvme-strict. */
export const LAB_TEST_SCENARIOS = [
  "nvme-scattered4k",
  "nvme-thp",
  "nvme-hugetlb",
  "nvme-unaligned",
  "nvme-strict",
  "nvme-swiotlb",
  "nvme-nosgl",
  "nvme-sgl",
] as const;

/** Guests booted at once (one per core of this project's machines). */
const GUESTS_AT_ONCE = 2;

const inCi = Boolean(process.env.CI);
const canRun = missingHostPackages().length === 0 || process.getuid?.() === 0;
const skip = !inCi && (process.env.PHYR_LAB === "0" || !canRun);

const results = new Map<string, RunResult | Error>();
let wallSeconds = 0;

/** Runs the scenarios, `GUESTS_AT_ONCE` at a time; each result or error is kept by name. */
async function runAll(): Promise<void> {
  const t0 = performance.now();
  const queue = [...LAB_TEST_SCENARIOS];
  const runOne = async (name: string) => {
    results.set(name, await runScenario(findScenario(name)).catch((e: Error) => e));
  };
  // The first run fetches the kernel and builds the workload: do it alone so two runs do not
  // download into the same cache at once.
  await runOne(queue.shift() as string);
  const worker = async () => {
    for (let name = queue.shift(); name; name = queue.shift()) await runOne(name);
  };
  await Promise.all(Array.from({ length: GUESTS_AT_ONCE }, worker));
  wallSeconds = (performance.now() - t0) / 1000;
}

function record(name: string): LabRecord {
  const r = results.get(name);
  if (r instanceof Error) throw r;
  if (!r) throw new Error(`${name} did not run`);
  return r.record;
}

/** Queue limits as the guest's sysfs showed them. */
function queue(r: LabRecord, key: string): number | string | undefined {
  return r.device.queue[key];
}

describe.skipIf(skip)("kernel lab: Debian's newest kernel under QEMU agrees with the model", () => {
  beforeAll(runAll, 900_000);

  it.each(LAB_TEST_SCENARIOS)(
    "%s: every traced request is reproduced by the model of its release",
    (name) => {
      const r = record(name);
      const replay = replayLabRecord(r);
      expect(replay.requests).toBeGreaterThan(0);
      expect(replay.mismatches).toEqual([]);
      expect(replay.reproduced).toBe(replay.requests);
      // Every op moved all its bytes, and the ring buffer lost no event.
      expect(r.ops.map((o) => o.result)).toEqual(r.ops.map((o) => o.length));
      expect([r.traceStats.overrun, r.traceStats["dropped events"]]).toEqual(["0", "0"]);
    },
  );

  it("behind VT-d, NVMe requests are capped at dma_opt_mapping_size = 128 KiB and hugetlb never gets a 2 MiB leaf", () => {
    // drivers/nvme/host/pci.c nvme_pci_alloc_dev(): max_hw_sectors = min(NVME_MAX_BYTES,
    // dma_opt_mapping_size()) >> 9; drivers/iommu/dma-iommu.c iommu_dma_opt_mapping_size() is
    // iova_rcache_range() (drivers/iommu/iova.c) = PAGE_SIZE << (IOVA_RANGE_CACHE_MAX_SIZE - 1)
    // = 4 KiB << 5 = 128 KiB.
    for (const name of ["nvme-scattered4k", "nvme-thp", "nvme-hugetlb", "nvme-unaligned", "nvme-strict"]) {
      expect(queue(record(name), "max_hw_sectors_kb"), name).toBe(128);
    }
    const c = countTrace(record("nvme-hugetlb"));
    expect(c.requests).toBeGreaterThan(0);
    expect([...c.iommuMapBySize.keys()].every((size) => size <= 128 * 1024)).toBe(true);
  });

  it("with swiotlb forced and no IOMMU, requests are capped at swiotlb_max_mapping_size = 252 KiB and bounce", () => {
    // kernel/dma/swiotlb.c swiotlb_max_mapping_size(): IO_TLB_SIZE * IO_TLB_SEGSIZE (2 KiB * 128)
    // minus min_align (NVMe's min_align_mask NVME_CTRL_PAGE_SIZE - 1 rounded up to IO_TLB_SIZE,
    // 4 KiB) = 252 KiB; kernel/dma/direct.c dma_direct_max_mapping_size() returns it when bounce is
    // forced, and dma_opt_mapping_size() is capped by it.
    const r = record("nvme-swiotlb");
    expect(queue(r, "max_hw_sectors_kb")).toBe(252);
    const c = countTrace(r);
    expect(c.bounces).toBeGreaterThan(0);
    expect(c.iommuMapBySize.size).toBe(0);
  });

  it("directly mapped (no IOMMU, no forced bounce), the cap is the controller's MDTS: 512 KiB", () => {
    // drivers/nvme/host/core.c nvme_init_ctrl_finish(): max_hw_sectors = min(the driver's
    // NVME_MAX_BYTES (8 MiB), 1 << (MDTS + 12)); QEMU's controller has MDTS 7 (hw/nvme: mdts=7) ->
    // 512 KiB. dma-direct with a 64-bit mask and no forced bounce sets no smaller
    // dma_opt_mapping_size (kernel/dma/direct.c dma_direct_max_mapping_size() is SIZE_MAX).
    for (const name of ["nvme-sgl", "nvme-nosgl"])
      expect(queue(record(name), "max_hw_sectors_kb"), name).toBe(512);
  });

  it("a THP buffer is one transparent huge page and the hugetlb buffer one hugetlb page (kpageflags)", () => {
    expect(record("nvme-thp").buffers[0].runs.map((x) => [x.pages, x.kind])).toEqual([[512, "thp"]]);
    expect(record("nvme-hugetlb").buffers[0].runs.map((x) => [x.pages, x.kind])).toEqual([[512, "hugetlb"]]);
  });

  it("iommu.strict picks the DMA domain's TLB invalidation policy, as the kernel reports it", () => {
    // drivers/iommu/iommu.c iommu_subsys_init(): "DMA domain TLB invalidation policy: %s mode".
    expect(record("nvme-strict").dmesg).toMatch(/DMA domain TLB invalidation policy: strict mode/);
    expect(record("nvme-hugetlb").dmesg).toMatch(/DMA domain TLB invalidation policy: lazy mode/);
  });

  it("NVMe picks SGLs by average segment size (the controller's view of each command)", () => {
    // drivers/nvme/host/pci.c nvme_map_data(): with an SGL-capable controller (QEMU's is) a request
    // of several segments uses an SGL when sgl_threshold is set and nvme_pci_avg_seg_size() >=
    // sgl_threshold (32 KiB by default), else PRPs. Across the two 2 MiB hugetlb pages a 512 KiB
    // request is two 256 KiB segments when the pages are not adjacent; 4 KiB pages average 4 KiB.
    // The guest's nvme_setup_cmd fires before the data pointer is set, so QEMU's trace is read;
    // the replay above compares every command's data pointer with the model's as well.
    const sgl = record("nvme-sgl");
    const [first, second] = sgl.buffers.find((b) => b.backing === "hugetlb")?.runs ?? [];
    const apart = Number.parseInt(first.pfn, 16) + first.pages !== Number.parseInt(second.pfn, 16);
    const on = deviceCommands(sgl).filter((c) => c.dir !== "other");
    expect(on.filter((c) => c.bytes === 512 * 1024).map((c) => c.pointer)).toEqual(
      Array(4).fill(apart ? "sgl" : "prp"),
    );
    expect(on.filter((c) => c.bytes === 256 * 1024).map((c) => c.pointer)).toEqual(["prp", "prp"]);
    // sgl_threshold=0 reached the driver, and 4 KiB-page requests stay on PRPs.
    const nosgl = record("nvme-nosgl");
    expect(nosgl.device.moduleParams["nvme.sgl_threshold"]).toBe("0");
    const off = deviceCommands(nosgl).filter((c) => c.bytes === 256 * 1024);
    expect(off.map((c) => c.pointer)).toEqual(["prp", "prp"]);
  });

  it("the whole lab stays within its budget of three minutes", () => {
    // Two guests at a time on this project's two-core machines; a loaded machine is slower.
    expect(wallSeconds).toBeGreaterThan(0);
    if (inCi) expect(wallSeconds).toBeLessThan(180);
  });
});
