export * from "./addr.js";
export * from "./errors.js";
export * from "./rng.js";
export * from "./words.js";
