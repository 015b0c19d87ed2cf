import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { HOSTILE_NAME, HOSTILE_PATH, sampleAnalysis } from "../../test/browser/sample-analysis.js";
import { renderReportHtml } from "./html.js";

const require = createRequire(import.meta.url);
const assets = {
  uplotJs: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
  uplotCss: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
};

function island(html: string): string {
  const m = /<script id="phyr-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error("no data island");
  return m[1];
}

describe("renderReportHtml", () => {
  it("puts the analysis in a JSON data island that parses back to the same data", () => {
    const a = sampleAnalysis();
    const html = renderReportHtml(a, assets);
    expect(JSON.parse(island(html))).toEqual(a);
  });

  it("heads the page with the machine, the mode (live, snapshot, reference) and when it was made", () => {
    const now = new Date("2026-12-02T15:04:05Z");
    const header = (origin: string) => {
      const html = renderReportHtml({ ...sampleAnalysis(), origin } as never, assets, { now });
      return /<header>([\s\S]*?)<\/header>/.exec(html)?.[1] ?? "";
    };
    expect(header("live")).toContain("Mode: live</span> — measured on this machine");
    expect(header("snapshot")).toContain("Mode: snapshot</span> — read from a snapshot file");
    expect(header("reference")).toContain("Mode: reference</span> — phyr's simulated reference machine");
    expect(header("live")).toContain(
      '<time datetime="2026-12-02T15:04:05.000Z">2026-12-02 15:04:05 UTC</time>',
    );
    expect(header("live")).toContain("<h1>phyr report: host&#60;img src=x onerror=alert(1)&#62;</h1>");
  });

  it("never writes untrusted text as markup: no raw <img, no early </script>, no raw U+2028", () => {
    const html = renderReportHtml(sampleAnalysis(), assets);
    expect(html.includes(HOSTILE_NAME)).toBe(false);
    expect(html.includes("<img")).toBe(false);
    expect(html.includes(HOSTILE_PATH)).toBe(false);
    expect(html.includes("\u2028")).toBe(false);
    // Exactly the three script elements the generator writes are closed.
    expect(html.match(/<\/script>/g)?.length).toBe(3);
    expect(island(html)).toContain("\\u003cimg src=x onerror=alert(1)\\u003e");
  });

  it("is self-contained: uPlot inlined, no external src/href, network blocked by CSP", () => {
    const html = renderReportHtml(sampleAnalysis(), assets);
    expect(html).toContain(assets.uplotJs.slice(0, 200));
    expect(html).toContain(assets.uplotCss.slice(0, 100));
    const markup = html.replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1>/g, "");
    expect(markup).toContain('<main id="app">');
    // No tag loads anything: no src attribute, and every href is a link inside the page.
    const attrs = [...markup.matchAll(/<[a-z][^>]*\s(src|href)="([^"]*)"/gi)].map((m) => `${m[1]}=${m[2]}`);
    expect(attrs.length).toBeGreaterThan(10);
    for (const a of attrs) expect(a).toMatch(/^href=#[a-z0-9-]+$/);
    expect(html).toContain("default-src 'none'");
  });

  it("lets only its own two scripts run: script-src lists their SHA-256 hashes, never 'unsafe-inline'", () => {
    const html = renderReportHtml(sampleAnalysis(), assets);
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? "";
    const scriptSrc = /script-src ([^;]+)/.exec(csp)?.[1].split(" ") ?? [];
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    expect(scripts).toHaveLength(2);
    expect(scriptSrc).toEqual(
      scripts.map((s) => `'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`),
    );
  });

  it("renders page text only through textContent (the embedded script has no innerHTML)", () => {
    const html = renderReportHtml(sampleAnalysis(), assets);
    const client = html.slice(html.lastIndexOf("<script>"));
    expect(client).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(client).toContain("textContent");
  });

  it("refuses assets that would end their inline element early, naming the offset", () => {
    expect(() => renderReportHtml(sampleAnalysis(), { ...assets, uplotJs: "var a='</script>'" })).toThrow(
      /uPlot JS cannot be inlined: it contains "<\/script" at offset 7/,
    );
    expect(() => renderReportHtml(sampleAnalysis(), { ...assets, uplotCss: "a{}</style>" })).toThrow(
      TypeError,
    );
  });
});
