import { describe, expect, test } from "vitest";
import { runScenario, SCENARIOS } from "./scenarios.js";

const GiB = 2 ** 30;

describe("named scenarios run at a small size and return plain data", () => {
  test("names are stable kebab-case with one-line descriptions", () => {
    expect(SCENARIOS.map((s) => s.name)).toEqual([
      "block-odirect",
      "nvme-prp-vs-sgl",
      "rdma-mr",
      "vfio-1g",
      "vfio-thp",
      "vfio-fragmented",
      "dmabuf-p2p",
      "devmem-rx",
    ]);
    for (const s of SCENARIOS) {
      expect(s.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(s.description.includes("\n")).toBe(false);
    }
  });

  for (const s of SCENARIOS) {
    test(`${s.name}: design and baseline side by side, JSON round trip, deterministic`, () => {
      const r = runScenario(s.name, { seed: 7 });
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
      expect(Object.keys(r.design).length).toBeGreaterThan(2);
      expect(Object.keys(r.ratios).length).toBeGreaterThan(0);
      for (const k of Object.keys(r.ratios)) expect(r.ratios[k]).toBe(r.baseline[k] / r.design[k]);
      expect(runScenario(s.name, { seed: 7 }).design).toEqual(r.design);
    });
  }

  test("vfio-1g at 2 GiB: 2 range pins vs 524,288 page pins, the same two 1 GiB leaves", () => {
    const r = runScenario("vfio-1g", { size: 2 * GiB });
    expect([r.design.pinOps, r.baseline.pinOps, r.baseline.pinCalls]).toEqual([2, 524288, 1024]);
    expect([r.design.leaves1G, r.baseline.leaves1G, r.design.iotlbEntriesToCover]).toEqual([2, 2, 2]);
    expect(r.ratios.pinOps).toBe(262144);
  });

  test("vfio-1g above the baseline limit derives the baseline's counts exactly and says so", () => {
    const r = runScenario("vfio-1g", { size: 3 * GiB, baselineLimit: GiB });
    expect(r.baseline.pinOps).toBe((3 * GiB) / 4096);
    expect(r.baseline.pinCalls).toBe((3 * GiB) / 4096 / 512);
    expect(r.notes[0]).toMatch(/slice/);
  });

  test("rdma-mr at 16 MiB of THP: 8 MTT entries of 2 MiB vs 4096 of 4 KiB", () => {
    const r = runScenario("rdma-mr", { size: 16 * 2 ** 20 });
    expect([r.design.pageSize, r.design.mttEntries, r.baseline.mttEntries]).toEqual([2 ** 21, 8, 4096]);
  });

  test("dmabuf-p2p tears down both importers' mappings; the baseline needs a struct page per BAR page", () => {
    const r = runScenario("dmabuf-p2p", { size: 64 * 2 ** 20 });
    expect(r.design.mappingsTornDown).toBe(2);
    expect(r.design.structPages).toBe(0);
    expect(r.baseline.structPages).toBe((128 * 2 ** 20) / 4096);
  });

  test("bad names and sizes are refused", () => {
    expect(() => runScenario("nope")).toThrow(/expected one of block-odirect/);
    expect(() => runScenario("vfio-1g", { size: 3 * 2 ** 20 })).toThrow(RangeError);
    expect(() => runScenario("block-odirect", { size: 100 })).toThrow(RangeError);
  });
});
