import { describe, expect, it } from "vitest";
import { GiB, TiB } from "../../test/kit/index.js";
import { planScenario, scenarioLimits } from "./limits.js";
import { runScenario, SCENARIOS } from "./run.js";
import { ScenarioSizeError } from "./types.js";

describe("scenario limits", () => {
  it("every scenario has limits, and its default size is the size a run without one uses", () => {
    for (const s of SCENARIOS) {
      const l = scenarioLimits(s.name);
      expect(l, s.name).toBeDefined();
      expect(runScenario(s.name, { seed: 1 }).size, s.name).toBe(l?.defaultSize);
      expect(planScenario(s.name).size).toBe(l?.defaultSize);
    }
  });

  it("the size unit is the one the scenario itself checks: half a unit more is refused by both", () => {
    for (const s of SCENARIOS) {
      const l = scenarioLimits(s.name);
      if (!l || l.unit < 8192) continue; // a 4 KiB unit: any odd size is refused; see the next case
      const bad = l.defaultSize + l.unit / 2;
      expect(() => planScenario(s.name, bad), s.name).toThrow(ScenarioSizeError);
      expect(() => runScenario(s.name, { size: bad }), s.name).toThrow(ScenarioSizeError);
    }
    expect(() => planScenario("block-odirect", 4097)).toThrow(/expected a positive multiple of 0x1000/);
  });

  it("vfio-1g above 64 TiB is refused before anything is built (65,536 hugetlb 1 GiB pages at most)", () => {
    expect(planScenario("vfio-1g", 64 * TiB).size).toBe(64 * TiB);
    const t0 = performance.now();
    expect(() => planScenario("vfio-1g", 1024 * TiB)).toThrow(
      /^size 1 PiB \(0x4000000000000\) is invalid: at most 64 TiB, because the memory model holds at most 65,536 hugetlb 1 GiB pages$/,
    );
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it("devmem-rx above the largest typed array of its received stream is refused (was: Invalid typed array length)", () => {
    // stream = size * 1448 / 8192 bytes must be at most 2^32.
    const max = scenarioLimits("devmem-rx")?.maxSize ?? 0;
    expect((max * 1448) / 8192).toBeLessThanOrEqual(2 ** 32);
    expect(((max + 65536) * 1448) / 8192).toBeGreaterThan(2 ** 32);
    expect(() => planScenario("devmem-rx", 64 * GiB)).toThrow(/because the received stream .* 2\^32 bytes/);
  });

  it("dmabuf-p2p at 512 GiB is refused: its 1 TiB BAR leaves no room in the host bridge window", () => {
    expect(() => planScenario("dmabuf-p2p", 512 * GiB)).toThrow(ScenarioSizeError);
    expect(() => runScenario("dmabuf-p2p", { size: 512 * GiB })).toThrow(
      /no room in pci0000:00's 64-bit window/,
    );
    expect(planScenario("dmabuf-p2p", 256 * GiB).size).toBe(256 * GiB);
  });

  it("estimates grow with the size and include the margin over the fitted line", () => {
    const a = planScenario("vfio-1g", 2 * GiB);
    const b = planScenario("vfio-1g", 16 * TiB);
    expect(b.memoryBytes).toBeGreaterThan(a.memoryBytes);
    // 103 MiB + 0.00103 x 16 TiB = 18.2 GB, times 1.2, plus the worker's 32 MiB.
    expect(b.memoryBytes).toBe(Math.ceil((103 * 2 ** 20 + 0.00103 * 16 * TiB) * 1.2) + 32 * 2 ** 20);
    expect(b.seconds).toBeGreaterThan(a.seconds);
  });

  it("an unknown name is a RangeError", () => {
    expect(() => planScenario("nosuch")).toThrow(RangeError);
  });
});
