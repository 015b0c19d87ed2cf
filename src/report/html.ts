/**
 * The self-contained HTML report: one file, no network. The analysis goes in as JSON inside
 * `<script type="application/json">` (escaped by {@link jsonForScript}); uPlot's JS and CSS are
 * inlined from the assets the caller reads (node_modules/uplot/dist); the page's own script
 * ({@link reportClientMain}) renders every section with textContent. A Content-Security-Policy
 * forbids every network fetch and lets only those two scripts run (by SHA-256 hash: no inline
 * event handler, no other script). No untrusted text is ever written into the markup.
 */

import type { MachineAnalysis } from "../analyze/output.js";
import { reportClientMain } from "./client.js";
import { jsonForScript } from "./escape.js";
import { cspHash } from "./sha256.js";

/** The chart library, read by the caller (this layer does no I/O). */
export interface ReportAssets {
  /** Contents of `uplot/dist/uPlot.iife.min.js` (defines the global `uPlot`). */
  uplotJs: string;
  /** Contents of `uplot/dist/uPlot.min.css`. */
  uplotCss: string;
}

const PAGE_CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 16px 24px; color: #1b1b1b; }
h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 32px; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13px; } th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } table.mono td, pre.tree { font-family: ui-monospace, monospace; white-space: pre; }
p.warn { background: #fff4ce; padding: 6px 10px; } p.empty { color: #777; } p.intro { color: #444; }
.chart { margin: 12px 0; } table.p2p td { font-size: 12px; } td.t-BUS_ADDR { background: #d7f5d7; } td.t-THRU_HOST_BRIDGE { background: #fdf0c8; } td.t-no { color: #999; }
`;

/** Fixed heading text per origin (never built from the analysis's own strings). */
const HEADINGS: Readonly<Record<string, string>> = {
  live: "this machine",
  snapshot: "a captured machine",
  reference: "the reference machine (simulated)",
};

/**
 * Builds the report page.
 * @param analysis the machine analysis to show (any text in it is treated as untrusted).
 * @param assets uPlot's JS and CSS to inline.
 * @returns the complete HTML document (UTF-8 text).
 * @throws TypeError when an asset would end its inline element early (contains `</script` /
 *   `</style` / `<!--`), or when the analysis is not JSON-serialisable.
 */
export function renderReportHtml(analysis: MachineAnalysis, assets: ReportAssets): string {
  checkInline("uPlot JS", assets.uplotJs, /<\/script|<!--/i);
  checkInline("uPlot CSS", assets.uplotCss, /<\/style/i);
  const client = `(${reportClientMain.toString()})();`;
  checkInline("report script", client, /<\/script|<!--/i);
  // Only the two scripts written here may run (by hash): an inline event handler or a script
  // element that untrusted text might ever smuggle in is refused by the browser.
  const csp = `default-src 'none'; script-src ${cspHash(assets.uplotJs)} ${cspHash(client)}; style-src 'unsafe-inline'; img-src data:`;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>phyr report</title>",
    `<style>${assets.uplotCss}</style>`,
    `<style>${PAGE_CSS}</style>`,
    "</head>",
    "<body>",
    `<h1>phyr: physical range lists on ${Object.hasOwn(HEADINGS, analysis.origin) ? HEADINGS[analysis.origin] : HEADINGS.live}</h1>`,
    '<main id="app"></main>',
    `<script id="phyr-data" type="application/json">${jsonForScript(analysis)}</script>`,
    `<script>${assets.uplotJs}</script>`,
    `<script>${client}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function checkInline(what: string, text: string, bad: RegExp): void {
  const m = bad.exec(text);
  if (m)
    throw new TypeError(
      `${what} cannot be inlined: it contains ${JSON.stringify(m[0])} at offset ${m.index}`,
    );
}
