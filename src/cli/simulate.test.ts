import { describe, expect, it } from "vitest";
import { runScenario, SCENARIOS } from "../subsys/index.js";
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
    const j = await run(["simulate", "--json"]);
    const list = JSON.parse(j.out);
    expect(list.schema).toBe("phyr-scenarios/1");
    expect(list.scenarios).toEqual(SCENARIOS.map((s) => ({ ...s })));
  });

  it("--json prints the phyr-scenario/1 document: exactly what runScenario returns for that seed and size", async () => {
    const r = await run(["simulate", "rdma-mr", "--seed", "7", "--size", "8M", "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(EXIT_OK);
    expect(JSON.parse(r.out)).toEqual({
      schema: "phyr-scenario/1",
      ...JSON.parse(JSON.stringify(runScenario("rdma-mr", { seed: 7, size: 8 * 2 ** 20 }))),
    });
  });

  it("prints design, baseline and ratio per metric", async () => {
    const r = await run(["simulate", "nvme-prp-vs-sgl"]);
    expect(r.code).toBe(EXIT_OK);
    const res = runScenario("nvme-prp-vs-sgl", { seed: 1 });
    expect(r.out.split("\n")[0]).toMatch(/^nvme-prp-vs-sgl \(seed 1, size /);
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
  ])("%j -> usage error (exit 2)", async (argv, msg) => {
    const r = await run(argv);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err.trimEnd()).toMatch(msg);
  });
});
