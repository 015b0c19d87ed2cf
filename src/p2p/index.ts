/**
 * p2p/: P2P providers over whole PCI BARs, their registry (interval lookup by physical address)
 * and revocation, and the P2P map type of a provider for a client device.
 */
export * from "./provider.js";
export * from "./registry.js";
