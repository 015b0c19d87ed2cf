/**
 * Real tracefs text from the kernel lab (lab/fixtures/*.json, field `trace`: Debian's 7.2 kernel
 * under QEMU with VT-d and NVMe). Expected values come from each record's own description of the
 * run (its `ops`: O_DIRECT I/O sizes; its `buffers`: the physical runs the workload read from its
 * pagemap; the device's max_sectors_kb), not from running this code: with max_sectors_kb 128,
 * every I/O of L bytes becomes L / 128 KiB requests, and on the 7.2 IOVA API each request's
 * physically contiguous pieces are one iommu_map each (drivers/iommu/dma-iommu.c
 * dma_iova_link -> iommu_map_nosync per contiguous range).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseTrace } from "./parse.js";
import { summarizeTrace } from "./summary.js";

const DIR = resolve(import.meta.dirname, "../../lab/fixtures");

interface LabRecord {
  trace: string;
  ops: { buffer: number; offset: number; length: number }[];
  buffers: { id: number; runs: { pfn: string; pages: number }[] }[];
  device: { pci: string; queue: { max_sectors_kb: number } };
}

function record(name: string): LabRecord {
  return JSON.parse(readFileSync(join(DIR, `${name}.json`), "utf8")) as LabRecord;
}

/** Per request: the number of physically contiguous pieces of its bytes (from the buffer's runs). */
function requestPieces(rec: LabRecord): number[] {
  const req = rec.device.queue.max_sectors_kb * 1024;
  const out: number[] = [];
  for (const op of rec.ops) {
    const buf = rec.buffers.find((b) => b.id === op.buffer);
    if (buf === undefined) throw new Error(`op names buffer ${op.buffer}, not in the record`);
    // The buffer's pages in VA order as frame numbers.
    const pfns = buf.runs.flatMap((r) => Array.from({ length: r.pages }, (_, i) => Number(r.pfn) + i));
    for (let at = op.offset; at < op.offset + op.length; at += req) {
      const first = at / 4096;
      const pages = pfns.slice(first, first + req / 4096);
      let pieces = 1;
      for (let i = 1; i < pages.length; i++) if (pages[i] !== pages[i - 1] + 1) pieces++;
      out.push(pieces);
    }
  }
  return out;
}

describe("lab traces (Debian 7.2 under QEMU, VT-d + NVMe)", () => {
  const names = readdirSync(DIR)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5));

  it.each(names)("%s: every line is read (no malformed line, nothing lost)", (name) => {
    const t = parseTrace(record(name).trace, name);
    expect(t.malformed).toBe(0);
    expect(t.lost).toBe(0);
    expect(t.tracer).toBe("nop");
    // entries-in-buffer/entries-written of the header = the events read.
    expect(t.entries).toEqual([t.events.length, t.events.length]);
    expect(t.events.filter((e) => e.kind === "other")).toEqual([]);
  });

  it("nvme-scattered4k: one iommu_map per scattered page on the IOVA API; the design maps each request's list once", () => {
    const rec = record("nvme-scattered4k");
    const t = parseTrace(rec.trace, "nvme-scattered4k");
    const pieces = requestPieces(rec);
    const s = summarizeTrace(t);
    expect(s.devices).toHaveLength(1);
    const d = s.devices[0];
    // No dma: event at all on 7.2 for multi-segment NVMe requests; the controller is named by its commands.
    expect(d.device).toBe("nvme0");
    expect(d.kernel.mapCalls).toEqual({ sg: 0, phys: 0, page: 0, resource: 0, alloc: 0 });
    expect(d.kernel.iovaRuns).toBe(pieces.length);
    expect(d.kernel.iommuMapCalls).toBe(pieces.reduce((a, b) => a + b, 0));
    expect(d.kernel.iommuAttributed).toEqual({
      byEvent: 0,
      nvmeCommand: d.kernel.iommuMapCalls,
      onlyDevice: 0,
    });
    expect(d.design.lists).toBe(pieces.length);
    expect(d.design.rangeEntries).toBe(pieces.reduce((a, b) => a + b, 0));
    expect(d.design.iommuMapCalls).toBe(pieces.length);
  });

  it("nvme-hugetlb: 128 KiB requests from one 2 MiB page map as 128 KiB calls of 4 KiB leaves, never a 2 MiB leaf", () => {
    const rec = record("nvme-hugetlb");
    const t = parseTrace(rec.trace, "nvme-hugetlb");
    const pieces = requestPieces(rec);
    expect(pieces.every((p) => p === 1)).toBe(true);
    const d = summarizeTrace(t).devices[0];
    expect(d.device).toBe(rec.device.pci);
    expect(d.kernel.iommuMapCalls).toBe(pieces.length);
    expect(d.kernel.iommuBytes).toBe(pieces.length * 131072);
    expect(d.kernel.leaves).toEqual([{ size: 4096, count: pieces.length * 32 }]);
    // Every request is either a dma_map_phys (one segment) or an IOVA-API run: together all requests.
    expect(d.kernel.mapCalls.phys + d.kernel.iovaRuns).toBe(pieces.length);
    expect(d.design).toMatchObject({
      lists: pieces.length,
      rangeEntries: pieces.length,
      iommuMapCalls: pieces.length,
    });
  });
});
