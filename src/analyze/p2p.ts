/**
 * The P2P matrix of a machine: every memory BAR of a DMA-capable function (a provider covering the
 * whole BAR) x every DMA-capable function ({@link isDmaCapable}: not bridges, not the host bridge
 * function, not interrupt controllers, timers or IOMMUs), with the map type and distance the pci layer's p2pMapType computes
 * (drivers/pci/p2pdma.c calc_map_type_and_dist).
 *
 * The machine's PCI tree is rebuilt as a {@link PciTopology}: one host bridge per root bus, PCI
 * bridges (class 0604) as root ports / switch ports by depth, every other function as an endpoint.
 * What sysfs as read does not give is assumed and said in the notes: ACS control bits off, host
 * bridges not on the P2P allowlist, a CPU that does not forward P2P between root ports. A machine
 * description that knows them (the reference machine: `acsCtrl` per function, `p2pPlatform`) is
 * used instead, and the note says so. BAR addresses do not affect the map type; BARs under 4 KiB
 * are modelled as 4 KiB.
 */

import { isPow2, roundUpPow2 } from "../core/index.js";
import { isDmaCapable, PciTopology } from "../pci/index.js";
import type { P2pMatrix } from "./output.js";
import type { MachineInput, P2pPlatformInput, PciInput } from "./types.js";

const PCI_BRIDGE_CLASS = 0x0604;

/**
 * Default most cells (provider BARs x clients) the matrix computes: 65,536 (a machine with 64
 * DMA-capable functions of 16 BARs each). A crafted snapshot of 4,096 functions would otherwise
 * ask for tens of millions of cells, gigabytes of memory and a report of hundreds of megabytes.
 */
export const MAX_P2P_CELLS = 65536;

/**
 * Computes the P2P matrix. O(providers x clients x depth^2), at most `maxCells` cells; past that
 * only the counts are given, in a note (the work is refused before the PCI tree is built).
 * @param m the machine (its PCI functions).
 * @param maxCells most cells to compute (a positive integer; default {@link MAX_P2P_CELLS}).
 * @returns the matrix with its notes; an empty matrix with a note when the tree cannot be modelled
 *   or the matrix is above the limit.
 * @throws RangeError for a `maxCells` that is not a positive integer.
 */
export function p2pMatrix(m: MachineInput, maxCells = MAX_P2P_CELLS): P2pMatrix {
  if (!Number.isSafeInteger(maxCells) || maxCells < 1)
    throw new RangeError(`maxP2pCells ${maxCells} is invalid: expected a positive integer`);
  const platform = m.p2pPlatform;
  const notes = [
    platform
      ? `P2P matrix uses the machine description's ACS control bits, host-bridge allowlist (${platform.allowlist}) and CPU P2P forwarding (${platform.cpuSupportsP2p ? "yes" : "no"})`
      : "P2P matrix assumes ACS redirect off, host bridges not on the P2P allowlist and no CPU P2P forwarding (sysfs does not show them)",
  ];
  if (m.pci.length === 0) return { providers: [], clients: [], cells: [], notes: [] };
  const providers: P2pMatrix["providers"] = [];
  for (const d of [...m.pci].sort((a, b) => (a.bdf < b.bdf ? -1 : 1))) {
    if (!isDmaCapable(d)) continue;
    for (const b of d.bars)
      if (b.mem && b.size > 0) providers.push({ bdf: d.bdf, bar: b.index, bytes: b.size });
  }
  const clients = m.pci
    .filter(isDmaCapable)
    .map((d) => d.bdf)
    .sort();
  const cellCount = providers.length * clients.length;
  if (cellCount > maxCells) {
    const why = `P2P matrix summarised, not computed: ${providers.length.toLocaleString("en-US")} provider BARs x ${clients.length.toLocaleString("en-US")} DMA-capable clients = ${cellCount.toLocaleString("en-US")} cells is above the limit maxP2pCells = ${maxCells.toLocaleString("en-US")} (raise it with phyr --limit maxP2pCells=N)`;
    return { providers: [], clients: [], cells: [], notes: [why] };
  }
  let t: PciTopology;
  try {
    t = buildTopology(m.pci, platform);
  } catch (e) {
    const why = `P2P matrix not computed: the PCI tree could not be modelled: ${(e as Error).message}`;
    return { providers: [], clients: [], cells: [], notes: [why] };
  }
  const cells: P2pMatrix["cells"] = [];
  for (const p of providers) {
    for (const c of clients) {
      const r = t.p2pMapType(p.bdf, c);
      cells.push({ type: r.type, distance: r.distance });
    }
  }
  return { providers, clients, cells, notes };
}

