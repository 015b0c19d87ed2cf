import { describe, expect, test } from "vitest";
import { formatBdf, parseBdf } from "./bdf.js";
import { PciTopology, type PciTopologyOptions } from "./topology.js";
import { PciAcs, type PciP2pAllowlist } from "./types.js";

/**
 * HB0 (domain 0): RP 00:01.0 -> switch 01:00.0 -> downstream 02:00.0 (GPU 03:00.0/.1),
 * 02:01.0 (NVMe 04:00.0), 02:02.0 with ACS RR|CR (NIC 05:00.0); RP 00:02.0 (NVMe 06:00.0).
 * HB1 (domain 1): RP 0001:00:01.0 (GPU 0001:01:00.0).
 */
function machine(hb0: PciP2pAllowlist, hb1: PciP2pAllowlist, cpu: PciTopologyOptions = {}): PciTopology {
  const t = new PciTopology(cpu);
  t.hostBridge({ domain: 0, allowlist: hb0 });
  t.hostBridge({ domain: 1, allowlist: hb1 });
  t.rootPort("0000:00:01.0", { secondary: 1 });
  t.switchUp("0000:01:00.0", { secondary: 2 });
  t.switchDown("0000:02:00.0", { secondary: 3 });
  t.switchDown("0000:02:01.0", { secondary: 4 });
  t.switchDown("0000:02:02.0", { secondary: 5, acsCtrl: PciAcs.RR | PciAcs.CR | PciAcs.SV });
  t.endpoint("0000:03:00.0", { bars: [{ size: 2 ** 34 }], name: "GPU" });
  t.endpoint("0000:03:00.1", { bars: [{ size: 0x1000 }], name: "GPU audio" });
  t.endpoint("0000:04:00.0", { bars: [{ size: 0x4000, prefetch: false, is64: false }], name: "NVMe" });
  t.endpoint("0000:05:00.0", { bars: [{ size: 2 ** 20 }], name: "NIC" });
  t.rootPort("0000:00:02.0", { secondary: 6 });
  t.endpoint("0000:06:00.0", { bars: [{ size: 2 ** 21 }], name: "NVMe 2" });
  t.rootPort("0001:00:01.0", { secondary: 1 });
  t.endpoint("0001:01:00.0", { bars: [{ size: 2 ** 30 }], name: "GPU 2" });
  t.checkValid();
  return t;
}

// Expected values worked by hand from drivers/pci/p2pdma.c calc_map_type_and_dist():
// dist = bridges walked from the provider to the first shared bridge + from the client to it;
// with no shared bridge, the provider's whole chain + the client's whole chain.
const mapCases: [
  string,
  PciP2pAllowlist,
  PciP2pAllowlist,
  PciTopologyOptions,
  string,
  string,
  string,
  number,
][] = [
  ["same switch", "none", "none", {}, "03:00.0", "04:00.0", "BUS_ADDR", 4],
  ["same device", "none", "none", {}, "03:00.0", "03:00.0", "BUS_ADDR", 0],
  ["two functions of one device", "none", "none", {}, "03:00.0", "03:00.1", "BUS_ADDR", 2],
  [
    "ACS redirect on the client's port, not allowlisted",
    "none",
    "none",
    {},
    "03:00.0",
    "05:00.0",
    "NOT_SUPPORTED",
    4,
  ],
  [
    "ACS redirect on the provider's port, not allowlisted",
    "none",
    "none",
    {},
    "05:00.0",
    "03:00.0",
    "NOT_SUPPORTED",
    4,
  ],
  [
    "ACS redirect, host bridge allowlisted",
    "sameHostBridge",
    "none",
    {},
    "03:00.0",
    "05:00.0",
    "THRU_HOST_BRIDGE",
    4,
  ],
  [
    "two root ports of an allowlisted host bridge",
    "sameHostBridge",
    "none",
    {},
    "03:00.0",
    "06:00.0",
    "THRU_HOST_BRIDGE",
    6,
  ],
  [
    "two root ports, host bridge not allowlisted",
    "none",
    "none",
    {},
    "06:00.0",
    "04:00.0",
    "NOT_SUPPORTED",
    6,
  ],
  [
    "two root ports, AMD Zen CPU",
    "none",
    "none",
    { cpuVendor: "AMD", cpuFamily: 0x19 },
    "06:00.0",
    "04:00.0",
    "THRU_HOST_BRIDGE",
    6,
  ],
  [
    "two root ports, pre-Zen AMD CPU",
    "none",
    "none",
    { cpuVendor: "AMD", cpuFamily: 0x15 },
    "06:00.0",
    "04:00.0",
    "NOT_SUPPORTED",
    6,
  ],
  ["two host bridges both allowlisted", "any", "any", {}, "03:00.0", "0001:01:00.0", "THRU_HOST_BRIDGE", 6],
  [
    "two host bridges, one needs the same host bridge",
    "sameHostBridge",
    "any",
    {},
    "03:00.0",
    "0001:01:00.0",
    "NOT_SUPPORTED",
    6,
  ],
  ["two host bridges, one not listed", "any", "none", {}, "0001:01:00.0", "06:00.0", "NOT_SUPPORTED", 4],
];

