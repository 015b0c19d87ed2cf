/**
 * The shared test kit: fast-check settings from the environment (fc.ts) and size constants
 * (sizes.ts). Tests import from here instead of defining their own.
 */
export { configureFastCheck, FC_RUNS_SCALE, FC_SEED, fcRuns } from "./fc.js";
export { GiB, KiB, MiB, TiB } from "./sizes.js";
