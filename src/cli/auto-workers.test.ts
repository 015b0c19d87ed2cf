import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { residentPagesOfPid } from "../linux/index.js";
import { type BufferPlan, planPages } from "./collect.js";
import { autoWorkers, PAGES_PER_WORKER } from "./workers.js";

const GiB_PAGES = 2 ** 18;

describe("the default worker count follows the work, not the CPUs", () => {
  it.each([
    // pages, processes, most workers, expected
    [0, 100, 8, 1],
    [3 * GiB_PAGES, 100, 8, 1], // 3 GiB: one thread (a worker's start costs more than it saves)
    [8 * GiB_PAGES, 100, 8, 2],
    [8 * GiB_PAGES, 1, 8, 1], // one process: one job, one thread
    [64 * GiB_PAGES, 3, 8, 3], // one worker per process at most
    [1024 * GiB_PAGES, 100, 8, 8],
    [1024 * GiB_PAGES, 100, 2, 2],
  ])("%i pages in %i processes, at most %i: %i", (pages, jobs, max, want) => {
    expect(PAGES_PER_WORKER).toBe(4 * GiB_PAGES);
    expect(autoWorkers(pages, jobs, max)).toBe(want);
  });

  it("a plan's pages are smaps' resident pages, or a range's whole length when it has none", () => {
    const plan: BufferPlan = {
      named: false,
      skipped: [],
      total: 0,
      jobs: [
        { pid: 1, comm: "a", vmaCount: 2, base: 0, ranges: [{ start: 0, end: 2 ** 30, resident: 10 }] },
        { pid: 2, comm: "b", vmaCount: 0, base: 0, ranges: [{ start: 0x1000, end: 0x5000 }] },
      ],
    };
    expect(planPages(plan)).toBe(14);
  });

  it("residentPagesOfPid reads statm's second field, and 0 for a missing or malformed file", () => {
    const root = mkdtempSync(join(tmpdir(), "phyr-statm-"));
    for (const [pid, text] of [
      ["10", "2048 512 100 1 0 300 0\n"],
      ["11", "garbage\n"],
      ["12", "1 -5 0 0 0 0 0\n"],
    ]) {
      mkdirSync(join(root, pid));
      writeFileSync(join(root, pid, "statm"), text);
    }
    expect(residentPagesOfPid(10, { procRoot: root })).toBe(512);
    expect(residentPagesOfPid(11, { procRoot: root })).toBe(0);
    expect(residentPagesOfPid(12, { procRoot: root })).toBe(0);
    expect(residentPagesOfPid(13, { procRoot: root })).toBe(0);
  });
});
