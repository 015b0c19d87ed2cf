/**
 * The IOMMU rows phyr prints follow the kernel release it models (issue 11 items 3-5): memory read
 * in 4 KiB pages never gets a 16 KiB or 64 KiB granule row (drivers/iommu/iova.c init_iova_domain
 * refuses a granule above PAGE_SIZE), every row names its side (kernel 7.2 or the phyr design),
 * and the JSON and the terminal header name the release. Checked on the reference machine through
 * the command, in the terminal, in --json and in report.html.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runMain } from "../../test/cli-io.js";
import type { MachineAnalysis } from "../analyze/index.js";
import { EXIT_OK } from "./io.js";

const dir = mkdtempSync(join(tmpdir(), "phyr-iommu-rows-"));
const GRANULE_ROW = /ARM 16K|ARM 64K|16K\|32M|64K\|512M/;

describe("IOMMU rows on a 4 KiB-page machine", () => {
  it("--json: kernelModel 7.2, only VT-d and AMD v1 rows, each naming its side", async () => {
    const r = await runMain(["report", "--reference", "--json", "-o", join(dir, "a.html")], {}, dir);
    expect(r.code).toBe(EXIT_OK);
    const a = JSON.parse(r.out) as MachineAnalysis;
    expect(a.kernelModel).toBe("7.2");
    expect(a.host.pageSize).toBe(4096);
    const rows = a.total.iommu;
    expect([...new Set(rows.map((c) => c.bitmap))]).toEqual(["x86-64 4K|2M|1G", "AMD v1 4K..2^47"]);
    for (const c of rows) {
      expect(c.placementLabel).toBe(
        c.placement === "kernel" ? "kernel 7.2, size-aligned" : "phyr design, congruent",
      );
    }
    for (const b of a.buffers) for (const c of b.iommu) expect(c.bitmap).not.toMatch(GRANULE_ROW);
    const html = readFileSync(join(dir, "a.html"), "utf8");
    expect(html).not.toMatch(GRANULE_ROW);
  });

  it("terminal: the header names the release; no granule row; placements name their side", async () => {
    const r = await runMain(["report", "--reference", "--no-html"], {}, dir);
    expect(r.code).toBe(EXIT_OK);
    const lines = r.out.split("\n");
    expect(lines.find((l) => l.startsWith("phyr — "))).toMatch(/; kernel way: Linux 7\.2\)$/);
    expect(r.out).not.toMatch(GRANULE_ROW);
    const iommu = lines.filter((l) => /^(x86-64|AMD v1) /.test(l));
    expect(iommu).toHaveLength(4);
    expect(iommu.filter((l) => l.includes("kernel 7.2, size-aligned"))).toHaveLength(2);
    expect(iommu.filter((l) => l.includes("phyr design, congruent"))).toHaveLength(2);
  });
});
