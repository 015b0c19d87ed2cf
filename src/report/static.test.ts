import { describe, expect, it } from "vitest";
import { HOSTILE_NAME, HOSTILE_PATH, sampleAnalysis } from "../../test/browser/sample-analysis.js";
import { GLOSSARY } from "../analyze/index.js";
import { bytesText, glossaryHtml, glossaryId, headerHtml, noscriptHtml, REPORT_SECTIONS } from "./static.js";

describe("server-rendered report parts", () => {
  it("the table of contents links every section in page order, glossary last", () => {
    const html = headerHtml(sampleAnalysis(), new Date(0));
    const links = [...html.matchAll(/<a href="#([a-z0-9-]+)">/g)].map((m) => m[1]);
    expect(links).toEqual(REPORT_SECTIONS.map(([id]) => id));
    expect(links.at(-1)).toBe("glossary");
    expect(html).toContain('<nav class="toc" aria-label="Contents">');
  });

  it("an unknown origin is headed as live, never with the analysis's own text", () => {
    const html = headerHtml({ ...sampleAnalysis(), origin: "<b>x</b>" } as never, new Date(0));
    expect(html).toContain("Mode: live");
    expect(html).not.toContain("<b>");
  });

  it("the glossary has one anchored entry per term of phyr explain, ids unique, aliases kept", () => {
    const html = glossaryHtml();
    const ids = [...html.matchAll(/<dt id="([^"]+)"/g)].map((m) => m[1]);
    expect(ids).toHaveLength(GLOSSARY.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(glossaryId("kernel iova"));
    expect(glossaryId("kernel iova")).toBe("g-kernel-iova");
    expect(glossaryId("THRU_HOST_BRIDGE")).toBe("g-thru-host-bridge");
    const run = GLOSSARY.find((e) => e.term === "run");
    expect(html).toContain(`data-aliases="${run?.aliases.join("|")}"`);
  });

  it("noscript holds the summary and main tables, with captions and scopes, as escaped text", () => {
    const html = noscriptHtml(sampleAnalysis());
    expect(html.startsWith("<noscript>")).toBe(true);
    expect(html.endsWith("</noscript>")).toBe(true);
    for (const id of ["summary", "processes", "formats", "iommu", "scenarios"])
      expect(html).toContain(`<section id="${id}">`);
    expect(html.match(/<caption>/g)?.length).toBe(5);
    expect(html).toContain('<th scope="col">format</th>');
    expect(html).toContain('<th scope="row">4242</th>');
    // The sample's total: 1630 pages x 8 B in the page array against 48 runs x 16 B in phyr16:
    // 13040 / 768 = 16.98x smaller.
    expect(html).toContain("<td>16.98x smaller</td>");
    expect(html).not.toContain(HOSTILE_NAME);
    expect(html).not.toContain(HOSTILE_PATH);
    expect(html).not.toContain("\u2028");
    expect(html).toContain("&#60;img src=x onerror=alert(1)&#62;");
    expect(html).toContain("&#8232;");
  });

  it("noscript says no data for a report without scenarios", () => {
    const html = noscriptHtml({ ...sampleAnalysis(), scenarios: [] });
    expect(html).toContain('<p class="empty">No data: no scenarios were run for this report.</p>');
  });

  it("bytesText prints binary units as the page script does", () => {
    expect([0, 1023, 1024, 1536, 2 ** 20 * 160, 2 ** 40].map(bytesText)).toEqual([
      "0 B",
      "1023 B",
      "1 KiB",
      "1.5 KiB",
      "160 MiB",
      "1 TiB",
    ]);
  });
});
