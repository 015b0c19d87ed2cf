/**
 * P2P as the DMA layer needs it (drivers/pci/p2pdma.c pci_p2pdma_map_type and
 * pci_p2pdma_bus_addr_map): find the provider of a range, ask the map type between the provider
 * and the client device, and turn BUS_ADDR ranges into bus addresses. The providers, the registry
 * and the PCI topology live in p2p/ and pci/; {@link P2pPort} is the narrow view dma/ uses of them.
 */
import { DmaApiError, hex, P2pNotSupported } from "../core/index.js";
import type { P2pMapType } from "../pci/index.js";
import type { DmaDevice } from "./device.js";

/** pci_p2pdma_map_type values (defined by pci/, re-exported for dma/ users). */
export type { P2pMapType };

/** What dma/ needs to know about one provider. */
export interface P2pProviderView {
  /** CPU start of the aperture (the BAR). */
  readonly start: number;
  /** Aperture size. */
  readonly size: number;
  /** pci_bus_address(bar) - resource_start(bar). */
  readonly busOffset: number;
  /** True after a reset or unplug revoked it. */
  readonly revoked: boolean;
  /** Owner name (BDF + BAR), for messages. */
  readonly name: string;
}

/** The view of p2p/ + pci/ that dma/ uses. */
export interface P2pPort {
  /** Provider index (1..) whose aperture holds `addr`, or -1. O(log providers), no allocation. */
  lookup(addr: number): number;
  /** The provider with index `index`, or undefined. */
  provider(index: number): P2pProviderView | undefined;
  /** pci_p2pdma_map_type(provider, client). */
  mapType(index: number, client: DmaDevice): P2pMapType;
  /** Registers `fn` to run when provider `index` is revoked; returns a function that unregisters it. */
  onRevoke(index: number, fn: () => void): () => void;
}

/** Result slot of {@link resolveP2p} (reused, no allocation per entry). */
export interface P2pResolution {
  provider: number;
  busAddr: boolean;
  busOffset: number;
}

/** Anything that can answer P2P questions (the DmaSystem). */
export interface P2pContext {
  readonly p2p: P2pPort | undefined;
}

/**
 * Resolves one P2P range for `client` into `out`: bus address (with the offset) or through the
 * host bridge. O(1) after the provider lookup.
 * @throws DmaApiError NO_PROVIDER (unknown or revoked provider, range outside its BAR);
 *   P2pNotSupported when the map type is NOT_SUPPORTED.
 */
export function resolveP2p(
  ctx: P2pContext,
  client: DmaDevice,
  index: number,
  addr: number,
  len: number,
  out: P2pResolution,
): void {
  const p = ctx.p2p?.provider(index);
  if (!p || p.revoked || addr < p.start || addr + len > p.start + p.size) {
    const why = !p
      ? "no such provider"
      : p.revoked
        ? `provider ${p.name} is revoked`
        : `outside provider ${p.name}`;
    throw new DmaApiError(
      "NO_PROVIDER",
      `Cannot map ${hex(addr)}+${hex(len)} for ${client.name}: ${why} (index ${index})`,
    );
  }
  const type = ctx.p2p!.mapType(index, client);
  if (type === "NOT_SUPPORTED" || type === "NONE") {
    throw new P2pNotSupported(
      `Cannot map ${hex(addr)}+${hex(len)} of ${p.name} for ${client.name}: P2P map type is ${type}`,
    );
  }
  out.provider = index;
  out.busAddr = type === "BUS_ADDR";
  out.busOffset = p.busOffset;
}
