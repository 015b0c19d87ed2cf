/**
 * PCI topology records: host bridges, bridges (root ports, switch ports) and endpoint functions
 * with their BARs.
 */

/** ACS control bits (include/uapi/linux/pci_regs.h PCI_ACS_*). */
export const PciAcs = {
  /** Source validation. */
  SV: 0x01,
  /** Translation blocking. */
  TB: 0x02,
  /** P2P request redirect. */
  RR: 0x04,
  /** P2P completion redirect. */
  CR: 0x08,
  /** Upstream forwarding. */
  UF: 0x10,
  /** P2P egress control. */
  EC: 0x20,
  /** Direct translated P2P. */
  DT: 0x40,
} as const;

/** The ACS bits that redirect peer-to-peer traffic upstream (pci_bridge_has_acs_redir). */
export const PCI_ACS_REDIR_MASK = PciAcs.RR | PciAcs.CR | PciAcs.EC;

/** What a PCI function is. */
export type PciDevKind = "rootPort" | "switchUp" | "switchDown" | "endpoint";

/** How a host bridge stands on the P2P allowlist (drivers/pci/p2pdma.c pci_p2pdma_whitelist). */
export type PciP2pAllowlist = "none" | "sameHostBridge" | "any";

/** A memory window of a host bridge, in CPU addresses. */
export interface PciWindow {
  start: number;
  size: number;
}

/** Host-bridge description for {@link PciTopology.hostBridge}. */
export interface PciHostBridgeSpec {
  /** PCI domain (segment); default 0. */
  domain?: number;
  /** Root bus number; default 0. */
  bus?: number;
  /** Allowlist entry; "any" = listed without REQ_SAME_HOST_BRIDGE; default "none". */
  allowlist?: PciP2pAllowlist;
  /** Name shown in messages. */
  name?: string;
  /** 32-bit non-prefetchable window (CPU addresses); default 128 MiB below 4 GiB per bridge. */
  mem32?: PciWindow;
  /** 64-bit prefetchable window (CPU addresses); default 1 TiB at 2^44 + index x 2^40. */
  mem64?: PciWindow;
  /** Bus address minus CPU address for this bridge's windows; default 0. */
  busOffset?: number;
}

/** A host bridge (struct pci_host_bridge). */
export interface PciHostBridge {
  readonly index: number;
  readonly domain: number;
  readonly bus: number;
  readonly allowlist: PciP2pAllowlist;
  readonly name: string;
  readonly mem32: PciWindow;
  readonly mem64: PciWindow;
  readonly busOffset: number;
}

/** A BAR request for {@link PciTopology.endpoint}. */
export interface PciBarSpec {
  /** Size in bytes: a power of two >= 4096 (<= 2 GiB unless 64-bit prefetchable). */
  size: number;
  /** Prefetchable; default true. */
  prefetch?: boolean;
  /** 64-bit BAR (uses two BAR registers); default true. */
  is64?: boolean;
}

/** An assigned memory BAR. */
export interface PciBar {
  /** BAR register number (0..5); a 64-bit BAR also uses the next register. */
  readonly index: number;
  readonly size: number;
  readonly prefetch: boolean;
  readonly is64: boolean;
  /** CPU physical address (resource_start). */
  readonly cpuStart: number;
  /** PCI bus address (pci_bus_address). */
  readonly busStart: number;
}

/** A PCI function (struct pci_dev). */
export interface PciDev {
  readonly index: number;
  readonly kind: PciDevKind;
  readonly bdf: string;
  readonly domain: number;
  readonly bus: number;
  readonly dev: number;
  readonly fn: number;
  /** The upstream bridge (pci_upstream_bridge), or -1 on a root bus. */
  readonly parent: number;
  /** Index of the host bridge above. */
  readonly hostBridge: number;
  /** ACS control word (0 = no ACS capability or nothing enabled). */
  readonly acsCtrl: number;
  /** Secondary bus of a bridge, -1 for endpoints. */
  readonly secondary: number;
  readonly bars: readonly PciBar[];
  readonly name: string;
}

/** P2P map types (drivers/pci/p2pdma.c enum pci_p2pdma_map_type). */
export type P2pMapType = "NONE" | "NOT_SUPPORTED" | "BUS_ADDR" | "THRU_HOST_BRIDGE";

/** Result of a P2P map-type calculation. */
export interface P2pMapResult {
  readonly type: P2pMapType;
  /** Bridges walked on both sides (calc_map_type_and_dist's dist). */
  readonly distance: number;
}
