/**
 * The report's trace section: fixed markup plus an escaped data island (no trace text in the
 * markup, even a device name made of markup), nothing without a trace, and a page script that
 * puts every string into textContent (run here on a minimal stand-in for the DOM).
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseTrace, summarizeTrace } from "../trace/index.js";
import { traceClient, traceRows, traceSectionData, traceSectionHtml } from "./trace-section.js";

const EVIL = '</script><img src=x onerror=alert(1)>"dev';
const ctx = "             fio-412     [000] .....    12.000001: ";
const TEXT = [
  `${ctx}map: IOMMU: iova=0x00000000fffc0000 - 0x00000000fffe0000 paddr=0x0000000002000000 size=131072`,
  `${ctx}dma_map_phys: ${EVIL} dir=TO_DEVICE dma_addr=fffc0000 size=131072 phys_addr=2000000 attrs=`,
].join("\n");
const summary = () => summarizeTrace(parseTrace(TEXT, "t"));

describe("traceSectionHtml()", () => {
  it("is empty without a trace", () => {
    expect(traceSectionHtml({})).toBe("");
  });

  it("writes no trace text into the markup: the device name is only in the escaped island", () => {
    const html = traceSectionHtml({ trace: summary() });
    expect(html).not.toContain("<img");
    expect(html).not.toContain("</script><");
    const island = /<script id="phyr-trace" type="application\/json">(.*)<\/script>/s.exec(html);
    expect(island).not.toBeNull();
    const data = JSON.parse(island?.[1] ?? "null");
    expect(data.devices[0].title).toBe(`${EVIL} (behind an IOMMU)`);
  });

  it("rows put kernel (traced) beside the design (model) with the summary's figures", () => {
    const rows = traceRows(summary().devices[0]);
    expect(rows).toContainEqual(["iommu_map calls", "1", "1"]);
    expect(rows).toContainEqual(["IOMMU leaves", "32x4KiB", "32x4KiB"]);
    expect(rows).toContainEqual(["DMA map calls", "1 phys", "-"]);
  });
});

/** A DOM stand-in: elements with tag, textContent, className, attributes and children. */
class FakeElement {
  textContent: string | null = null;
  className = "";
  attrs: Record<string, string> = {};
  children: FakeElement[] = [];
  constructor(readonly tagName: string) {}
  setAttribute(k: string, v: string) {
    this.attrs[k] = v;
  }
  append(...c: FakeElement[]) {
    this.children.push(...c);
  }
  replaceChildren(...c: FakeElement[]) {
    this.children = c;
  }
  /** Every text in the subtree, in order. */
  texts(): string[] {
    return [
      ...(this.textContent === null ? [] : [this.textContent]),
      ...this.children.flatMap((c) => c.texts()),
    ];
  }
}

const g = globalThis as { document?: unknown };
afterEach(() => {
  delete g.document;
});

describe("traceClient()", () => {
  it("renders the island into #trace-body as text nodes only", () => {
    const html = traceSectionHtml({ trace: summary() });
    const island = new FakeElement("script");
    island.textContent =
      /<script id="phyr-trace" type="application\/json">(.*)<\/script>/s.exec(html)?.[1] ?? "";
    const host = new FakeElement("div");
    g.document = {
      getElementById: (id: string) => (id === "phyr-trace" ? island : id === "trace-body" ? host : null),
      createElement: (tag: string) => new FakeElement(tag),
    };
    traceClient();
    const data = traceSectionData(summary());
    const texts = host.texts();
    expect(texts[0]).toBe(data.message);
    expect(texts).toContain(`${EVIL} (behind an IOMMU)`);
    expect(texts).toContain("iommu_map calls");
    const tables = host.children.filter((c) => c.tagName === "div").flatMap((c) => c.children);
    expect(tables.map((t) => t.tagName)).toEqual(["table"]);
    // 13 metric rows, each a row header and two numeric cells.
    const tbody = tables[0].children[1];
    expect(tbody.children).toHaveLength(data.devices[0].rows.length);
    expect(tbody.children[0].children.map((c) => c.tagName)).toEqual(["th", "td", "td"]);
  });
});
