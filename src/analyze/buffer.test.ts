import { describe, expect, it } from "vitest";
import { VFIO_BATCH_MAX_CAPACITY } from "../core/index.js";
import { analyzeBuffer, backingPages, sumBuffers, vfioWork } from "./buffer.js";
import { mergeContiguousRuns } from "./runs.js";
import type { BufferInput, RunsInput } from "./types.js";
import { verdict } from "./verdict.js";
import { whatIf } from "./what-if.js";

const P = 4096;
/** Six single pages two pages apart, then two 2 MiB THPs back to back (VA and frames). */
const runs: RunsInput = {
  count: 8,
  va: [0, 2, 4, 6, 8, 10, 16, 528].map((page) => 0x7f0000000000 + page * P),
  pfn: [0x1100, 0x1200, 0x1300, 0x1400, 0x1500, 0x1600, 0x20000, 0x20200],
  npages: [1, 1, 1, 1, 1, 1, 512, 512],
  kind: [1, 1, 0, 1, 4, 1, 2, 3],
};
const input: BufferInput = {
  label: "7 t",
  pid: 7,
  comm: "t",
  vaStart: 0x7f0000000000,
  vaLength: 1040 * P,
  runs,
  swapped: 0,
  unmapped: 0,
};

describe("analyzeBuffer figures the terminal summary needs without the run map", () => {
  it("backing pages sum the merged runs by kind, a merge of two kinds counting as mixed", () => {
    // The two THP-sized runs continue each other (VA and frames): merged, kinds 2 and 3 differ.
    expect(backingPages(mergeContiguousRuns(runs))).toEqual({
      unknown: 1,
      base: 4,
      thp: 0,
      hugetlb: 0,
      zero: 1,
      mixed: 1024,
    });
  });

  it("VFIO work: one registration per VA-contiguous group, ceil(pages / 512) pin batches in each", () => {
    expect(VFIO_BATCH_MAX_CAPACITY).toBe(512);
    // Groups: six single pages, then pages 16..1039 (1024 pages: two batches).
    expect(vfioWork(runs)).toEqual({ registrations: 7, pinBatches: 8 });
    expect(vfioWork({ count: 1, va: [0], pfn: [1], npages: [513] })).toEqual({
      registrations: 1,
      pinBatches: 2,
    });
    expect(vfioWork({ count: 0, va: [], pfn: [], npages: [] })).toEqual({ registrations: 0, pinBatches: 0 });
  });

  it("leaves the run map out when asked and changes nothing else; verdict and what-if need no run map", () => {
    const full = analyzeBuffer(input);
    const bare = analyzeBuffer(input, { runMap: false });
    expect(full.runMap?.count).toBe(7);
    expect(bare.runMap).toBeUndefined();
    const { runMap: _map, ...rest } = full;
    expect(bare).toEqual(rest);
    const total = sumBuffers([bare, bare]);
    expect(total.backing.mixed).toBe(2048);
    expect(total.vfio).toEqual({ registrations: 14, pinBatches: 16 });
    expect(verdict({ total, buffers: [bare] }).shareThp).toBe(0);
    expect(whatIf([bare])[0].vfio.kernel.pinCalls).toBe(8);
    expect(whatIf([bare])[0].registrations).toBe(7);
  });
});
