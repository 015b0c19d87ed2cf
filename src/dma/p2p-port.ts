/**
 * Connects the PCI topology and the provider registry to the DMA layer's P2P view (dma/ P2pPort):
 * provider lookup by address, pci_p2pdma_map_type between a provider's owner and a client device
 * (matched by its BDF name), and revoke listeners. Pure wiring over p2p/ and pci/; O(1) per call
 * besides the registry lookup (O(log providers)).
 */

import { type ProviderRegistry, p2pMapType } from "../p2p/index.js";
import type { PciTopology } from "../pci/index.js";
import type { DmaDevice } from "./device.js";
import type { P2pMapType, P2pPort } from "./p2p.js";

/**
 * The P2pPort of a machine.
 * @param topology the PCI tree the devices and BARs live in.
 * @param registry the registered providers.
 * @returns a port to pass as `p2p` to a DmaSystem.
 */
export function p2pPortFor(topology: PciTopology, registry: ProviderRegistry): P2pPort {
  return {
    lookup: (addr: number) => registry.lookup(addr),
    provider: (index: number) => {
      const p = registry.tryGet(index);
      if (!p) return undefined;
      return { start: p.start, size: p.size, busOffset: p.busOffset, revoked: p.revoked, name: p.describe() };
    },
    mapType: (index: number, client: DmaDevice): P2pMapType =>
      p2pMapType(topology, registry.get(index), client.name).type,
    onRevoke: (index: number, fn: () => void) => registry.get(index).onRevoke(() => fn()),
  };
}
