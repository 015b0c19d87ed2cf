/**
 * Parses the trees captured from the development VM (fixtures/vm-root as root, fixtures/vm-user as
 * nobody; see fixtures/capture.py) and a hand-written bridge tree. Every expected value below was
 * read off the fixture text by hand (pagemap words via a hex dump), not produced by this code.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RunFlag, RunKind } from "../machine/index.js";
import { probeAccess, ROOT_HINT } from "./access.js";
import { findIomem, iomemAddressesHidden, readIomem, walkIomem } from "./iomem.js";
import { classifyRuns, parseKpageflagsExtract, readKpageflags } from "./kpageflags.js";
import { readMaps, readSmaps } from "./maps.js";
import { readPagemapRuns } from "./pagemap.js";
import { readIommus, readPciDevices } from "./pci.js";
import { readCapSysAdmin, readKernelInfo, readProcesses } from "./processes.js";

const fx = (p: string) => fileURLToPath(new URL(`./fixtures/${p}`, import.meta.url));
const ROOT = { procRoot: fx("vm-root/proc"), sysRoot: fx("vm-root/sys") };
const USER = { procRoot: fx("vm-user/proc"), sysRoot: fx("vm-user/sys") };
const ROOT_PID = 9803;
const USER_PID = 9875;
const P = RunFlag.PRESENT;
const PE = RunFlag.PRESENT | RunFlag.EXCLUSIVE;
const extract = () => parseKpageflagsExtract(readFileSync(fx("vm-root/kpageflags.extract"), "utf8"));

function rows(r: ReturnType<typeof readPagemapRuns>): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < r.count; i++) out.push([r.va[i], r.pfn[i], r.npages[i], r.flags[i], r.kind[i]]);
  return out;
}

describe("readIomem() on the captured /proc/iomem", () => {
  it("finds the 9 top-level entries and 27 resources in all", () => {
    const tree = readIomem(ROOT);
    expect(tree.map((r) => r.name)).toEqual([
      "Reserved",
      "System RAM",
      "Reserved",
      "System RAM",
      "PCI Bus 0000:00",
      "Reserved",
      "IOAPIC 0",
      "System RAM",
      "PCI Bus 0000:00",
    ]);
    let n = 0;
    walkIomem(tree, () => n++);
    expect(n).toBe(27);
    expect(tree[7]).toMatchObject({ start: 0x100000000, end: 0x63fffffff, depth: 0 });
  });

  it("nests kernel code under RAM and the ECAM bus two levels deep", () => {
    const tree = readIomem(ROOT);
    expect(tree[3].children.map((c) => c.name)).toEqual([
      "Kernel code",
      "Kernel rodata",
      "Kernel data",
      "Kernel bss",
    ]);
    expect(tree[3].children[0]).toMatchObject({ start: 0x1000000, end: 0x2209987, depth: 1 });
    const ecam = tree[5].children[0];
    expect(ecam).toMatchObject({ name: "PCI ECAM 0000 [bus 00-00]", start: 0xeec00000, end: 0xeecfffff });
    expect(ecam.children[0]).toMatchObject({
      name: "PCI Bus 0000:00",
      start: 0xeec00000,
      end: 0xeecfffff,
      depth: 2,
    });
    expect(findIomem(tree, 0x4000200010)?.name).toBe("virtio-pci-modern");
    expect(findIomem(tree, 0x4000200010)?.start).toBe(0x4000200000);
    expect(tree[8].children.length).toBe(5);
    expect(iomemAddressesHidden(tree)).toBe(false);
  });

  it("reads the same tree with every address 0 as nobody", () => {
    const tree = readIomem(USER);
    expect(tree.length).toBe(9);
    expect(tree[3].children[0]).toMatchObject({ name: "Kernel code", start: 0, end: 0 });
    expect(iomemAddressesHidden(tree)).toBe(true);
  });
});

describe("readMaps() / readSmaps() on the captured process", () => {
  it("lists 54 VMAs (the [vsyscall] line above 2^52 left out)", () => {
    const vmas = readMaps(ROOT_PID, ROOT);
    expect(vmas.length).toBe(54);
    expect(vmas[0]).toEqual({
      start: 0x100000,
      end: 0x140000,
      perms: "rw-p",
      offset: 0,
      dev: "00:00",
      inode: 0,
      path: "",
    });
    expect(vmas[2]).toEqual({
      start: 0x400000,
      end: 0x41f000,
      perms: "r--p",
      offset: 0,
      dev: "fe:00",
      inode: 260811,
      path: "/usr/bin/python3.11",
    });
    expect(vmas[53].path).toBe("[stack]");
  });

  it("gives Rss and AnonHugePages in bytes", () => {
    const s = readSmaps(ROOT_PID, ROOT);
    expect(s.length).toBe(54);
    expect(s[0]).toMatchObject({ size: 256 * 1024, rss: 96 * 1024, anonHugePages: 0, thpEligible: false });
    expect(s[1]).toMatchObject({ start: 0x200000, rss: 2 << 20, anonHugePages: 2 << 20, thpEligible: true });
    expect(s[1].vmFlags).toContain("hg");
    expect(readSmaps(USER_PID, USER)[1].anonHugePages).toBe(2 << 20);
  });
});

describe("readPagemapRuns() on the captured pagemap", () => {
  it("forms page-types runs over region B (written, zero-page and untouched pages)", () => {
    const r = readPagemapRuns(ROOT_PID, 0x100000, 0x140000, { ...ROOT, batchEntries: 5 });
    r.checkValid();
    const zero = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => [0x110000 + i * 0x1000, 0x3b34, 1, P, 0]);
    expect(rows(r)).toEqual([
      [0x100000, 0x12e2ef, 1, PE, 0],
      [0x101000, 0x14cce0, 8, PE, 0],
      [0x109000, 0x15c3a0, 7, PE, 0],
      ...zero,
      [0x120000, 0x15c3a7, 1, PE, 0], // frame continues 0x10f000's but the VA does not
      [0x121000, 0x11ff80, 7, PE, 0],
    ]);
    expect([r.presentPages, r.unmappedPages, r.swappedPages, r.hiddenPages]).toEqual([32, 32, 0, 0]);
  });

  it("reads the THP region as one 512-page run and counts the hole between as unmapped", () => {
    const r = readPagemapRuns(ROOT_PID, 0x100000, 0x400000, ROOT);
    r.checkValid();
    expect(r.count).toBe(14);
    expect(rows(r)[13]).toEqual([0x200000, 0x218000, 512, PE, 0]);
    expect([r.presentPages, r.unmappedPages]).toEqual([544, 224]);
  });

  it("merges hidden frames by virtual contiguity only and flags them hidden", () => {
    const r = readPagemapRuns(USER_PID, 0x100000, 0x140000, USER);
    r.checkValid();
    expect(rows(r)).toEqual([
      [0x100000, 0, 16, PE, 0],
      [0x110000, 0, 8, P, 0],
      [0x120000, 0, 8, PE, 0],
    ]);
    expect(r.hiddenPages).toBe(32);
    expect(r.framesHidden).toBe(true);
  });

  it("rejects a range past the end of the captured file with a ParseError naming the file", () => {
    expect(() => readPagemapRuns(ROOT_PID, 0x400000, 0x401000, ROOT)).toThrow(
      /pagemap: file ends at byte 0x2000/,
    );
  });
});

describe("kpageflags extract", () => {
  it("reads flags of frames in any order", () => {
    const w = readKpageflags([0x218001, 0x3b34, 0x218000], extract());
    expect(Array.from(w)).toEqual([0x00415828, 0x4, 0x01000000, 0x1, 0x0040d828, 0x4]);
  });

  it("classifies the THP, zero-page and base runs", () => {
    const r = classifyRuns(readPagemapRuns(ROOT_PID, 0x100000, 0x400000, ROOT), extract());
    r.checkValid();
    expect(r.count).toBe(14);
    expect(Array.from(r.kind.subarray(0, 14))).toEqual([1, 1, 1, 4, 4, 4, 4, 4, 4, 4, 4, 1, 1, 2]);
    expect(r.pagesOfKind(RunKind.THP)).toBe(512);
    expect(r.pagesOfKind(RunKind.ZERO)).toBe(8);
  });

  it("splits a run that crosses a folio head", () => {
    // 0x217fff is not in the extract; start one page into the THP and end in the middle.
    const r = classifyRuns(readPagemapRuns(ROOT_PID, 0x201000, 0x300000, ROOT), extract());
    expect(rows(r)).toEqual([[0x201000, 0x218001, 255, PE, RunKind.THP]]);
  });
});

describe("readPciDevices() / readIommus()", () => {
  it("reads the six virtio/host-bridge functions on the root bus", () => {
    const devs = readPciDevices(ROOT);
    expect(devs.map((d) => d.bdf)).toEqual([
      "0000:00:00.0",
      "0000:00:01.0",
      "0000:00:02.0",
      "0000:00:03.0",
      "0000:00:04.0",
      "0000:00:05.0",
    ]);
    expect(devs[0]).toEqual({
      bdf: "0000:00:00.0",
      vendor: 0x8086,
      device: 0x0d57,
      class: 0x060000,
      resources: [],
      iommuGroup: -1,
      hostBridge: "pci0000:00",
      upstream: [],
    });
    expect(devs[1]).toMatchObject({ vendor: 0x1af4, device: 0x1045, class: 0xffff00 });
    expect(devs[1].resources).toEqual([
      { index: 0, start: 0x4000000000, end: 0x400007ffff, flags: 0x140204 },
    ]);
    expect(devs[3]).toMatchObject({ class: 0x020000, device: 0x1041 });
    expect(readIommus(ROOT)).toEqual({ units: [], groups: [] });
  });

  it("follows symlinks to upstream bridges and IOMMU groups (hand-written tree)", () => {
    const sys = { sysRoot: fx("synthetic-bridge/sys") };
    const devs = readPciDevices(sys);
    expect(devs[0]).toMatchObject({ bdf: "0000:00:01.0", class: 0x060400, iommuGroup: 3, upstream: [] });
    expect(devs[0].resources).toEqual([{ index: 13, start: 0xfe000000, end: 0xfe0fffff, flags: 0x200 }]);
    expect(devs[1]).toMatchObject({
      bdf: "0000:01:00.0",
      vendor: 0x144d,
      class: 0x010802,
      iommuGroup: 7,
      upstream: ["0000:00:01.0"],
    });
    expect(readIommus(sys)).toEqual({
      units: ["dmar0"],
      groups: [
        { id: 3, devices: ["0000:00:01.0"] },
        { id: 7, devices: ["0000:01:00.0"] },
      ],
    });
  });
});

describe("processes, kernel and access", () => {
  it("reads the kernel release and the captured process", () => {
    expect(readKernelInfo(ROOT)).toMatchObject({
      release: "6.18.44-fc-v657",
      hostname: "vm",
      pageSize: 4096,
    });
    expect(readProcesses(ROOT)).toEqual([
      { pid: ROOT_PID, comm: "python3", cmdline: "/usr/bin/python3 -S -I capture.py vm-root" },
    ]);
    expect(readCapSysAdmin(ROOT_PID, ROOT)).toBe(true);
    expect(readCapSysAdmin(USER_PID, USER)).toBe(false);
  });

  it("says what is missing as nobody, and how to get it", () => {
    const a = probeAccess({ ...USER, pid: USER_PID });
    expect(a).toMatchObject({
      pagemapFrames: "hidden",
      kpageflags: "unreadable",
      iomemAddresses: "hidden",
      capSysAdmin: false,
    });
    expect(a.messages.length).toBe(3);
    for (const m of a.messages) expect(m).toContain(ROOT_HINT);
    expect(a.messages[0]).toContain("THP share");
  });

  it("reports frames and iomem readable as root", () => {
    const a = probeAccess({ ...ROOT, pid: ROOT_PID });
    expect(a).toMatchObject({ pagemapFrames: "readable", iomemAddresses: "readable", capSysAdmin: true });
  });
});
