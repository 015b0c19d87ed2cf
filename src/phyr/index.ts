/**
 * phyr/: PhyrList (chained fixed-capacity chunks in a compact or wide store, zero-copy slices and
 * concatenation, a byte cursor), builders from PFN arrays and entries, and whole-list operations.
 */
export * from "./build.js";
export { compactEntryBytes } from "./compact.js";
// Not listWriter / ListWriter: the append side stays with the builders (list.ts).
export {
  DEFAULT_CHUNK_CAPACITY,
  LIST_HEADER_BYTES,
  MAX_LIST_BYTES,
  PhyrList,
  type PhyrListOptions,
  SEGMENT_BYTES,
} from "./list.js";
export * from "./ops.js";
export * from "./types.js";
export { checkEntry, checkFlags, checkProvider } from "./validate.js";
export { WIDE_ENTRY_BYTES } from "./wide.js";
