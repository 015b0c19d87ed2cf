import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PciTopology } from "../pci/index.js";
import { Provider, ProviderRevoked, p2pMapType, providersForDevice } from "./provider.js";
import { ProviderRegistry } from "./registry.js";

function prov(start: number, size: number, bar = 0): Provider {
  return new Provider({ owner: 0, ownerBdf: "0000:03:00.0", bar, start, size, busOffset: 0 });
}

describe("ProviderRegistry agrees with a linear-scan model", () => {
  test("random add / remove / lookup", () => {
    const op = fc.record({
      kind: fc.constantFrom("add", "add", "remove", "lookup"),
      slot: fc.integer({ min: 0, max: 200 }),
      pages: fc.integer({ min: 1, max: 6 }),
      probe: fc.integer({ min: 0, max: 210 * 4096 }),
      pick: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const r = new ProviderRegistry();
        const live = new Map<number, Provider>();
        const naive = (addr: number): number => {
          for (const [i, p] of live) if (p.contains(addr)) return i;
          return -1;
        };
        for (const o of ops) {
          if (o.kind === "add") {
            const p = prov(o.slot * 4096, o.pages * 4096);
            const clash = [...live.values()].some((q) => q.start < p.end && p.start < q.end);
            const n = r.size;
            if (clash) {
              expect(() => r.add(p)).toThrow(/overlaps provider/);
              expect(r.size).toBe(n);
            } else {
              const i = r.add(p);
              // lowest free index
              let want = 1;
              while (live.has(want)) want++;
              expect(i).toBe(want);
              live.set(i, p);
            }
          } else if (o.kind === "remove" && live.size > 0) {
            const keys = [...live.keys()];
            const i = keys[o.pick % keys.length];
            expect(r.remove(i)).toBe(live.get(i));
            live.delete(i);
          } else {
            expect(r.lookup(o.probe)).toBe(naive(o.probe));
          }
          r.checkValid();
          for (const [i, p] of live) {
            expect(r.lookup(p.start)).toBe(i);
            expect(r.lookup(p.end - 1)).toBe(i);
          }
        }
      }),
      fcRuns(200),
    );
  });

  test("bad input throws a typed error and leaves the registry unchanged", () => {
    const r = new ProviderRegistry();
    const a = prov(0x10000, 0x1000);
    r.add(a);
    const bad: [() => unknown, RegExp][] = [
      [() => r.add(a), /already registered as 1/],
      [() => r.add(prov(0x10800 - 0x800, 0x1000)), /overlaps provider 1/],
      [() => r.remove(7), /provider index 7 is invalid/],
      [() => r.get(0), /provider index 0 is invalid/],
      [() => prov(-1, 0x1000), /provider start -1/],
      [() => prov(0x1000, 0), /provider size 0x0/],
      [() => prov(2 ** 52 - 0x1000, 0x2000), /ends beyond 2\^52/],
      [() => r.add({} as Provider), /expected a Provider/],
    ];
    for (const [fn, re] of bad) {
      expect(fn).toThrow(re);
      expect(r.size).toBe(1);
      expect(r.lookup(0x10000)).toBe(1);
      r.checkValid();
    }
  });
});

describe("Providers", () => {
  test("one provider per BAR, covering the whole aperture, a 4 KiB BAR included", () => {
    const t = new PciTopology();
    t.hostBridge({ busOffset: 0x1000000 });
    t.rootPort("00:01.0", { secondary: 1 });
    t.endpoint("01:00.0", { bars: [{ size: 0x1000 }, { size: 2 ** 30 }] });
    const r = new ProviderRegistry();
    const ps = providersForDevice(t, "01:00.0");
    expect(ps.map((p) => [p.bar, p.size])).toEqual([
      [0, 0x1000],
      [2, 2 ** 30],
    ]);
    for (const p of ps) r.add(p);
    expect(r.lookup(ps[0].start + 0xfff)).toBe(1);
    expect(r.lookup(ps[1].start + 2 ** 29)).toBe(2);
    expect(ps[0].busAddr(ps[0].start + 0x10)).toBe(ps[0].start + 0x10 + 0x1000000);
    expect(ps[1].name).toBe("0000:01:00.0 BAR 2");
    expect(() => ps[0].busAddr(ps[0].end)).toThrow(/outside provider 0000:01:00.0 BAR 0/);
    expect(p2pMapType(t, null, "01:00.0")).toEqual({ type: "NONE", distance: 0 });
    expect(p2pMapType(t, ps[0], "01:00.0")).toEqual({ type: "BUS_ADDR", distance: 0 });
  });

  test("revoke runs every listener once, then use of the provider throws ProviderRevoked", () => {
    const r = new ProviderRegistry();
    const p = prov(0x100000, 0x1000);
    const i = r.add(p);
    const torn: string[] = [];
    p.onRevoke((_p, why) => torn.push(`a:${why}`));
    const off = p.onRevoke(() => torn.push("b"));
    p.onRevoke((q) => torn.push(`c:${q.index}`));
    off();
    expect(p.listenerCount).toBe(2);
    expect(r.revoke(i)).toBe(2);
    expect(torn).toEqual(["a:reset", "c:1"]);
    expect(p.revoked).toBe(true);
    expect(r.revoke(i)).toBe(0);
    expect(() => p.busAddr(0x100000)).toThrow(ProviderRevoked);
    expect(() => p.onRevoke(() => {})).toThrow(/revoked by reset/);
    expect(r.lookup(0x100000)).toBe(i); // still registered after a reset
  });

  test("unplug revokes and unregisters, even when a listener throws", () => {
    const r = new ProviderRegistry();
    const p = prov(0x100000, 0x1000);
    const i = r.add(p);
    let ran = 0;
    p.onRevoke(() => {
      throw new Error("listener failed");
    });
    p.onRevoke(() => ran++);
    expect(() => r.unplug(i)).toThrow(/listener failed/);
    expect(ran).toBe(1);
    expect(p.revokeReason).toBe("unplug");
    expect(r.lookup(0x100000)).toBe(-1);
    expect(r.size).toBe(0);
    r.checkValid();
  });
});
