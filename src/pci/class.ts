/**
 * PCI class-code decoding: what a function is (its kind) and whether it masters DMA, from the
 * 24-bit class code in config space (PCI Code and ID Assignment spec: base class, subclass,
 * prog-if), its BDF and its upstream bridges. Used by the analyses of a real machine's PCI tree
 * (analyze/) and the P2P matrix; takes plain fields, so any reader's shape fits.
 */

/** The fields of a PCI function class decoding reads: a structural subset of a reader's record. */
export interface PciClassInput {
  /** Domain:bus:device.function, e.g. `0000:00:03.0`. */
  readonly bdf: string;
  /** 24-bit class code. */
  readonly classCode: number;
  /** Upstream bridges from the root down to the function's parent (BDFs); empty on a root bus. */
  readonly upstream: readonly string[];
}

/** Base class and subclass of a 24-bit class code (the prog-if byte dropped). O(1). */
export function pciClassParts(classCode: number): { base: number; sub: number } {
  return { base: Math.floor(classCode / 0x10000) % 0x100, sub: Math.floor(classCode / 0x100) % 0x100 };
}

/** Kind names of the base classes other than storage (01), which pciKind splits by subclass. */
const BASE_CLASS_KINDS: Readonly<Record<number, string>> = {
  2: "network",
  3: "display",
  4: "multimedia",
  5: "memory",
  6: "bridge",
  7: "communication",
  8: "system",
  12: "serial-bus",
  18: "accelerator",
};

/**
 * Kind of a PCI function from its class code (PCI Code and ID Assignment spec base classes;
 * 01:08 is NVMe). O(1).
 * @param classCode 24-bit class code.
 * @returns a short kind name.
 */
export function pciKind(classCode: number): string {
  const { base, sub } = pciClassParts(classCode);
  if (base === 0x01) return sub === 0x08 ? "nvme" : "storage";
  return BASE_CLASS_KINDS[base] ?? "other";
}

/** True for PCI bridges (base class 06): not a DMA client in the P2P matrix. O(1). */
export function isBridge(d: Pick<PciClassInput, "classCode">): boolean {
  return pciKind(d.classCode) === "bridge";
}

/**
 * System-peripheral subclasses (base class 08) that never master DMA: PIC 00, timer 02, RTC 03,
 * PCI hot-plug controller 04, IOMMU 06 (PCI Code and ID Assignment spec). DMA controllers (01)
 * and SD host controllers (05) do master DMA; "other" (80) is decided per function below.
 */
const NON_DMA_SYSTEM_SUBCLASSES = new Set([0x00, 0x02, 0x03, 0x04, 0x06]);

/**
 * True for the host bridge function of a root bus: device 0 function 0 of a bus with no upstream
 * bridge, whose class is a bridge (06) or an "other" system peripheral (08:80, as Intel's
 * 8086:09a2 "Memory Map/VT-d"). It is the function drivers/pci/p2pdma.c pci_host_bridge_dev()
 * returns (the root bus's first device when its devfn is 00.0) and checks against the P2P
 * allowlist; it holds the root complex's registers and does not master DMA. O(1).
 * @param d the function.
 * @returns whether it is the host bridge function.
 */
export function isHostBridgeFunction(d: PciClassInput): boolean {
  if (d.upstream.length > 0 || !d.bdf.endsWith(":00.0")) return false;
  const { base, sub } = pciClassParts(d.classCode);
  return base === 0x06 || (base === 0x08 && sub === 0x80);
}

/**
 * True for a function that can master DMA, so it is a client (and its memory BARs providers) in
 * the P2P matrix. False for bridges (they forward, they do not master), the host bridge function
 * ({@link isHostBridgeFunction}), and system peripherals that never master DMA (interrupt
 * controllers, timers, RTCs, hot-plug controllers, IOMMUs). Any other class, including unknown
 * ones and "other" system peripherals away from 00.0 of a root bus (Intel DSA is 08:80), counts as
 * DMA-capable: sysfs does not say more without reading the command register. O(1).
 * @param d the function.
 * @returns whether it is DMA-capable.
 */
export function isDmaCapable(d: PciClassInput): boolean {
  if (isBridge(d) || isHostBridgeFunction(d)) return false;
  const { base, sub } = pciClassParts(d.classCode);
  return !(base === 0x08 && NON_DMA_SYSTEM_SUBCLASSES.has(sub));
}
