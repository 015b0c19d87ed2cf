/**
 * Bounded work and honest sizes in the machine analysis: the P2P matrix past its cell limit is
 * summarised in a note (counts, the limit, how to raise it) before the PCI tree is built, and a
 * physical map read without CAP_SYS_ADMIN (every address 0, kernel/resource.c r_show) has unknown
 * sizes, not 1 byte per region.
 */
import { describe, expect, it } from "vitest";
import { analyzeMachine } from "./analysis.js";
import { MAX_P2P_CELLS, p2pMatrix } from "./p2p.js";
import { physMapSummary } from "./platform-summary.js";
import type { MachineInput, PciInput } from "./types.js";

/** `n` NVMe endpoints on root bus 0, each with one 16 KiB 64-bit prefetchable BAR. */
function endpoints(n: number): PciInput[] {
  return Array.from({ length: n }, (_, i) => ({
    bdf: `0000:${(i >> 8).toString(16).padStart(2, "0")}:${((i >> 3) & 31).toString(16).padStart(2, "0")}.${i & 7}`,
    vendor: 0x8086,
    device: 1,
    classCode: 0x010802,
    bars: [
      { index: 0, start: 0x4000000000 + i * 0x4000, size: 0x4000, mem: true, prefetch: true, is64: true },
    ],
    iommuGroup: i,
    upstream: [],
  }));
}

const machine = (pci: PciInput[], iomem = true): MachineInput => ({
  origin: "snapshot",
  hostname: "h",
  kernel: "6.18",
  pageSize: 4096,
  access: { pfns: true, iomem, messages: [] },
  iomem: [
    { start: 0, end: 0, name: "Reserved", children: [] },
    { start: 0, end: 0, name: "System RAM", children: [] },
    { start: 0, end: 0, name: "System RAM", children: [] },
  ],
  pci,
  iommus: [],
});

describe("P2P matrix limit", () => {
  it("at the limit every cell is computed; one function more and it is summarised in a note", () => {
    const at = p2pMatrix(machine(endpoints(16)), 256);
    expect(at.cells).toHaveLength(256);
    const past = p2pMatrix(machine(endpoints(17)), 256);
    expect([past.providers.length, past.clients.length, past.cells.length]).toEqual([0, 0, 0]);
    expect(past.notes).toEqual([
      "P2P matrix summarised, not computed: 17 provider BARs x 17 DMA-capable clients = 289 cells is above the limit maxP2pCells = 256 (raise it with phyr --limit maxP2pCells=N)",
    ]);
  });

  it("4,096 functions (16,777,216 cells) are summarised by default, and analyzeMachine passes the limit on", () => {
    expect(MAX_P2P_CELLS).toBe(65536);
    const m = machine(endpoints(4096));
    // Bound measured: this took 137 s and 2.7 GB when every cell was computed.
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = process.hrtime.bigint();
    const a = analyzeMachine(m, []);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    expect(a.p2p.notes[0]).toMatch(/16,777,216 cells is above the limit maxP2pCells = 65,536/);
    expect(seconds).toBeLessThan(20);
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(256 * 2 ** 20);
    // What the report embeds stays small: 1,000 functions gave a 229 MB report.html.
    expect(JSON.stringify(analyzeMachine(machine(endpoints(1000)), [])).length).toBeLessThan(2_000_000);
    expect(analyzeMachine(machine(endpoints(20)), [], { maxP2pCells: 400 }).p2p.cells).toHaveLength(400);
    expect(() => p2pMatrix(m, Number.NaN)).toThrow(/^maxP2pCells NaN is invalid/);
  });
});

describe("physical map without CAP_SYS_ADMIN", () => {
  it("hidden addresses give sizes of 0 (unknown), not 1 byte per region", () => {
    const hidden = physMapSummary(machine([], false).iomem, false);
    expect(hidden.systemRam).toBe(0);
    expect(hidden.regions.map((r) => r.bytes)).toEqual([0, 0, 0]);
    expect(physMapSummary(machine([]).iomem).systemRam).toBe(2);
    expect(analyzeMachine(machine([], false), []).physmap.systemRam).toBe(0);
  });
});
