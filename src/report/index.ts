/**
 * report/: the terminal summary and the offline HTML report: server-side HTML (header, table of
 * contents, glossary, noscript tables), the page script (charts, the physical memory map, the P2P
 * heat map, drill-down) and escaping that keeps untrusted strings as text.
 */
export { reportClientMain } from "./client.js";
export { displaySafe, htmlText, jsonForScript, terminalSafe } from "./escape.js";
export { type ReportAssets, renderReportHtml } from "./html.js";
export { renderSummary, type SummaryOptions } from "./summary.js";
export { formatTable, type Paint, plainPaint, type TableOptions } from "./table.js";
