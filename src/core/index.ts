export * from "./addr.js";
export * from "./errors.js";
export * from "./grow.js";
export * from "./kernel.js";
export * from "./radix.js";
export * from "./rng.js";
export * from "./words.js";
