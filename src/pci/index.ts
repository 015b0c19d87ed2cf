export * from "./bdf.js";
export * from "./lspci.js";
export * from "./p2pdma.js";
export * from "./topology.js";
export * from "./types.js";