describe("PciTopology.p2pMapType follows calc_map_type_and_dist", () => {
  test.each(mapCases)("%s", (_n, hb0, hb1, cpu, provider, client, type, distance) => {
    const t = machine(hb0, hb1, cpu);
    expect(t.p2pMapType(provider, client)).toEqual({ type, distance });
  });

  test("results are cached per (provider, client) pair", () => {
    const t = machine("none", "none");
    const a = t.p2pMapType("03:00.0", "04:00.0");
    expect(t.p2pMapType("0000:03:00.0", "0000:04:00.0")).toBe(a);
    t.p2pMapType("04:00.0", "03:00.0");
    expect(t.p2pCacheMisses).toBe(2);
    expect(t.p2pCacheHits).toBe(1);
  });
});

describe("PciTopology BARs", () => {
  test("BARs are naturally aligned in the host bridge windows; bus = CPU + busOffset", () => {
    const t = new PciTopology();
    t.hostBridge({ busOffset: 2 ** 43 });
    t.rootPort("00:01.0", { secondary: 1 });
    const ep = t.endpoint("01:00.0", {
      bars: [
        { size: 2 ** 24 },
        { size: 0x4000, prefetch: false, is64: false },
        { size: 0x1000, prefetch: false },
      ],
    });
    t.rootPort("00:02.0", { secondary: 2 });
    const big = t.endpoint("02:00.0", { bars: [{ size: 2 ** 37 }] });
    const bars = t.device(ep).bars;
    expect(bars.map((b) => [b.index, b.cpuStart, b.busStart])).toEqual([
      [0, 2 ** 44, 2 ** 44 + 2 ** 43],
      [2, 0x80000000, 0x80000000 + 2 ** 43],
      [3, 0x80004000, 0x80004000 + 2 ** 43],
    ]);
    expect(t.device(big).bars[0].cpuStart).toBe(2 ** 44 + 2 ** 37);
    t.checkValid();
  });
});

