/**
 * P2P providers (struct p2pdma_provider): one per PCI BAR, covering the whole aperture, so any BAR
 * size works (4 KiB included: no pgmap, no section alignment). A provider can be revoked (device
 * reset or unplug): its revoke listeners run, so the DMA layer can tear down every mapping through
 * it, and later use of it fails with {@link ProviderRevoked}.
 */
import { checkAddr, checkLen, hex, PhyrError } from "../core/index.js";
import type { P2pMapResult, PciTopology } from "../pci/index.js";

/** Why a provider was revoked. */
export type RevokeReason = "reset" | "unplug";

/** Called once when a provider is revoked. */
export type RevokeListener = (provider: Provider, reason: RevokeReason) => void;

/** Use of a revoked provider (DMA through a reset or unplugged BAR). */
export class ProviderRevoked extends PhyrError {
  override name = "ProviderRevoked";
  constructor(
    message: string,
    readonly provider: number,
  ) {
    super("P2P_REVOKED", message);
  }
}

/** Fields of a new provider. */
export interface ProviderSpec {
  /** Index of the owning PCI function in its topology. */
  owner: number;
  /** PCI address of the owner, for messages. */
  ownerBdf: string;
  /** BAR register number. */
  bar: number;
  /** CPU physical start of the aperture. */
  start: number;
  /** Aperture size in bytes. */
  size: number;
  /** Bus address minus CPU address (pci_bus_address(bar) - resource_start(bar)). */
  busOffset: number;
}

/** One BAR's P2P provider. */
export class Provider {
  /** Registry index (1..), 0 while not registered. */
  index = 0;
  readonly owner: number;
  readonly ownerBdf: string;
  readonly bar: number;
  /** CPU physical start. */
  readonly start: number;
  /** Size in bytes. */
  readonly size: number;
  readonly busOffset: number;
  private revokedBy: RevokeReason | null = null;
  private listeners: RevokeListener[] = [];

  /**
   * A live provider.
   * @throws RangeError for a range beyond 2^52, or a bus offset moving it out of 0..2^52.
   */
  constructor(spec: ProviderSpec) {
    checkAddr("provider start", spec.start);
    checkLen("provider size", spec.size);
    if (spec.start + spec.size > 2 ** 52)
      throw new RangeError(`provider ${hex(spec.start)}+${hex(spec.size)} is invalid: ends beyond 2^52`);
    if (
      !Number.isInteger(spec.busOffset) ||
      spec.start + spec.busOffset < 0 ||
      spec.start + spec.size + spec.busOffset > 2 ** 52
    ) {
      throw new RangeError(
        `provider bus offset ${String(spec.busOffset)} is invalid: bus addresses leave 0..2^52`,
      );
    }
    this.owner = spec.owner;
    this.ownerBdf = spec.ownerBdf;
    this.bar = spec.bar;
    this.start = spec.start;
    this.size = spec.size;
    this.busOffset = spec.busOffset;
  }

  /** End address (exclusive). */
  get end(): number {
    return this.start + this.size;
  }

  /** Owner and BAR, for messages: "0000:03:00.0 BAR 2". */
  get name(): string {
    return `${this.ownerBdf} BAR ${this.bar}`;
  }

  /** True after {@link revoke}. */
  get revoked(): boolean {
    return this.revokedBy !== null;
  }

  /** Why it was revoked, or null. */
  get revokeReason(): RevokeReason | null {
    return this.revokedBy;
  }

  /** Registered revoke listeners. */
  get listenerCount(): number {
    return this.listeners.length;
  }

  /** True when `addr` is inside the aperture. O(1). */
  contains(addr: number): boolean {
    return addr >= this.start && addr < this.start + this.size;
  }

  /**
   * The bus address of a CPU address in the aperture (phys + bus_offset).
   * @throws RangeError outside the aperture; ProviderRevoked when revoked.
   */
  busAddr(addr: number): number {
    this.assertUsable("translate");
    if (!this.contains(addr))
      throw new RangeError(`address ${hex(addr)} is invalid: outside provider ${this.describe()}`);
    return addr + this.busOffset;
  }

  /**
   * Throws when revoked.
   * @param what The attempted operation, for the message.
   * @throws ProviderRevoked naming the provider and the reason.
   */
  assertUsable(what: string): void {
    if (this.revokedBy !== null) {
      throw new ProviderRevoked(
        `Cannot ${what} through provider ${this.describe()}: revoked by ${this.revokedBy}`,
        this.index,
      );
    }
  }

  /**
   * Registers a listener run once at revocation (the DMA layer tears its mappings down there).
   * @returns A function that removes the listener.
   * @throws ProviderRevoked when already revoked (nothing to listen for: map nothing new).
   * Cost: O(1); removal O(listeners).
   */
  onRevoke(fn: RevokeListener): () => void {
    this.assertUsable("register a revoke listener");
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Revokes the provider: marks it revoked, then runs and drops every listener (all run even if
   * one throws; the first error is rethrown afterwards). A second call does nothing.
   * @returns Number of listeners run.
   * Cost: O(listeners).
   */
  revoke(reason: RevokeReason): number {
    if (this.revokedBy !== null) return 0;
    this.revokedBy = reason;
    const ls = this.listeners;
    this.listeners = [];
    let first: unknown;
    let failed = false;
    for (const fn of ls) {
      try {
        fn(this, reason);
      } catch (e) {
        if (!failed) first = e;
        failed = true;
      }
    }
    if (failed) throw first;
    return ls.length;
  }

  /** "0000:03:00.0 BAR 2 0x...+0x..." */
  describe(): string {
    return `${this.ownerBdf} BAR ${this.bar} ${hex(this.start)}+${hex(this.size)}`;
  }
}

/**
 * One provider per BAR of a PCI function (pcim_p2pdma_provider for each BAR).
 * @returns Unregistered providers in BAR order.
 * @throws RangeError for an unknown device.
 * Cost: O(BARs).
 */
export function providersForDevice(topology: PciTopology, dev: number | string): Provider[] {
  const d = topology.device(dev);
  return d.bars.map(
    (b) =>
      new Provider({
        owner: d.index,
        ownerBdf: d.bdf,
        bar: b.index,
        start: b.cpuStart,
        size: b.size,
        busOffset: b.busStart - b.cpuStart,
      }),
  );
}

/**
 * pci_p2pdma_map_type(provider, client): "NONE" for ordinary memory (no provider), else the
 * topology's cached map type from the provider's owner to the client.
 * @throws RangeError for an unknown client.
 * Cost: O(1) after the first call for a pair.
 */
export function p2pMapType(
  topology: PciTopology,
  provider: Provider | null,
  client: number | string,
): P2pMapResult {
  if (provider === null) return NONE;
  return topology.p2pMapType(provider.owner, client);
}

const NONE: P2pMapResult = Object.freeze({ type: "NONE", distance: 0 });
