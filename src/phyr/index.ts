export * from "./build.js";
export { CompactChunk, CompactMode, decodeCompact, encodeCompact } from "./compact.js";
export * from "./list.js";
export * from "./ops.js";
export * from "./types.js";
export { checkEntry, checkFlags, checkProvider } from "./validate.js";
export { WIDE_ENTRY_BYTES } from "./wide.js";
