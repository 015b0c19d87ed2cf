import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { FORMATS } from "../formats/index.js";
import { analyzeMachine } from "./analysis.js";
import { analyzeBuffer, sumBuffers } from "./buffer.js";
import { p2pMatrix } from "./p2p.js";
import { iommuPresence, pciSummary, physMapSummary } from "./platform-summary.js";
import type { BufferInput, MachineInput, PciInput } from "./types.js";

const bar = (index: number, start: number, size: number) => ({
  index,
  start,
  size,
  mem: true,
  prefetch: true,
  is64: true,
});
const dev = (
  bdf: string,
  classCode: number,
  upstream: string[],
  bars = [bar(0, 0xfe000000, 0x4000)],
): PciInput => ({
  bdf,
  vendor: 0x1b36,
  device: 0x10,
  classCode,
  bars,
  iommuGroup: -1,
  upstream,
});

const machine = (pci: PciInput[]): MachineInput => ({
  origin: "snapshot",
  hostname: "h",
  kernel: "6.18",
  pageSize: 4096,
  access: { pfns: true, iomem: true, messages: [] },
  iomem: [
    {
      start: 0x100000,
      end: 0xbfffffff,
      name: "System RAM",
      children: [{ start: 0x1000000, end: 0x1ffffff, name: "Kernel code", children: [] }],
    },
    { start: 0x0, end: 0xfff, name: "Reserved", children: [] },
    { start: 0x100000000, end: 0x13fffffff, name: "System RAM", children: [] },
  ],
  pci,
  iommus: [],
});

describe("machine summaries", () => {
  it("physMapSummary lists regions in address order to depth 1 and totals by name", () => {
    const s = physMapSummary(machine([]).iomem);
    expect(s.regions.map((r) => [r.name, r.start, r.depth])).toEqual([
      ["Reserved", "0x0", 0],
      ["System RAM", "0x100000", 0],
      ["Kernel code", "0x1000000", 1],
      ["System RAM", "0x100000000", 0],
    ]);
    expect(s.systemRam).toBe(0xbff00000 + 0x40000000);
    expect(s.totals).toEqual([
      { name: "System RAM", bytes: 0xbff00000 + 0x40000000 },
      { name: "Reserved", bytes: 0x1000 },
    ]);
  });

  it("pciSummary orders children after their bridge and indents them", () => {
    const s = pciSummary([
      dev("0000:01:00.0", 0x010802, ["0000:00:01.0"]),
      dev("0000:00:01.0", 0x060400, [], []),
    ]);
    expect(s.tree).toEqual(["0000:00:01.0 [1b36:0010] bridge", "  0000:01:00.0 [1b36:0010] nvme"]);
    expect(s.devices[1].bars).toEqual([
      { index: 0, start: "0xfe000000", bytes: 0x4000, prefetch: true, is64: true },
    ]);
  });

  it("iommuPresence counts distinct groups", () => {
    const m = {
      ...machine([
        { ...dev("0000:00:02.0", 0x20000, []), iommuGroup: 3 },
        { ...dev("0000:00:03.0", 0x20000, []), iommuGroup: 3 },
      ]),
      iommus: ["dmar0"],
    };
    expect(iommuPresence(m)).toEqual({ present: true, units: ["dmar0"], groups: 1 });
  });
});

