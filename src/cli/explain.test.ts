import { describe, expect, it } from "vitest";
import { runMain } from "../../test/cli-io.js";
import { EXIT_OK, EXIT_USAGE } from "./io.js";

describe("phyr explain", () => {
  it("explains one term with its kernel source", async () => {
    const r = await runMain(["explain", "IOTLB"]);
    expect(r.code).toBe(EXIT_OK);
    expect(r.out).toMatch(/^iotlb\n {2}The IOMMU's translation cache/);
    expect(r.out).toMatch(/source: include\/linux\/iommu\.h/);
  });

  it("lists every term without an argument, and as JSON with --json", async () => {
    const all = await runMain(["explain"]);
    expect(all.out).toMatch(/^congruent$/m);
    expect(all.out).toMatch(/^scatterlist$/m);
    const j = await runMain(["explain", "mtt", "--json"]);
    const doc = JSON.parse(j.out);
    expect(doc.schema).toBe("phyr-glossary/1");
    expect(doc.terms[0].source).toContain("ib_umem_find_best_pgsz");
  });

  it("an unknown term is a usage error naming it", async () => {
    const r = await runMain(["explain", "frobnicate"]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toMatch(/^phyr: error: term "frobnicate" is invalid: expected one of run, buffer/);
  });
});
