export { parsePid, parseVaRange, type VaRange } from "./args.js";
export { readReportAssets } from "./cmd-report.js";
export { collectBuffers, machineInput, type Selection } from "./collect.js";
export * from "./io.js";
export * from "./json.js";
export { main, VERSION } from "./program.js";
