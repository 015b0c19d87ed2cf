import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { replayLabRecord } from "./replay.js";

/** A committed kernel lab record (lab/fixtures, real Debian 7.2.13 runs under QEMU with VT-d). */
function record(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../lab/fixtures/${name}.json`, import.meta.url), "utf8"));
}

/** The record with its trace text edited line by line. */
function withTrace(r: Record<string, unknown>, edit: (lines: string[]) => string[]): Record<string, unknown> {
  return { ...r, trace: edit(String(r.trace).split("\n")).join("\n") };
}

describe("replayLabRecord reproduces the kernel lab's 7.2.13 traces", () => {
  test("nvme-hugetlb: every request of the 2 MiB and 1 MiB ops agrees", () => {
    const r = replayLabRecord(record("nvme-hugetlb"));
    expect(r.kernel).toBe("7.2.13+deb14-amd64");
    expect(r.release).toBe("7.2");
    // 2 MiB write + read at 128 KiB (max_sectors_kb 128): 16 + 16; 1 MiB write + read: 8 + 8.
    expect([r.requests, r.reproduced, r.mismatches]).toEqual([48, 48, []]);
    for (const d of r.details) {
      expect(d.bytes).toBe(131072);
      // Each request one iommu_map of 128 KiB: 32 leaves of 4 KiB (no 2 MiB leaf).
      expect([d.iommuMaps, d.leaves]).toEqual([1, { "4096": 32 }]);
    }
  });

  test("nvme-hugetlb: the last 128 KiB of the 2 MiB op takes the IOVA path, the others dma_map_phys", () => {
    // 7.2 iov_iter_extract_bvecs: a 256-vector bio extracts 256 pages (one 1 MiB bvec), then 255
    // (1020 KiB), then 1 (4 KiB); the request at 1920 KiB spans the last two bvecs, so it has two
    // physical segments and nvme_map_data uses the DMA iterator: one dma_iova_link, no dma_map_phys.
    const r = replayLabRecord(record("nvme-hugetlb"));
    const op0 = r.details.filter((d) => d.op === 0);
    expect(op0.map((d) => d.path)).toEqual([...Array(15).fill("simple"), "iova"]);
    expect(r.details.filter((d) => d.op === 2).every((d) => d.path === "simple")).toBe(true);
  });

  test("nvme-scattered4k: 32 iommu_map calls of 4 KiB per 128 KiB request, one IOVA each", () => {
    const r = replayLabRecord(record("nvme-scattered4k"));
    expect([r.requests, r.reproduced, r.mismatches]).toEqual([16, 16, []]);
    for (const d of r.details) {
      expect([d.path, d.iommuMaps, d.leaves]).toEqual(["iova", 32, { "4096": 32 }]);
    }
  });

  test("departures name what the trace cannot show", () => {
    const r = replayLabRecord(record("nvme-scattered4k"));
    expect(r.departures.join("\n")).toMatch(/IOVA placement/);
    expect(r.departures.join("\n")).toMatch(/PRP\/SGL flags/);
  });
});

describe("replayLabRecord leaves coherent allocations out of a request's mappings", () => {
  test("an iommu_map made by dma_alloc (the descriptor pool growing) is not a data mapping", () => {
    // As the lab's nvme-nosgl run traced it: dma_pool_alloc -> dma_alloc_coherent maps a page for a
    // PRP list page inside the first request, then the dma_alloc tracepoint.
    const base = record("nvme-scattered4k");
    const r = replayLabRecord(
      withTrace(base, (ls) => {
        const i = ls.findIndex((l) => l.includes("nvme_setup_cmd:") && l.includes("slba=0,"));
        return [
          ...ls.slice(0, i + 2),
          "    kworker/0:0H-10      [000] .l...    16.763300: map: IOMMU: iova=0x00000000fffdd000 - 0x00000000fffde000 paddr=0x0000000004231000 size=4096",
          "    kworker/0:0H-10      [000] .l...    16.763301: dma_alloc: 0000:00:01.0 dir=BIDIRECTIONAL dma_addr=fffdd000 size=4096 virt_addr=(____ptrval____) flags=GFP_ATOMIC attrs=",
          ...ls.slice(i + 2),
        ];
      }),
    );
    expect([r.requests, r.reproduced, r.mismatches]).toEqual([16, 16, []]);
    expect(r.departures.join("\n")).toMatch(/1 coherent allocation/);
  });
});

describe("replayLabRecord checks the data pointer against QEMU's controller trace when recorded", () => {
  /** A device trace naming, for each traced NVMe I/O command, the data pointer `ptr(i)`. */
  function withDevice(r: Record<string, unknown>, ptr: (i: number) => string): Record<string, unknown> {
    const cids = [...String(r.trace).matchAll(/nvme_setup_cmd: .*qid=1, cmdid=(\d+),/g)].map((m) => m[1]);
    const lines = cids.flatMap((cid, i) => [
      `pci_nvme_io_cmd cid ${cid} nsid 0x1 sqid 1 opc 0x1 opname 'NVME_NVM_CMD_WRITE'`,
      ptr(i),
    ]);
    return { ...r, deviceTrace: `${lines.join("\n")}\n` };
  }
  // 7.2 drivers/nvme/host/pci.c: a 128 KiB request linked into one IOVA is coalesced, so
  // nvme_pci_avg_seg_size is 128 KiB >= sgl_threshold 32 KiB and nvme_pci_setup_data_sgl puts one
  // data block descriptor (type 0) in the command.
  test("scattered 4 KiB pages: every command an SGL data block in the command", () => {
    const r = replayLabRecord(
      withDevice(record("nvme-scattered4k"), () => "pci_nvme_map_sgl type 0x0 len 131072"),
    );
    expect([r.requests, r.reproduced, r.mismatches]).toEqual([16, 16, []]);
    expect(r.departures.join("\n")).toMatch(/compared with QEMU's NVMe controller trace/);
  });
  test("a command read as PRPs, or as an SGL list, is a mismatch", () => {
    const r = replayLabRecord(
      withDevice(record("nvme-scattered4k"), (i) =>
        i === 0
          ? "pci_nvme_map_prp trans_len 4096 len 131072 prp1 0xfffc0000 prp2 0x1000 num_prps 33"
          : i === 1
            ? "pci_nvme_map_sgl type 0x3 len 131072"
            : "pci_nvme_map_sgl type 0x0 len 131072",
      ),
    );
    expect(r.reproduced).toBe(14);
    expect(r.mismatches.map((m) => [m.request, m.what, m.kernel, m.model])).toEqual([
      [0, "dataPtr", '"prp"', '"sgl type 0"'],
      [256, "dataPtr", '"sgl type 3"', '"sgl type 0"'],
    ]);
  });
});

describe("replayLabRecord names every difference", () => {
  test("a missing iommu_map call is a mismatch of that request", () => {
    const base = record("nvme-scattered4k");
    let dropped = false;
    const r = replayLabRecord(
      withTrace(base, (ls) =>
        ls.filter((l) => {
          if (!dropped && l.includes(" map: IOMMU: iova=0x00000000fffc1000")) {
            dropped = true;
            return false;
          }
          return true;
        }),
      ),
    );
    expect(dropped).toBe(true);
    expect(r.reproduced).toBe(15);
    expect(r.mismatches).toEqual([{ op: 0, request: 0, what: "iommuMaps", kernel: "31", model: "32" }]);
  });

  test("a different physical address is a mismatch naming the call", () => {
    const base = record("nvme-hugetlb");
    const r = replayLabRecord(
      withTrace(base, (ls) =>
        ls.map((l) => l.replace("paddr=0x0000000002020000", "paddr=0x0000000003020000")),
      ),
    );
    const m = r.mismatches.filter((x) => x.what === "iommuMap");
    expect(m.length).toBeGreaterThanOrEqual(1);
    expect(m[0]).toMatchObject({ op: 0, request: 256 });
    expect(m[0].kernel).toContain("paddr 0x3020000");
    expect(m[0].model).toContain("paddr 0x2020000");
  });

  test("a request the model would not make is reported, and one the kernel did not trace", () => {
    const base = record("nvme-hugetlb");
    const r = replayLabRecord(withTrace(base, (ls) => ls.map((l) => l.replace("slba=256,", "slba=257,"))));
    const what = r.mismatches.filter((x) => x.what === "request").map((x) => [x.op, x.request]);
    expect(what).toContainEqual([0, 257]);
    expect(what).toContainEqual([0, 256]);
  });

  test("queue limits that differ from the ones the model derives are reported", () => {
    const base = record("nvme-scattered4k");
    const device = base.device as { queue: Record<string, unknown> };
    const r = replayLabRecord({
      ...base,
      device: { ...device, queue: { ...device.queue, max_segments: 128 } },
    });
    expect(r.mismatches).toContainEqual({
      op: -1,
      request: -1,
      what: "limits: max_segments",
      kernel: "128",
      model: "33",
    });
  });
});

describe("replayLabRecord refuses bad records with a typed error and leaves them unchanged", () => {
  test("missing fields, a foreign schema and an unmodelled release", () => {
    const base = record("nvme-scattered4k");
    const before = JSON.stringify(base);
    const cases: [string, unknown, RegExp, ErrorConstructor][] = [
      ["not an object", 42, /schema is missing/, TypeError],
      ["another schema", { ...base, schema: "phyr-lab/9" }, /schema "phyr-lab\/9" is invalid/, TypeError],
      ["no trace", { ...base, trace: undefined }, /field trace is invalid/, TypeError],
      [
        "release 5.15",
        { ...base, kernel: { release: "5.15.0-1" } },
        /kernel release "5.15.0-1" is not modelled/,
        RangeError,
      ],
      [
        "an op beyond its buffer",
        { ...base, ops: [{ ...(base.ops as object[])[0], length: 1 << 30 }] },
        /outside the 1048576-byte buffer/,
        RangeError,
      ],
    ];
    for (const [name, rec, re, type] of cases) {
      expect(() => replayLabRecord(rec), name).toThrow(re);
      expect(() => replayLabRecord(rec), name).toThrow(type);
    }
    expect(JSON.stringify(base)).toBe(before);
  });
});
