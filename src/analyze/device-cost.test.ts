import { describe, expect, it } from "vitest";
import { mergeRdmaCosts, nvmeCost, rdmaCosts } from "./device-cost.js";
import type { RunsInput } from "./types.js";

const runsOf = (rows: [number, number, number][]): RunsInput => ({
  count: rows.length,
  va: rows.map((r) => r[0]),
  pfn: rows.map((r) => r[1]),
  npages: rows.map((r) => r[2]),
});

describe("rdmaCosts (ib_umem_find_best_pgsz, hand-computed)", () => {
  it("VA 0x7f0000200000 / PA 0x200000, 4 MiB: VA and PA agree mod 1 GiB -> one 1 GiB block; any-size bitmap -> one 8 MiB block", () => {
    // mask = bitmap & GENMASK(63, bits_per(0x7f00005fffff ^ 0x7f0000200000) = 23) | (PA ^ VA = 0x7f0000000000)
    // 4K|2M|1G: lowest mask bit 30 -> 1G; (ALIGN(end, 1G) - ALIGN_DOWN(va, 1G)) / 1G = 1.
    // 4K..1G: lowest mask bit 23 -> 8M; (0x7f0000800000 - 0x7f0000000000) / 8M = 1.
    expect(rdmaCosts(runsOf([[0x7f0000200000, 0x200, 1024]]))).toEqual([
      {
        bitmap: "4K|2M|1G",
        pageSize: 2 ** 30,
        registrations: 1,
        bestPageSizes: [{ size: 2 ** 30, registrations: 1 }],
        entries: 1,
        entries4k: 1024,
      },
      {
        bitmap: "any 4K..1G",
        pageSize: 2 ** 23,
        registrations: 1,
        bestPageSizes: [{ size: 2 ** 23, registrations: 1 }],
        entries: 1,
        entries4k: 1024,
      },
    ]);
  });

  it("VA and PA disagree at bit 12 -> 4 KiB pages, one entry per page", () => {
    expect(rdmaCosts(runsOf([[0x7f0000200000, 0x201, 512]]))).toEqual([
      {
        bitmap: "4K|2M|1G",
        pageSize: 4096,
        registrations: 1,
        bestPageSizes: [{ size: 4096, registrations: 1 }],
        entries: 512,
        entries4k: 512,
      },
      {
        bitmap: "any 4K..1G",
        pageSize: 4096,
        registrations: 1,
        bestPageSizes: [{ size: 4096, registrations: 1 }],
        entries: 512,
        entries4k: 512,
      },
    ]);
  });

  it("a VA gap starts a new registration; entries add up, registrations are counted with each one's best page size", () => {
    const c = rdmaCosts(
      runsOf([
        [0x7f0000200000, 0x200, 1024],
        [0x7f0001000000, 0x999, 2],
      ]),
    );
    // Second MR: VA 0x7f0001000000, PA 0x999000: differ at bit 12 -> 4K, 2 entries.
    // "Best page 4 KiB" with 3 entries for 1,026 pages is no contradiction: 2 registrations, one
    // on a 1 GiB block and one on 4 KiB pages.
    expect(c[0]).toEqual({
      bitmap: "4K|2M|1G",
      pageSize: 4096,
      registrations: 2,
      bestPageSizes: [
        { size: 4096, registrations: 1 },
        { size: 2 ** 30, registrations: 1 },
      ],
      entries: 1 + 2,
      entries4k: 1026,
    });
    // Summing two buffers adds registrations per best size.
    const t = mergeRdmaCosts(c, c);
    expect(t[0].registrations).toBe(4);
    expect(t[0].bestPageSizes).toEqual([
      { size: 4096, registrations: 2 },
      { size: 2 ** 30, registrations: 2 },
    ]);
    expect(c[0].registrations).toBe(2);
  });

  it("no runs: no registrations", () => {
    expect(rdmaCosts(runsOf([]))).toEqual([]);
  });
});

describe("nvmeCost (nvme_pci_setup_prps / nvme_pci_setup_sgls, hand-computed)", () => {
  it("1 MiB from one contiguous run: 256 PRP entries (PRP1 + a 255-entry list page), 1 SGL descriptor", () => {
    expect(nvmeCost(runsOf([[0x7f0000000000, 0x1000, 1024]]))).toEqual({
      ioBytes: 1048576,
      prpEntries: 256,
      prpChains: 0,
      prpListBytes: 4096,
      sglDescriptors: 1,
      sglBytes: 16,
      sglListBytes: 0,
    });
  });

  it("8 KiB in two runs: PRP1 + PRP2 with no list; two SGL data descriptors", () => {
    const c = nvmeCost(
      runsOf([
        [0x1000, 0x10, 1],
        [0x2000, 0x20, 1],
      ]),
    );
    expect(c).toMatchObject({ ioBytes: 8192, prpEntries: 2, prpListBytes: 0, sglDescriptors: 2 });
  });

  it("no runs: no I/O", () => {
    expect(nvmeCost(runsOf([]))).toBeNull();
  });
});
