import { describe, expect, it } from "vitest";
import { kernelCmdline, nvmeModuleParams, qemuArgs } from "./qemu.js";
import { findScenario, SCENARIOS, UnknownScenarioError, workloadArgs } from "./scenarios.js";

const files = {
  vmlinuz: "/k",
  initrd: "/i",
  disk: "/d",
  consoleFile: "/c",
  outFile: "/o",
  deviceTraceFile: "/t",
};

describe("scenarios", () => {
  it("names are unique and every op lies inside its buffer, 512-byte aligned for O_DIRECT", () => {
    expect(new Set(SCENARIOS.map((s) => s.name)).size).toBe(SCENARIOS.length);
    for (const s of SCENARIOS) {
      for (const o of s.ops) {
        const b = s.buffers.find((x) => x.id === o.buffer);
        expect(b, `${s.name}: op buffer ${o.buffer}`).toBeDefined();
        expect(o.offset + o.length).toBeLessThanOrEqual(b?.length ?? 0);
        expect([o.offset % 512, o.length % 512, o.devOffset % 512]).toEqual([0, 0, 0]);
        // The NVMe namespace is a 16 MiB file.
        expect(o.devOffset + o.length).toBeLessThanOrEqual(16 * 2 ** 20);
      }
      if (s.buffers.some((b) => b.backing === "hugetlb")) expect(s.options.hugetlbPages).toBeGreaterThan(0);
    }
  });

  it("the issue's list is covered: scattered, THP, hugetlb, unaligned, strict, lazy, swiotlb, SGL on and off", () => {
    for (const n of [
      "nvme-scattered4k",
      "nvme-thp",
      "nvme-hugetlb",
      "nvme-unaligned",
      "nvme-strict",
      "nvme-lazy",
      "nvme-swiotlb",
      "nvme-nosgl",
      "nvme-sgl",
    ]) {
      expect(findScenario(n).name).toBe(n);
    }
  });

  it("findScenario throws UnknownScenarioError listing the names", () => {
    expect(() => findScenario("nvme-nope")).toThrow(UnknownScenarioError);
    expect(() => findScenario("nvme-nope")).toThrow(
      /"nvme-nope": expected one of nvme-scattered4k, .* or "all"/,
    );
  });

  it("workloadArgs gives buffers then ops in hex, as guest/workload.c parses them", () => {
    expect(workloadArgs(findScenario("nvme-unaligned"))).toEqual([
      "buf:0:scattered4k:0x100000",
      "buf:1:hugetlb:0x200000",
      "op:0:0x200:0x40400:w:0x0",
      "op:0:0x200:0x40400:r:0x0",
      "op:0:0xe00:0x10000:w:0x100000",
      "op:0:0xe00:0x10000:r:0x100000",
      "op:1:0x600:0x80200:w:0x200000",
      "op:1:0x600:0x80200:r:0x200000",
    ]);
  });
});

describe("kernel and QEMU command lines", () => {
  it.each([
    ["nvme-strict", "intel_iommu=on iommu.passthrough=0 iommu.strict=1 hugepages=4"],
    ["nvme-lazy", "intel_iommu=on iommu.passthrough=0 iommu.strict=0 hugepages=4"],
    ["nvme-swiotlb", "intel_iommu=off swiotlb=force hugepages=4"],
    ["nvme-scattered4k", "intel_iommu=on iommu.passthrough=0 iommu.strict=0"],
  ])("%s boots with ... %s", (name, tailArgs) => {
    expect(kernelCmdline(findScenario(name))).toBe(
      `console=ttyS0 panic=-1 loglevel=6 no_timer_check transparent_hugepage=madvise ${tailArgs}`,
    );
  });

  it("the IOMMU scenarios add intel-iommu on a split irqchip; the others have neither", () => {
    const on = qemuArgs(findScenario("nvme-strict"), files);
    expect(on).toContain("intel-iommu,intremap=off");
    expect(on[on.indexOf("-machine") + 1]).toBe("q35,kernel-irqchip=split");
    const off = qemuArgs(findScenario("nvme-swiotlb"), files);
    expect(off.join(" ")).not.toMatch(/intel-iommu/);
    expect(off[off.indexOf("-machine") + 1]).toBe("q35");
  });

  it("the guest runs under TCG with the NVMe drive, the console on ttyS0 and results on ttyS1", () => {
    const a = qemuArgs(findScenario("nvme-thp"), files);
    expect(a.slice(0, 2)).toEqual(["-accel", "tcg"]);
    expect(a[a.indexOf("-m") + 1]).toBe("1024");
    expect(a).toContain("nvme,drive=nvm,serial=phyrlab");
    expect(a.filter((_x, i) => a[i - 1] === "-serial")).toEqual(["file:/c", "file:/o"]);
  });

  it("SGLs off is sgl_threshold=0 on the nvme module; on leaves the default", () => {
    expect(nvmeModuleParams(findScenario("nvme-nosgl"))).toEqual({ sgl_threshold: "0" });
    expect(nvmeModuleParams(findScenario("nvme-sgl"))).toEqual({});
  });
});
