import { describe, expect, it } from "vitest";
import { liveSource } from "../linux/index.js";
import { collectBuffers, machineInput } from "./collect.js";
import { noProgress } from "./io.js";

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
