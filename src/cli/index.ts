/**
 * cli/: the `phyr` command: argument parsing, sources (live, snapshot, reference), the commands
 * (report, analyze, topo, capture, simulate, trace, explain, bench), terminal tables, JSON schemas
 * and exit codes. Only main.ts prints or exits.
 */
export { parsePid, parseVaRange, type VaRange } from "./args.js";
export { readReportAssets } from "./cmd-report.js";
export { collectBuffers, machineInput, type Selection } from "./collect.js";
export * from "./io.js";
export * from "./json.js";
export { main, VERSION } from "./program.js";
