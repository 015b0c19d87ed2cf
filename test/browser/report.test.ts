/**
 * The HTML report in real Chromium: every section renders, every chart draws (pixels of the series
 * colour on its canvas), no console errors, hostile names stay text. Keeps a screenshot under
 * artifacts/. Skipped only when /usr/bin/chromium is missing and CI is not set (in CI a missing
 * browser fails the test).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/index.js";
import { renderReportHtml } from "../../src/report/index.js";
import { HOSTILE_NAME, sampleAnalysis } from "./sample-analysis.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = !existsSync(CHROMIUM) && !process.env.CI;
const ARTIFACTS = resolve(import.meta.dirname, "../../artifacts");
const require = createRequire(import.meta.url);

describe.skipIf(skip)("HTML report in Chromium", () => {
  let browser: Browser;
  let file: string;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const html = renderReportHtml(sampleAnalysis(), {
      uplotJs: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
      uplotCss: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
    });
    file = join(ARTIFACTS, "report-sample.html");
    writeFileSync(file, html);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("renders every section and chart with no console errors, names as text, and keeps a screenshot", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("request", (r) => {
      if (!r.url().startsWith("file:")) requests.push(r.url());
    });
    let dialogs = 0;
    page.on("dialog", async (d) => {
      dialogs++;
      await d.dismiss();
    });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector("body[data-rendered=true]", { timeout: 20_000 });
    await page.screenshot({ path: join(ARTIFACTS, "report.png"), fullPage: true });

    const sections = await page.$$eval("section", (s) => s.map((x) => x.id));
    expect(sections).toEqual([
      "summary",
      "physmap",
      "runs",
      "formats",
      "iommu",
      "devices",
      "pci",
      "p2p",
      "scenarios",
    ]);

    // Each chart: a canvas with pixels of its first series colour (#1f77b4).
    const charts = await page.$$eval(".chart", (boxes) =>
      boxes.map((box) => {
        const canvas = box.querySelector("canvas");
        if (!canvas) return { id: box.id, w: 0, painted: 0 };
        const ctx = canvas.getContext("2d");
        const img = ctx?.getImageData(0, 0, canvas.width, canvas.height);
        let painted = 0;
        if (img) {
          for (let i = 0; i < img.data.length; i += 4) {
            const [r, g, b, a] = [img.data[i], img.data[i + 1], img.data[i + 2], img.data[i + 3]];
            if (a > 0 && Math.abs(r - 31) < 12 && Math.abs(g - 119) < 12 && Math.abs(b - 180) < 12) painted++;
          }
        }
        return { id: box.id, w: canvas.width, painted };
      }),
    );
    expect(charts.map((c) => c.id)).toEqual([
      "chart-physmap",
      "chart-runs",
      "chart-formats",
      "chart-iommu",
      "chart-scenarios",
    ]);
    for (const c of charts) {
      expect(c.w, c.id).toBeGreaterThan(0);
      expect(c.painted, c.id).toBeGreaterThan(50);
    }

    // The hostile process name is a text node, never an element.
    const cells = await page.$$eval("#runs table.procs td", (tds) => tds.map((td) => td.textContent));
    expect(cells).toContain(HOSTILE_NAME);
    expect(await page.$$eval("img", (imgs) => imgs.length)).toBe(0);
    expect(await page.title()).toBe(`phyr report — host${HOSTILE_NAME}`);
    expect(dialogs).toBe(0);
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);

    expect(existsSync(join(ARTIFACTS, "report.png"))).toBe(true);
    await page.close();
  });

  it.skipIf(process.platform !== "linux" || process.getuid?.() !== 0)(
    "the report `phyr report` writes for this machine renders every section and chart with no console errors",
    async () => {
      const out = join(ARTIFACTS, "report-live.html");
      let err = "";
      const io = { stdout: { write: () => true }, stderr: { write: (t: string) => (err += t) }, env: {} };
      expect(await main(["report", "-o", out], io)).toBe(0);
      expect(err).toBe("");
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(pathToFileURL(out).href);
      await page.waitForSelector("body[data-rendered=true]", { timeout: 20_000 });
      await page.screenshot({ path: join(ARTIFACTS, "report-live.png"), fullPage: true });
      const sections = await page.$$eval("section", (s) => s.map((x) => x.id));
      expect(sections).toEqual([
        "summary",
        "physmap",
        "runs",
        "formats",
        "iommu",
        "devices",
        "pci",
        "p2p",
        "scenarios",
      ]);
      const painted = await page.$$eval(".chart canvas", (cs) =>
        cs.map((c) => {
          const d = (c as HTMLCanvasElement)
            .getContext("2d")
            ?.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
          let n = 0;
          if (d) for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
          return n;
        }),
      );
      expect(painted.length).toBeGreaterThanOrEqual(4);
      for (const n of painted) expect(n).toBeGreaterThan(100);
      expect(errors).toEqual([]);
      await page.close();
    },
  );
});
