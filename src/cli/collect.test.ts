import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { capture, liveSource, loadSnapshot } from "../linux/index.js";
import { collectBuffers, machineInput } from "./collect.js";
import { noProgress, type Progress } from "./io.js";

describe("collectBuffers progress", () => {
  it("counts MiB of virtual range read: starts at the resident VMAs' total and ends there", async () => {
    const fixture = resolve(import.meta.dirname, "../linux/fixtures/vm-root");
    const file = join(mkdtempSync(join(tmpdir(), "phyr-collect-")), "s.ndjson");
    await capture({
      out: file,
      pids: "all",
      procRoot: join(fixture, "proc"),
      sysRoot: join(fixture, "sys"),
    });
    const src = await loadSnapshot(file);
    const calls: string[] = [];
    const rec: Progress = {
      start: (t, what) => calls.push(`start ${t} ${what}`),
      update: (d) => calls.push(`update ${d}`),
      stop: () => calls.push("stop"),
    };
    const [b] = collectBuffers(src, { pids: [], all: true }, rec);
    // The resident VMAs' lengths, summed here from the snapshot's VMA list.
    const bytes = src
      .vmas(9803)
      .filter((v) => v.rss > 0 || v.hugetlb > 0)
      .reduce((t, v) => t + v.end - v.start, 0);
    expect(b.vaLength).toBe(bytes);
    const mib = Math.ceil(bytes / 2 ** 20);
    expect(calls[0]).toBe(`start ${mib} reading memory (MiB)`);
    expect(calls.slice(-2)).toEqual([`update ${mib}`, "stop"]);
    src.close();
  });
});

const live = process.platform === "linux" && process.getuid?.() === 0;

describe.skipIf(!live)("collectBuffers on the live machine", () => {
  it("a named process without user memory (kthreadd, pid 2) gives an empty buffer, not an error", () => {
    const src = liveSource();
    try {
      const [b] = collectBuffers(src, { pids: [2], all: false }, noProgress);
      expect(b).toMatchObject({ pid: 2, pages: 0, runs: 0, nvme: null });
      expect(b.formats.every((f) => f.bytes === 0)).toBe(true);
    } finally {
      src.close();
    }
  });

  it("this process's own memory is read: pages > 0 and machine facts are filled", () => {
    const src = liveSource();
    try {
      const [b] = collectBuffers(src, { pids: [process.pid], all: false }, noProgress);
      expect(b.pages).toBeGreaterThan(0);
      expect(b.runs).toBeGreaterThan(0);
      expect(b.runs).toBeLessThanOrEqual(b.pages);
      const m = machineInput(src, "live");
      expect(m.pageSize).toBe(4096);
      expect(m.iomem.length).toBeGreaterThan(0);
      expect(m.access.pfns).toBe(true);
    } finally {
      src.close();
    }
  });
});
