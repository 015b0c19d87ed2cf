export { reportClientMain } from "./client.js";
export { displaySafe, htmlText, jsonForScript, terminalSafe } from "./escape.js";
export { type ReportAssets, renderReportHtml } from "./html.js";
export { renderSummary, type SummaryOptions } from "./summary.js";
export { formatTable, type Paint, plainPaint, type TableOptions } from "./table.js";
