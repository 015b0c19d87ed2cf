import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PciTopology } from "./topology.js";
import { PCI_ACS_REDIR_MASK, PciAcs, type PciP2pAllowlist } from "./types.js";

/**
 * Reference formulation of calc_map_type_and_dist over explicit chains: P = provider and its
 * upstream bridges, C = the client's. The first P[i] found in C (at C[j]) is the shared bridge;
 * dist = i + j; redirects count on P[0..i] (the kernel checks each `a` before searching) and on
 * C[0..j-1]. No shared bridge: dist = |P| + |C|, through the host bridge.
 */
function reference(t: PciTopology, p: number, c: number): { type: string; distance: number } {
  const chain = (d: number): number[] => {
    const out: number[] = [];
    for (let x = d; x >= 0; x = t.device(x).parent) out.push(x);
    return out;
  };
  const P = chain(p);
  const C = chain(c);
  const redir = (d: number) => (t.device(d).acsCtrl & PCI_ACS_REDIR_MASK) !== 0;
  let thru = true;
  let distance = P.length + C.length;
  for (let i = 0; i < P.length; i++) {
    const j = C.indexOf(P[i]);
    if (j < 0) continue;
    distance = i + j;
    thru = P.slice(0, i + 1).some(redir) || C.slice(0, j).some(redir);
    break;
  }
  if (!thru) return { type: "BUS_ADDR", distance };
  const ha = t.hostBridges[t.device(p).hostBridge];
  const hb = t.hostBridges[t.device(c).hostBridge];
  const listed = ha === hb ? ha.allowlist !== "none" : ha.allowlist === "any" && hb.allowlist === "any";
  return { type: t.cpuSupportsP2p || listed ? "THRU_HOST_BRIDGE" : "NOT_SUPPORTED", distance };
}

describe("p2pMapType agrees with a chain-based reference on random trees", () => {
  test("random host bridges, ports, switches, multifunction endpoints and ACS bits", () => {
    const seen = new Set<string>();
    const allow = fc.constantFrom<PciP2pAllowlist>("none", "sameHostBridge", "any");
    const acs = fc.constantFrom(0, 0, PciAcs.RR, PciAcs.CR | PciAcs.SV, PciAcs.EC, PciAcs.SV | PciAcs.UF);
    const step = fc.record({
      kind: fc.integer({ min: 0, max: 4 }),
      at: fc.nat(),
      acs,
      fn: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(allow, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.array(step, { maxLength: 30 }),
        (hbs, amd, steps) => {
          const t = new PciTopology(amd ? { cpuVendor: "AMD", cpuFamily: 0x17 } : {});
          for (let i = 0; i < hbs.length; i++) t.hostBridge({ domain: i, allowlist: hbs[i] });
          let nextBus = 1;
          const devSlot = new Map<string, number>();
          for (const s of steps) {
            // pick a place: a root bus, or the secondary bus of a bridge
            const bridges = t.devices.filter((d) => d.secondary >= 0);
            const places = [
              ...t.hostBridges.map((h) => ({ domain: h.domain, bus: h.bus, kind: "root" })),
              ...bridges.map((b) => ({ domain: b.domain, bus: b.secondary, kind: b.kind })),
            ];
            const pl = places[s.at % places.length];
            const key = `${pl.domain}:${pl.bus}`;
            const underPort = pl.kind === "rootPort" || pl.kind === "switchDown";
            const dev = underPort ? 0 : (devSlot.get(key) ?? 0);
            const bdf = (fn: number) =>
              `${pl.domain.toString(16).padStart(4, "0")}:${pl.bus.toString(16).padStart(2, "0")}:${dev.toString(16).padStart(2, "0")}.${fn}`;
            if (t.find(bdf(0)) >= 0 || dev > 31 || nextBus > 250) continue;
            devSlot.set(key, dev + 1);
            if (pl.kind === "root" && s.kind <= 1)
              t.rootPort(bdf(0), { secondary: nextBus++, acsCtrl: s.acs });
            else if (pl.kind === "switchUp") t.switchDown(bdf(0), { secondary: nextBus++, acsCtrl: s.acs });
            else if ((pl.kind === "rootPort" || pl.kind === "switchDown") && s.kind === 2)
              t.switchUp(bdf(0), { secondary: nextBus++ });
            else for (let f = 0; f <= s.fn; f++) t.endpoint(bdf(f), { acsCtrl: f === 0 ? s.acs : 0 });
          }
          t.checkValid();
          const n = t.devices.length;
          for (let p = 0; p < n; p++) {
            for (let c = 0; c < n; c++) {
              const got = t.p2pMapType(p, c);
              const want = reference(t, p, c);
              seen.add(
                `${want.type}${want.distance > 0 && t.device(p).kind === "endpoint" ? "" : "/bridge-or-self"}`,
              );
              if (got.type !== want.type || got.distance !== want.distance) {
                throw new Error(
                  `${t.device(p).bdf} -> ${t.device(c).bdf}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`,
                );
              }
            }
          }
          expect(t.p2pCacheMisses).toBe(n * n);
        },
      ),
      fcRuns(150),
    );
    // the generator reaches every outcome between endpoints
    for (const k of ["BUS_ADDR", "THRU_HOST_BRIDGE", "NOT_SUPPORTED"]) expect(seen.has(k)).toBe(true);
  });
});
