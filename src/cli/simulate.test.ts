import { describe, expect, it } from "vitest";
import { planScenario, runScenario, SCENARIOS, scenarioLimits } from "../scenarios/index.js";
import { EXIT_OK, EXIT_USAGE } from "./io.js";
import { main } from "./program.js";

async function run(argv: string[]) {
  let out = "";
  let err = "";
  const io = {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
  };
  const code = await main(argv, io);
  return { code, out, err };
}

describe("phyr simulate", () => {
  it("without a name lists every scenario", async () => {
    const r = await run(["simulate"]);
    expect(r.code).toBe(EXIT_OK);
    for (const s of SCENARIOS) expect(r.out).toContain(s.name);
    // The default size is in the list, in the units --size takes.
    expect(r.out).toMatch(/^scenario +default size +size unit +bench size +description$/m);
    expect(r.out).toMatch(/^vfio-1g +2 GiB +1 GiB +1 TiB /m);
    const j = await run(["simulate", "--json"]);
    const list = JSON.parse(j.out);
    expect(list.schema).toBe("phyr-scenarios/1");
    expect(list.scenarios).toEqual(
      SCENARIOS.map((s) => {
        const l = scenarioLimits(s.name);
        return {
          name: s.name,
          description: s.description,
          defaultSize: l?.defaultSize,
          unit: l?.unit,
          maxSize: l?.maxSize,
          fullSize: s.fullSize,
        };
      }),
    );
  });

  it("--json prints the phyr-scenario/1 document: exactly what runScenario returns for that seed and size", async () => {
    const r = await run(["simulate", "rdma-mr", "--seed", "7", "--size", "8 MiB", "--json"]);
    expect(r.err).toMatch(/^phyr: rdma-mr at 8 MiB: estimate [\d.]+ MiB of memory, [\d.]+ s \(budget /);
    expect(r.code).toBe(EXIT_OK);
    const { estimate, measured, ...doc } = JSON.parse(r.out);
    expect(doc).toEqual({
      schema: "phyr-scenario/1",
      ...JSON.parse(JSON.stringify(runScenario("rdma-mr", { seed: 7, size: 8 * 2 ** 20 }))),
    });
    const plan = planScenario("rdma-mr", 8 * 2 ** 20);
    expect(estimate).toEqual({ memoryBytes: plan.memoryBytes, seconds: plan.seconds });
    expect(measured.peakRssBytes).toBeGreaterThan(0);
  });

  it("prints design, baseline and ratio per metric", async () => {
    const r = await run(["simulate", "nvme-prp-vs-sgl"]);
    expect(r.code).toBe(EXIT_OK);
    const res = runScenario("nvme-prp-vs-sgl", { seed: 1 });
    expect(r.out.split("\n")[0]).toMatch(/^nvme-prp-vs-sgl \(model; seed 1, size /);
    const metric = Object.keys(res.ratios)[0];
    expect(r.out).toMatch(new RegExp(`^${metric}\\s+[0-9,]+\\s+[0-9,]+\\s+[0-9.]+x$`, "m"));
  });

  it.each([
    [
      ["simulate", "no-such-scenario"],
      /^phyr: error: scenario "no-such-scenario" is invalid: expected one of block-odirect, /,
    ],
    [
      ["simulate", "rdma-mr", "--seed", "x"],
      /^phyr: error: --seed "x" is invalid: expected an integer in 0\.\.4294967295$/,
    ],
    [
      ["simulate", "rdma-mr", "--size", "0"],
      /^phyr: error: --size "0" is invalid: expected at least 1 byte$/,
    ],
    [
      ["simulate", "rdma-mr", "--size", "1M"],
      /^phyr: error: --size for rdma-mr: size 0x100000 is invalid: expected a positive multiple of 0x200000$/,
    ],
    [
      ["simulate", "vfio-1g", "--size", "16T", "--max-memory", "8G"],
      /^phyr: error: --size 16 TiB for vfio-1g needs about 20.4 GiB of memory \(estimate\), more than the budget of 8 GiB \(--max-memory\): give a smaller --size, or --max-memory to allow more$/,
    ],
    [
      ["simulate", "vfio-1g", "--size", "1024T"],
      /^phyr: error: --size for vfio-1g: size 1 PiB \(0x4000000000000\) is invalid: at most 64 TiB, because the memory model holds at most 65,536 hugetlb 1 GiB pages$/,
    ],
    [
      ["simulate", "devmem-rx", "--size", "64G"],
      /^phyr: error: --size for devmem-rx: size 64 GiB .* at most 2\^32 bytes$/,
    ],
    [["simulate", "rdma-mr", "--max-memory", "lots"], /^phyr: error: --max-memory "lots" is invalid: /],
  ])("%j -> usage error (exit 2)", async (argv, msg) => {
    const r = await run(argv);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err.trimEnd()).toMatch(msg);
  });
});
