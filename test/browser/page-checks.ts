/**
 * What the browser test reads from a loaded report page: page-level horizontal scroll, each
 * chart's canvas (painted pixels, and dark pixels at the canvas edge, which would be a clipped
 * axis label), "no data" notes, and an axe-core scan (its source injected into the page; the
 * page's CSP does not apply to the test driver's own evaluation).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** One chart box on the page. */
export interface ChartSeen {
  id: string;
  /** True when the box shows a "no data" note instead of a canvas. */
  empty: boolean;
  noDataText: string;
  /** Canvas width in device pixels (0 without a canvas). */
  width: number;
  /** Pixels of a series colour (bars, runs, cells): saturated, or any non-white one in a heat map. */
  painted: number;
  /** Dark (text-like) pixels in the outermost 2 px of the canvas: a clipped label. */
  edgeText: number;
}

/**
 * Reads every chart box (`.chart`, `.physmap`, `.heat`). O(canvas pixels).
 * @param page a loaded report.
 * @returns one entry per box, in page order.
 */
export function readCharts(page: Page): Promise<ChartSeen[]> {
  return page.$$eval(".chart, .physmap, .heat", (boxes) =>
    boxes.map((box) => {
      const canvas = box.querySelector("canvas");
      const empty = box.getAttribute("data-empty") === "true";
      const noDataText = box.querySelector("p.empty")?.textContent ?? "";
      if (!canvas) return { id: box.id, empty, noDataText, width: 0, painted: 0, edgeText: 0 };
      const g = canvas.getContext("2d");
      const img = g?.getImageData(0, 0, canvas.width, canvas.height);
      let painted = 0;
      let edgeText = 0;
      const heat = box.classList.contains("heat");
      if (img) {
        const w = canvas.width;
        const h = canvas.height;
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) {
            const i = (y * w + x) * 4;
            const [r, gg, b, a] = [img.data[i], img.data[i + 1], img.data[i + 2], img.data[i + 3]];
            if (a < 128) continue;
            const sat = Math.max(r, gg, b) - Math.min(r, gg, b);
            if (sat > 60 || (heat && Math.min(r, gg, b) < 235)) painted++;
            const edge = x < 2 || y < 2 || x >= w - 2 || y >= h - 2;
            if (edge && r < 90 && gg < 90 && b < 90) edgeText++;
          }
      }
      return { id: box.id, empty, noDataText, width: canvas.width, painted, edgeText };
    }),
  );
}

/**
 * How far the page scrolls sideways (0: it does not).
 * @param page a loaded report.
 * @returns document scroll width minus the viewport width, in CSS pixels.
 */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** One axe-core violation, as the test reports it. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core on the page (WCAG 2 A and AA rules and best practices).
 * @param page a loaded report.
 * @returns the violations whose impact is serious or critical.
 */
export async function axeSerious(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is the injected global
    const axe = (window as any).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map(
      // biome-ignore lint/suspicious/noExplicitAny: axe result shape
      (v: any) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        // biome-ignore lint/suspicious/noExplicitAny: axe node shape
        nodes: v.nodes.slice(0, 3).map((n: any) => String(n.target)),
      }),
    );
  });
  return (result as AxeViolation[]).filter((v) => v.impact === "serious" || v.impact === "critical");
}
