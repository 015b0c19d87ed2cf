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
import { chartClient } from "./client-chart.js";
import { mapClient } from "./client-map.js";
import { mapDataClient } from "./client-map-data.js";
import { p2pClient } from "./client-p2p.js";
import { sectionsClient } from "./client-sections.js";
import { jsonForScript } from "./escape.js";
import { PAGE_CSS } from "./page-css.js";
import { cspHash } from "./sha256.js";
import { glossaryHtml, headerHtml, noscriptHtml } from "./static.js";
import { traceClient, traceSectionHtml } from "./trace-section.js";

/** The chart library, read by the caller (this layer does no I/O). */
export interface ReportAssets {
  /** Contents of `uplot/dist/uPlot.iife.min.js` (defines the global `uPlot`). */
  uplotJs: string;
  /** Contents of `uplot/dist/uPlot.min.css`. */
  uplotCss: string;
}

/**
 * Builds the report page.
 * @param analysis the machine analysis to show (any text in it is treated as untrusted).
 * @param assets uPlot's JS and CSS to inline.
 * @param opts `now`: when the report was made (the header says so; default the current time).
 * @returns the complete HTML document (UTF-8 text).
 * @throws TypeError when an asset would end its inline element early (contains `</script` /
 *   `</style` / `<!--`), or when the analysis is not JSON-serialisable.
 */
export function renderReportHtml(
  analysis: MachineAnalysis,
  assets: ReportAssets,
  opts: { now?: Date } = {},
): string {
  checkInline("uPlot JS", assets.uplotJs, /<\/script|<!--/i);
  checkInline("uPlot CSS", assets.uplotCss, /<\/style/i);
  const client = `(${reportClientMain.toString()})({ chart: ${chartClient.toString()}, map: ${mapClient.toString()}, mapData: ${mapDataClient.toString()}, p2p: ${p2pClient.toString()}, sections: ${sectionsClient.toString()} }); (${traceClient.toString()})();`;
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
    // The reference machine says so in the title too (a fixed text: no untrusted input).
    `<title>phyr report${analysis.origin === "reference" ? " — REFERENCE MACHINE (simulated server, not this computer)" : ""}</title>`,
    `<style>${assets.uplotCss}</style>`,
    `<style>${PAGE_CSS}</style>`,
    "</head>",
    "<body>",
    '<a class="skip" href="#app">Skip to the report</a>',
    headerHtml(analysis, opts.now ?? new Date()),
    noscriptHtml(analysis),
    '<main id="app"></main>',
    traceSectionHtml(analysis),
    glossaryHtml(),
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