describe("p2pMatrix (drivers/pci/p2pdma.c rules, hand-computed)", () => {
  it("the host bridge function, bridges and non-DMA system peripherals are neither clients nor providers", () => {
    // Root bus 00: 00.0 host bridge function (08:80, as Intel 8086:09a2) with a register BAR,
    // 00:01.0 root port, 00:02.0 IOMMU (08:06) with a register BAR, 00:03.0 DSA (08:80), and
    // 01:00.0 NVMe below the root port.
    const m = p2pMatrix(
      machine([
        dev("0000:00:00.0", 0x088000, [], [bar(0, 0xfd000000, 0x1000)]),
        dev("0000:00:01.0", 0x060400, [], []),
        dev("0000:00:02.0", 0x080600, [], [bar(0, 0xfd100000, 0x1000)]),
        dev("0000:00:03.0", 0x088000, [], [bar(0, 0xfd200000, 0x1000)]),
        dev("0000:01:00.0", 0x010802, ["0000:00:01.0"]),
      ]),
    );
    expect(m.clients).toEqual(["0000:00:03.0", "0000:01:00.0"]);
    expect(m.providers.map((p) => p.bdf)).toEqual(["0000:00:03.0", "0000:01:00.0"]);
    expect(m.cells).toHaveLength(4);
  });

  it("two functions below one root port: BUS_ADDR distance 2; same function: BUS_ADDR 0; root bus to port: NOT_SUPPORTED", () => {
    const m = p2pMatrix(
      machine([
        dev("0000:00:01.0", 0x060400, [], []),
        dev("0000:01:00.0", 0x010802, ["0000:00:01.0"]),
        dev("0000:01:00.1", 0x020000, ["0000:00:01.0"], [bar(2, 0xfe100000, 0x1000)]),
        dev("0000:00:03.0", 0x020000, [], [bar(4, 0xfe200000, 0x100)]),
      ]),
    );
    expect(m.providers).toEqual([
      { bdf: "0000:00:03.0", bar: 4, bytes: 0x100 },
      { bdf: "0000:01:00.0", bar: 0, bytes: 0x4000 },
      { bdf: "0000:01:00.1", bar: 2, bytes: 0x1000 },
    ]);
    expect(m.clients).toEqual(["0000:00:03.0", "0000:01:00.0", "0000:01:00.1"]);
    const cell = (p: number, c: number) => m.cells[p * m.clients.length + c];
    expect(cell(0, 0)).toEqual({ type: "BUS_ADDR", distance: 0 });
    expect(cell(1, 1)).toEqual({ type: "BUS_ADDR", distance: 0 });
    expect(cell(1, 2)).toEqual({ type: "BUS_ADDR", distance: 2 });
    expect(cell(2, 1)).toEqual({ type: "BUS_ADDR", distance: 2 });
    // No shared upstream bridge, host bridge not allowlisted, Intel CPU: NOT_SUPPORTED.
    expect(cell(0, 1).type).toBe("NOT_SUPPORTED");
    expect(cell(1, 0).type).toBe("NOT_SUPPORTED");
    expect(m.notes[0]).toMatch(/assumes ACS redirect off/);
  });

  it("known ACS bits and allowlist are used: ACS redirect on a port sends peers through the host bridge", () => {
    // Switch 01:00.0 with ports 02:00.0 (ACS RR|CR = 0x0c) and 02:01.0 (none); endpoints 03:00.0, 04:00.0.
    const pci = [
      dev("0000:00:01.0", 0x060400, [], []),
      dev("0000:01:00.0", 0x060400, ["0000:00:01.0"], []),
      { ...dev("0000:02:00.0", 0x060400, ["0000:00:01.0", "0000:01:00.0"], []), acsCtrl: 0x0c },
      dev("0000:02:01.0", 0x060400, ["0000:00:01.0", "0000:01:00.0"], []),
      dev("0000:03:00.0", 0x030200, ["0000:00:01.0", "0000:01:00.0", "0000:02:00.0"]),
      dev(
        "0000:04:00.0",
        0x020000,
        ["0000:00:01.0", "0000:01:00.0", "0000:02:01.0"],
        [bar(0, 0xfe100000, 0x1000)],
      ),
    ];
    const cell = (m: ReturnType<typeof p2pMatrix>, p: string, c: string) =>
      m.cells[m.providers.findIndex((x) => x.bdf === p) * m.clients.length + m.clients.indexOf(c)];
    // Provider 03:00.0 walks 03:00.0, 02:00.0 (redirect: count 1), 01:00.0 = shared (distance 2 + 2).
    // Allowlisted host bridge: THRU_HOST_BRIDGE; not allowlisted (Intel CPU): NOT_SUPPORTED.
    const listed = p2pMatrix({ ...machine(pci), p2pPlatform: { allowlist: "any", cpuSupportsP2p: false } });
    expect(cell(listed, "0000:03:00.0", "0000:04:00.0")).toEqual({ type: "THRU_HOST_BRIDGE", distance: 4 });
    // Provider 04:00.0 -> client 03:00.0: the client's path below the shared bridge has 02:00.0 with redirect.
    expect(cell(listed, "0000:04:00.0", "0000:03:00.0")).toEqual({ type: "THRU_HOST_BRIDGE", distance: 4 });
    expect(listed.notes[0]).toMatch(
      /uses the machine description's ACS control bits, host-bridge allowlist \(any\)/,
    );
    const unlisted = p2pMatrix({
      ...machine(pci),
      p2pPlatform: { allowlist: "none", cpuSupportsP2p: false },
    });
    expect(cell(unlisted, "0000:03:00.0", "0000:04:00.0")).toEqual({ type: "NOT_SUPPORTED", distance: 4 });
    // Without the description, ACS is assumed off: the same pair is BUS_ADDR.
    const assumed = p2pMatrix(machine(pci.map(({ acsCtrl: _a, ...d }) => d as PciInput)));
    expect(cell(assumed, "0000:03:00.0", "0000:04:00.0")).toEqual({ type: "BUS_ADDR", distance: 4 });
  });

  it("a tree the pci layer cannot model gives an empty matrix with a note saying why", () => {
    const m = p2pMatrix(machine([dev("0000:05:00.0", 0x020000, ["0000:00:09.0"])]));
    expect(m.cells).toEqual([]);
    expect(m.notes[0]).toMatch(/^P2P matrix not computed: the PCI tree could not be modelled: /);
  });
});