describe("PciTopology rejects bad input and stays unchanged", () => {
  test.each([
    ["duplicate address", (t: PciTopology) => t.endpoint("0000:03:00.0"), /already present/],
    ["no bridge to the bus", (t: PciTopology) => t.endpoint("0000:09:00.0"), /no bridge leads to bus 0x9/],
    ["device 1 below a port", (t: PciTopology) => t.endpoint("0000:03:01.0"), /only device 0/],
    [
      "downstream port below a root port",
      (t: PciTopology) => t.switchDown("0000:06:00.1", { secondary: 9 }),
      /below a rootPort/,
    ],
    [
      "secondary bus in use",
      (t: PciTopology) => t.rootPort("0000:00:03.0", { secondary: 4 }),
      /secondary bus 0x4/,
    ],
    [
      "seven BAR registers",
      (t: PciTopology) =>
        t.endpoint("0000:03:00.2", {
          bars: [{ size: 4096 }, { size: 4096 }, { size: 4096 }, { size: 4096, is64: false }],
        }),
      /7 BAR registers/,
    ],
    [
      "BAR size not a power of two",
      (t: PciTopology) => t.endpoint("0000:03:00.2", { bars: [{ size: 3000 }] }),
      /BAR size 3000/,
    ],
    [
      "BAR larger than the window",
      (t: PciTopology) =>
        t.endpoint("0000:03:00.2", {
          bars: [
            { size: 2 ** 31, is64: false },
            { size: 2 ** 31, is64: false },
          ],
        }),
      /no room/,
    ],
    ["malformed address", (t: PciTopology) => t.endpoint("0000:03:00.9"), /PCI address "0000:03:00.9"/],
    [
      "unknown device",
      (t: PciTopology) => t.p2pMapType("0000:0a:00.0", "0000:03:00.0"),
      /not in the topology/,
    ],
    ["bad ACS bits", (t: PciTopology) => t.endpoint("0000:03:00.2", { acsCtrl: 0x80 }), /ACS control 128/],
  ])("%s", (_n, fn, re) => {
    const t = machine("none", "none");
    const before = t.lspciTree();
    const n = t.devices.length;
    expect(() => fn(t)).toThrow(re);
    expect(t.devices.length).toBe(n);
    expect(t.lspciTree()).toBe(before);
    t.endpoint("0000:03:00.3", { bars: [{ size: 2 ** 20 }] }); // windows unchanged: still assignable
    t.checkValid();
  });
});

describe("lspciTree() prints like lspci -tv (pciutils ls-tree.c)", () => {
  test("root ports, an empty bridge and an integrated endpoint", () => {
    const t = new PciTopology();
    t.hostBridge();
    t.rootPort("00:01.0", { secondary: 1 });
    t.endpoint("01:00.0", { name: "NVMe" });
    t.rootPort("00:02.0", { secondary: 2 });
    t.endpoint("00:1f.0", { name: "ISA bridge" });
    expect(t.lspciTree()).toBe(
      [
        "-[0000:00]-+-01.0-[01]----00.0  NVMe",
        "           +-02.0-[02]--",
        "           \\-1f.0  ISA bridge",
        "",
      ].join("\n"),
    );
  });

  test("a switch continues its branch with |", () => {
    const t = new PciTopology();
    t.hostBridge();
    t.rootPort("00:01.0", { secondary: 1 });
    t.switchUp("01:00.0", { secondary: 2 });
    t.switchDown("02:00.0", { secondary: 3 });
    t.switchDown("02:01.0", { secondary: 4 });
    t.endpoint("03:00.0", { name: "GPU" });
    t.endpoint("04:00.0", { name: "NVMe" });
    t.rootPort("00:02.0", { secondary: 5 });
    t.endpoint("05:00.0", { name: "NIC" });
    expect(t.lspciTree()).toBe(
      [
        "-[0000:00]-+-01.0-[01-04]----00.0-[02-04]--+-00.0-[03]----00.0  GPU",
        `           |${" ".repeat(31)}\\-01.0-[04]----00.0  NVMe`,
        "           \\-02.0-[05]----00.0  NIC",
        "",
      ].join("\n"),
    );
  });

  test("several root buses", () => {
    const t = new PciTopology();
    t.hostBridge();
    t.hostBridge({ domain: 1 });
    t.endpoint("0000:00:00.0", { name: "Host bridge" });
    t.endpoint("0001:00:00.0", { name: "Host bridge" });
    expect(t.lspciTree()).toBe("-+-[0000:00]---00.0  Host bridge\n \\-[0001:00]---00.0  Host bridge\n");
  });
});

test("parseBdf / formatBdf round-trip and reject bad text", () => {
  expect(formatBdf(parseBdf("3:00.1"))).toBe("0000:03:00.1");
  expect(parseBdf("0001:1f:1f.7")).toEqual({ domain: 1, bus: 0x1f, dev: 0x1f, fn: 7 });
  expect(() => parseBdf("00:20.0")).toThrow(/device number above 0x1f/);
  expect(() => parseBdf("zz")).toThrow(RangeError);
});