/**
 * Rebuilds a {@link PciTopology} from PCI functions (parents before children), with each
 * function's `acsCtrl` when given (else 0) and the platform's allowlist and CPU when given (else
 * none and a CPU without P2P forwarding).
 * @throws RangeError from the pci layer when the tree breaks its rules.
 */
export function buildTopology(pci: readonly PciInput[], platform?: P2pPlatformInput): PciTopology {
  const t = new PciTopology(
    platform?.cpuSupportsP2p ? { cpuVendor: "AMD", cpuFamily: 0x17 } : { cpuVendor: "Intel", cpuFamily: 6 },
  );
  const byBdf = new Map(pci.map((d) => [d.bdf, d]));
  const busOf = (bdf: string) => Number.parseInt(bdf.slice(5, 7), 16);
  const domainOf = (bdf: string) => Number.parseInt(bdf.slice(0, 4), 16);
  const roots = new Set<string>();
  for (const d of pci) {
    const top = d.upstream.length > 0 ? d.upstream[0] : d.bdf;
    roots.add(`${domainOf(top)}:${busOf(top)}`);
  }
  for (const r of [...roots].sort()) {
    const [domain, bus] = r.split(":").map(Number);
    t.hostBridge({ domain, bus, allowlist: platform?.allowlist ?? "none" });
  }
  const usedBuses = new Set(pci.map((d) => `${domainOf(d.bdf)}:${busOf(d.bdf)}`));
  // First function below each bridge, in list order (a map, not a search per bridge: O(n)).
  const firstChild = new Map<string, PciInput>();
  for (const x of pci) {
    const up = x.upstream[x.upstream.length - 1];
    if (up !== undefined && !firstChild.has(up)) firstChild.set(up, x);
  }
  const kinds = new Map<string, string>();
  const ordered = [...pci].sort((a, b) => a.upstream.length - b.upstream.length || (a.bdf < b.bdf ? -1 : 1));
  for (const d of ordered) {
    const parent = d.upstream.length > 0 ? d.upstream[d.upstream.length - 1] : "";
    if (Math.floor(d.classCode / 0x100) === PCI_BRIDGE_CLASS) {
      const child = firstChild.get(d.bdf);
      let secondary = child ? busOf(child.bdf) : -1;
      if (secondary < 0) {
        secondary = busOf(d.bdf) + 1;
        while (usedBuses.has(`${domainOf(d.bdf)}:${secondary}`) && secondary < 0xff) secondary++;
        usedBuses.add(`${domainOf(d.bdf)}:${secondary}`);
      }
      const pk = parent ? kinds.get(parent) : undefined;
      const kind = !parent ? "rootPort" : pk === "switchUp" ? "switchDown" : "switchUp";
      const acsCtrl = d.acsCtrl ?? 0;
      if (kind === "rootPort") t.rootPort(d.bdf, { secondary, acsCtrl });
      else if (kind === "switchUp") t.switchUp(d.bdf, { secondary, acsCtrl });
      else t.switchDown(d.bdf, { secondary, acsCtrl });
      kinds.set(d.bdf, kind);
    } else {
      const bars = d.bars
        .filter((b) => b.mem && b.size > 0)
        .map((b) => ({
          size: Math.max(4096, isPow2(b.size) ? b.size : roundUpPow2(b.size)),
          prefetch: b.prefetch,
          is64: b.is64,
        }));
      t.endpoint(d.bdf, { bars: fitRegisters(bars), acsCtrl: d.acsCtrl ?? 0 });
      kinds.set(d.bdf, "endpoint");
    }
    if (parent && !byBdf.has(parent))
      throw new RangeError(`upstream bridge ${parent} of ${d.bdf} is invalid: not in the PCI list`);
  }
  return t;
}

/** Keeps BARs within six registers (a 64-bit BAR takes two), as the hardware does. */
function fitRegisters<T extends { is64: boolean }>(bars: T[]): T[] {
  const out: T[] = [];
  let regs = 0;
  for (const b of bars) {
    regs += b.is64 ? 2 : 1;
    if (regs > 6) break;
    out.push(b);
  }
  return out;
}
