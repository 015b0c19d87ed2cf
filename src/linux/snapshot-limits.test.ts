/**
 * The loader's limits and its error locations: limits that are not positive integers are refused,
 * counts past a limit stop the load at the record that passes it (before its work) naming the
 * option, a bad run is named at its runs record, and memory grows linearly with the snapshot.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { LimitExceeded } from "../core/index.js";
import { PageRuns } from "../machine/index.js";
import { LOAD_LIMITS, loadSnapshot } from "./snapshot-read.js";
import { clipRuns } from "./source.js";

const dir = mkdtempSync(join(tmpdir(), "phyr-limits-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hx = (n: number) => `0x${n.toString(16)}`;

/** A valid snapshot of one process with `nVmas` one-page VMAs, each with one run. */
function snapshotText(nVmas: number, run: { pfn?: number; flags?: number } = {}): string {
  const lines: object[] = [
    {
      type: "header",
      format: "phyr-snapshot",
      version: 1,
      capturedAt: "2025-01-01T00:00:00Z",
      kernel: { release: "6.18", version: "Linux version 6.18", hostname: "h", pageSize: 4096 },
      anonymized: false,
      access: {
        pagemapFrames: "readable",
        kpageflags: "readable",
        iomemAddresses: "readable",
        capSysAdmin: true,
        messages: [],
      },
    },
    { type: "iomem", resources: [] },
    { type: "pci", devices: [] },
    { type: "iommu", units: [], groups: [] },
    { type: "process", pid: 7, comm: "x", cmdline: "x" },
  ];
  for (let i = 0; i < nVmas; i++) {
    const s = 0x10000000 + i * 0x2000;
    lines.push({
      type: "vma",
      pid: 7,
      start: hx(s),
      end: hx(s + 0x1000),
      perms: "rw-p",
      offset: 0,
      dev: "00:00",
      inode: 0,
      path: "",
      size: 4096,
      rss: 4096,
      pss: 4096,
      anonymous: 4096,
      anonHugePages: 0,
      swap: 0,
      locked: 0,
      hugetlb: 0,
      kernelPageSize: 4096,
      thpEligible: false,
      vmFlags: ["rd", "wr"],
      pages: { present: 1, swapped: 0, unmapped: 0, hidden: 0 },
      runs: 1,
    });
    lines.push({
      type: "runs",
      pid: 7,
      vma: hx(s),
      va: [hx(s)],
      pfn: [hx(run.pfn ?? 0x1000 + i)],
      npages: [1],
      flags: [run.flags ?? 1],
      kind: [1],
    });
  }
  lines.push({ type: "end", records: lines.length });
  return `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`;
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("loadSnapshot() limits", () => {
  it.each([
    ["maxLineBytes", Number.NaN],
    ["maxLineBytes", 0],
    ["maxTotalBytes", -1],
    ["maxVmas", 1.5],
    ["maxRuns", Number.POSITIVE_INFINITY],
    ["maxProcesses", "10"],
  ])("%s = %s is a RangeError naming it, before the file is opened", async (name, value) => {
    await expect(loadSnapshot(join(dir, "never-opened"), { [name]: value })).rejects.toThrow(
      new RegExp(`^${name} .* is invalid: expected a positive integer`),
    );
    await expect(loadSnapshot(join(dir, "never-opened"), { [name]: value })).rejects.toBeInstanceOf(
      RangeError,
    );
  });

  it("a count past its limit stops the load at that record with a LimitExceeded naming the option", async () => {
    const p = file("ten.jsonl", snapshotText(10));
    expect((await loadSnapshot(p, { maxVmas: 10 })).vmas(7)).toHaveLength(10);
    const e = await loadSnapshot(p, { maxVmas: 3 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LimitExceeded);
    expect(e).toMatchObject({ limit: "maxVmas", max: 3 });
    // Record 12 is the fourth VMA record (header, iomem, pci, iommu, process, then vma/runs pairs).
    expect((e as Error).message).toBe(
      "ten.jsonl:12: more than 3 VMAs: above the limit maxVmas (raise it with the maxVmas option)",
    );
    await expect(loadSnapshot(p, { maxRuns: 4 })).rejects.toMatchObject({ limit: "maxRuns" });
    await expect(loadSnapshot(p, { maxProcesses: 1 })).resolves.toBeDefined();
    expect(LOAD_LIMITS.maxVmas).toBe(4_000_000);
  });

  it("a bad run is named at its runs record and field, with the record number printed once", async () => {
    const beyond = await loadSnapshot(file("pfn.jsonl", snapshotText(1, { pfn: 2 ** 40 }))).catch(
      (x: unknown) => x,
    );
    expect((beyond as Error).message).toBe("pfn.jsonl:7.pfn.0: frames 0x10000000000+1 reach beyond 2^40");
    const absent = await loadSnapshot(file("flags.jsonl", snapshotText(1, { flags: 2 }))).catch(
      (x: unknown) => x,
    );
    expect((absent as Error).message).toBe("flags.jsonl:7.flags.0: 2 lacks the present bit (1)");
  });
});

describe("loading grows linearly", () => {
  it("retained memory for 4x the VMAs is 2.5x to 6x (measured after full GCs)", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const small = file("s.jsonl", snapshotText(5000));
    const large = file("l.jsonl", snapshotText(20000));
    // Warm-up on a tiny file (schemas compiled, code optimised; its result may outlive a GC).
    await loadSnapshot(file("w.jsonl", snapshotText(100)));
    const used = () => {
      gc();
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const base = used();
    const a = await loadSnapshot(small);
    const afterA = used();
    const b = await loadSnapshot(large);
    const afterB = used();
    expect(a.vmas(7)).toHaveLength(5000);
    expect(b.vmas(7)).toHaveLength(20000);
    const ratio = (afterB - afterA) / (afterA - base);
    expect(ratio).toBeGreaterThan(2.5);
    expect(ratio).toBeLessThan(6);
  }, 60_000);

  it("clipping one VMA of many reads O(log parts) parts, not all of them (work counted)", () => {
    const n = 20000;
    const parts = Array.from({ length: n }, (_, i) => {
      const r = new PageRuns(i * 0x2000, i * 0x2000 + 0x1000, 1);
      r.push(i * 0x2000, 0x100 + i, 1, 1);
      r.presentPages = 1;
      return r;
    });
    let reads = 0;
    const counted = new Proxy(parts, {
      get(t, k, rcv) {
        if (typeof k === "string" && /^\d+$/.test(k)) reads++;
        return Reflect.get(t, k, rcv);
      },
    });
    const r = clipRuns(counted, 12345 * 0x2000, 12345 * 0x2000 + 0x1000);
    r.checkValid();
    expect([r.count, r.pfn[0]]).toEqual([1, 0x100 + 12345]);
    // A binary search (about 15 probes) plus the part itself and the one after it.
    expect(reads).toBeLessThan(40);
  });
});
