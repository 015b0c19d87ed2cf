/**
 * pci/: the PCI topology model (host bridges, switches, endpoints, BARs and windows, ACS), BDF
 * parsing, lspci-style trees, class-code decoding (kind, DMA-capable, host bridge function) and
 * the kernel's P2P distance rule (calc_map_type_and_dist).
 */
export * from "./bdf.js";
export * from "./class.js";
export * from "./lspci.js";
export * from "./p2pdma.js";
export * from "./topology.js";
export * from "./types.js";
