import { describe, expect, it } from "vitest";
import { sampleAnalysis } from "../../test/browser/sample-analysis.js";
import { renderSummary } from "./summary.js";
import { plainPaint } from "./table.js";

describe("renderSummary", () => {
  it("prints host, memory totals and the representation table with ratios to the page array", () => {
    const lines = renderSummary(sampleAnalysis(), { paint: plainPaint });
    expect(lines[0]).toBe(
      "phyr — host<img src=x onerror=alert(1)> (snapshot, kernel 6.18.0-test, 4 KiB pages; kernel way: Linux 7.2)",
    );
    expect(lines).toContain("Memory read    1,630 pages (6.37 MiB) in 48 runs, average run 136 KiB");
    const pages = lines.find((l) => l.startsWith("pages "));
    expect(pages).toMatch(/^pages\s+13,040\s+12.7 KiB\s+1.00x$/);
    const phyr16 = lines.find((l) => l.startsWith("phyr16 "));
    expect(phyr16).toMatch(/^phyr16\s+768\s+768 B\s+16.98x smaller$/);
  });

  it("escapes control characters in untrusted names", () => {
    const a = sampleAnalysis();
    a.buffers[0].comm = "evil\u001b]0;title\u0007";
    a.host.hostname = "h\u001b[2J";
    const lines = renderSummary(a);
    for (const l of lines) expect(l).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    const text = lines.join("\n");
    expect(text).toContain("evil\\x1b]0;title\\x07");
    expect(text).toContain("h\\x1b[2J");
  });

  it("lists the largest processes first, pid as plain digits", () => {
    const lines = renderSummary(sampleAnalysis(), { top: 1 });
    expect(lines[lines.length - 2]).toMatch(/^4242 {2}/);
    expect(lines[lines.length - 1]).toBe("... 1 more (--top N lists more)");
    expect(lines.some((l) => l.startsWith("   1  init"))).toBe(false);
  });

  it("sorts the process table by name or runs when asked", () => {
    const byName = renderSummary(sampleAnalysis(), { sort: "name" });
    const rows = byName.filter((l) => /^\s*\d+ {2}\S/.test(l) && !l.includes("x"));
    expect(rows[0]).toMatch(/^ {3}1 {2}init/);
    const byRuns = renderSummary(sampleAnalysis(), { sort: "runs", top: 1 });
    // init has 40 runs, the other buffer 8.
    expect(byRuns[byRuns.length - 2]).toMatch(/^\s*1 {2}init/);
  });

  it("shows the RDMA registration count and each registration's best page size", () => {
    const lines = renderSummary(sampleAnalysis());
    expect(lines.find((l) => l.startsWith("RDMA page sizes"))).toMatch(
      /registrations\s+best page per registration\s+MTT entries \(sum\)/,
    );
    expect(lines.find((l) => l.startsWith("4K|2M|1G"))).toMatch(/^4K\|2M\|1G\s+1\s+1x4KiB\s+1,630\s+1,630$/);
  });

  it("keeps every line within the width it is given", () => {
    const lines = renderSummary(sampleAnalysis(), { width: 60 });
    const prose = /^(phyr —|!|Physical map|PCI {2}|IOMMU {2}|Memory read| {15}from)/;
    const tables = lines.filter((l) => !prose.test(l));
    for (const l of tables) expect(l.length, l).toBeLessThanOrEqual(60);
  });

  it("lists each scenario with its largest baseline / design ratio", () => {
    const lines = renderSummary(sampleAnalysis());
    expect(lines.find((l) => l.startsWith("model scenario"))).toBeDefined();
    expect(lines.find((l) => l.startsWith("vfio-1g"))).toMatch(/^vfio-1g\s+262144x\s+leaves\s+1\s+262,144$/);
    expect(lines.find((l) => l.startsWith("rdma-mr"))).toMatch(/^rdma-mr\s+512x\s+entries\s+8\s+4,096$/);
  });
});
