/**
 * The P2P map type between two PCI functions, following drivers/pci/p2pdma.c
 * calc_map_type_and_dist() and host_bridge_whitelist().
 */
import type { PciTopology } from "./topology.js";
import { type P2pMapResult, PCI_ACS_REDIR_MASK } from "./types.js";

/** pci_bridge_has_acs_redir: ACS RR, CR or EC enabled on the function. */
function hasAcsRedir(t: PciTopology, dev: number): boolean {
  return (t.device(dev).acsCtrl & PCI_ACS_REDIR_MASK) !== 0;
}

/**
 * host_bridge_whitelist(): the same host bridge must be listed (any entry); two different host
 * bridges must both be listed without REQ_SAME_HOST_BRIDGE.
 */
function hostBridgeAllowlisted(t: PciTopology, a: number, b: number): boolean {
  const ha = t.hostBridges[t.device(a).hostBridge];
  const hb = t.hostBridges[t.device(b).hostBridge];
  if (ha === hb) return ha.allowlist !== "none";
  return ha.allowlist === "any" && hb.allowlist === "any";
}

/**
 * calc_map_type_and_dist(): walks the provider's upstream bridges (starting with the provider
 * itself) and, for each, the client's chain until they meet. ACS redirect on any function of the
 * provider's walk or of the client's path up to the shared bridge, or no shared bridge at all,
 * means the traffic goes through the host bridge; that is allowed when the CPU supports it or the
 * host bridges are allowlisted, else NOT_SUPPORTED. A shared bridge without redirects is
 * BUS_ADDR. `distance` = steps walked on both sides. Same function: BUS_ADDR, distance 0.
 * @param p Provider function index. @param c Client function index.
 * Cost: O(depth^2).
 */
export function calcMapType(t: PciTopology, p: number, c: number): P2pMapResult {
  let a = p;
  let acsCnt = 0;
  let distA = 0;
  let distB = 0;
  let shared = -1;
  while (a >= 0) {
    distB = 0;
    if (hasAcsRedir(t, a)) acsCnt++;
    let bb = c;
    while (bb >= 0) {
      if (a === bb) break;
      bb = t.upstreamBridge(bb);
      distB++;
    }
    if (bb >= 0) {
      shared = a;
      break;
    }
    a = t.upstreamBridge(a);
    distA++;
  }
  const distance = distA + distB;
  if (shared >= 0) {
    // check_b_path_acs: the client's path below the shared bridge.
    for (let bb = c; bb >= 0 && bb !== shared; bb = t.upstreamBridge(bb)) {
      if (hasAcsRedir(t, bb)) acsCnt++;
    }
    if (acsCnt === 0) return { type: "BUS_ADDR", distance };
  }
  if (!t.cpuSupportsP2p && !hostBridgeAllowlisted(t, p, c)) return { type: "NOT_SUPPORTED", distance };
  return { type: "THRU_HOST_BRIDGE", distance };
}
