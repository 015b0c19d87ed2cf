/**
 * core/: what every layer shares: page and order math, checked 52-bit integers, hex and sizes,
 * the error classes, the release the model follows, the seeded Rng, the radix sort and the growable
 * typed-array step.
 */
export * from "./addr.js";
export * from "./errors.js";
export * from "./grow.js";
export * from "./kernel.js";
export * from "./radix.js";
export * from "./rng.js";
export * from "./words.js";
