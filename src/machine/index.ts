/**
 * machine/: phyr's embedded reference machine — a documented 2-socket server (README.md) built
 * deterministically from the model (mem/, mm/, pci/, iommu/), and its MachineSource view
 * (reference-source.ts, with the pagemap-like runs and smaps counters of model-runs.ts), which the
 * CLI analyses when no live machine can be read. The MachineSource interface, the shapes it
 * returns (source-types.ts) and PageRuns (page-runs.ts) are defined here, without Node APIs;
 * linux/ fills them from a real machine and re-exports them.
 */
export * from "./model-runs.js";
export * from "./page-runs.js";
export * from "./pci.js";
export * from "./processes.js";
export * from "./reference.js";
export * from "./reference-source.js";
export * from "./source-types.js";
export * from "./spec.js";
