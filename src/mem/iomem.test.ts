import { describe, expect, it } from "vitest";
import { IomemTree } from "./iomem.js";
import { PhysData } from "./physdata.js";

describe("IomemTree", () => {
  it("nests BARs under their host window and prints /proc/iomem indentation", () => {
    const t = new IomemTree();
    t.insert(0xe0000000, 0x10000000, "PCI Bus 0000:00");
    t.insert(0xe1000000, 0x1000, "0000:03:00.0");
    t.insert(0xe0000000, 0x2000000, "PCI Bus 0000:03");
    expect(t.format()).toBe(
      "e0000000-efffffff : PCI Bus 0000:00\n  e0000000-e1ffffff : PCI Bus 0000:03\n    e1000000-e1000fff : 0000:03:00.0\n",
    );
    expect(t.lookup(0xe1000800)?.name).toBe("0000:03:00.0");
    t.checkValid();
  });

  it("refuses a partial overlap and leaves the tree unchanged", () => {
    const t = new IomemTree();
    t.insert(0x1000, 0x2000, "a");
    const before = t.format();
    expect(() => t.insert(0x2000, 0x2000, "b")).toThrow(/partially overlaps "a"/);
    expect(() => t.insert(Number.NaN, 0x1000, "c")).toThrow(RangeError);
    expect(t.format()).toBe(before);
  });

  it("cuts a range out of System RAM, splitting it", () => {
    const t = new IomemTree();
    t.insert(0, 0x40000000, "System RAM");
    t.cut(0x8000000, 0x8000000, "System RAM");
    expect(t.format()).toBe("00000000-07ffffff : System RAM\n10000000-3fffffff : System RAM\n");
  });
});

describe("PhysData", () => {
  it("reads zeros until written, and crosses page and MMIO boundaries", () => {
    const d = new PhysData();
    expect([...d.readPhys(0x1ffe, 4)]).toEqual([0, 0, 0, 0]);
    d.writePhys(0x1ffe, new Uint8Array([1, 2, 3, 4]));
    expect([...d.readPhys(0x1ffd, 6)]).toEqual([0, 1, 2, 3, 4, 0]);
    expect(d.touchedPages).toBe(2);
    const bar = new Uint8Array(4096);
    d.registerMmio(0xe0000000, bar);
    d.writePhys(0xe0000010, new Uint8Array([9]));
    expect(bar[0x10]).toBe(9);
    expect(() => d.registerMmio(0xe0000800, new Uint8Array(16))).toThrow(/overlaps/);
    expect(() => d.readPhys(-1, 4)).toThrow(RangeError);
  });
});