describe("analyzeBuffer / sumBuffers / analyzeMachine", () => {
  const runsArb = fc
    .array(
      fc.tuple(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 4096 }),
        fc.integer({ min: 1, max: 600 }),
      ),
      { minLength: 1, maxLength: 12 },
    )
    .map((rows) => {
      let va = 0x7f0000000000;
      const v: number[] = [];
      const p: number[] = [];
      const n: number[] = [];
      for (const [gap, pfn, np] of rows) {
        va += gap * 4096;
        v.push(va);
        p.push(pfn);
        n.push(np);
        va += np * 4096;
      }
      return { count: rows.length, va: v, pfn: p, npages: n };
    });
  const input = (runs: BufferInput["runs"], pid = 7): BufferInput => ({
    label: `${pid} x`,
    pid,
    comm: "x",
    vaStart: runs.va[0],
    vaLength: 1 << 20,
    runs,
    swapped: 1,
    unmapped: 2,
  });

  it("pages, runs, per-format bytes and IOMMU coverage agree with a page-by-page model (property)", () => {
    fc.assert(
      fc.property(runsArb, (runs) => {
        const b = analyzeBuffer(input(runs));
        let pages = 0;
        let merged = 0;
        let prevVa = -1;
        let prevPfn = -1;
        for (let i = 0; i < runs.count; i++) {
          for (let k = 0; k < runs.npages[i]; k++) {
            const va = runs.va[i] + k * 4096;
            const pfn = runs.pfn[i] + k;
            if (!(va === prevVa + 4096 && pfn === prevPfn + 1)) merged++;
            prevVa = va;
            prevPfn = pfn;
            pages++;
          }
        }
        expect(b.pages).toBe(pages);
        expect(b.runs).toBe(merged);
        expect(b.formats.map((f) => f.name)).toEqual(FORMATS.map((f) => f.name));
        const bytes = Object.fromEntries(b.formats.map((f) => [f.name, f.bytes]));
        expect(bytes.pages).toBe(8 * pages);
        expect(bytes.phyr16).toBe(16 * merged);
        for (const c of b.iommu.filter((x) => x.bitmap.startsWith("x86"))) {
          expect(c.leaves.reduce((s, l) => s + l.size * l.count, 0)).toBe(pages * 4096);
          expect(c.iotlbEntries).toBe(c.leafTotal);
        }
        expect(b.rdma.every((r) => r.entries4k === pages)).toBe(true);
        expect(b.nvme?.ioBytes).toBe(Math.min(pages * 4096, 1 << 20));
      }),
      fcRuns(60),
    );
  });

  it("sumBuffers adds pages, runs, bytes, leaves and histograms of every buffer", () => {
    const a = analyzeBuffer(input({ count: 1, va: [0x10000], pfn: [0x200], npages: [512] }, 1));
    const b = analyzeBuffer(input({ count: 2, va: [0x10000, 0x20000], pfn: [5, 9], npages: [1, 3] }, 2));
    const t = sumBuffers([a, b]);
    expect(t.pages).toBe(516);
    expect(t.runs).toBe(3);
    expect(t.swapped).toBe(2);
    expect(t.histogram.runs).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(t.formats.find((f) => f.name === "pages")?.bytes).toBe(516 * 8);
    const x86 = t.iommu.find((c) => c.bitmap.startsWith("x86") && c.placement === "kernel");
    expect(x86?.leafTotal).toBe(a.iommu[0].leafTotal + b.iommu[0].leafTotal);
  });

  it("analyzeBuffer rejects malformed runs with a RangeError", () => {
    expect(() => analyzeBuffer(input({ count: 1, va: [0x10001], pfn: [1], npages: [1] }))).toThrow(
      /not page aligned/,
    );
  });

  it("analyzeMachine produces the phyr-analysis/1 document", () => {
    const m = machine([dev("0000:00:03.0", 0x020000, [])]);
    const a = analyzeMachine(m, [analyzeBuffer(input({ count: 1, va: [0x10000], pfn: [1], npages: [2] }))]);
    expect(a.schema).toBe("phyr-analysis/1");
    expect(a.origin).toBe("snapshot");
    expect(a.total.pages).toBe(2);
    expect(a.p2p.cells).toEqual([{ type: "BUS_ADDR", distance: 0 }]);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });
});
