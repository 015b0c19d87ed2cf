/**
 * machine/: phyr's embedded reference machine — a documented 2-socket server (README.md) built
 * deterministically from the model (mem/, mm/, pci/, iommu/). Its MachineSource view, which the
 * CLI analyses when no live machine can be read, is one layer up (linux/reference-source.ts).
 */
export * from "./pci.js";
export * from "./processes.js";
export * from "./reference.js";
export * from "./spec.js";
