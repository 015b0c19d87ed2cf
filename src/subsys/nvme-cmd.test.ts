import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PhyrList } from "../phyr/index.js";
import { NvmeError } from "./errors.js";
import { nvmeMapData, nvmeSetupPrps, nvmeSetupSgls, nvmeWalk } from "./nvme-cmd.js";

type R = { addr: number; len: number };
const mk = (rs: R[]) => PhyrList.fromRanges(rs, { store: "wide", chunkCapacity: 3 });

describe("PRP building follows nvme_pci_setup_prps", () => {
  // nprps = ceil((bytes - (4096 - offset)) / 4096); list pages = 1 if nprps <= 512 else
  // 1 + ceil((nprps - 512) / 511); a list of <= 32 PRPs is a 256-byte small-pool block.
  const cases: {
    name: string;
    rs: R[];
    prp2: number | "list";
    descriptors: number;
    pages: number;
    chains: number;
    listBytes: number;
  }[] = [
    {
      name: "one aligned page: PRP1 only",
      rs: [{ addr: 0x10000, len: 0x1000 }],
      prp2: 0,
      descriptors: 1,
      pages: 0,
      chains: 0,
      listBytes: 0,
    },
    {
      name: "8 KiB: PRP1 + PRP2 = second page",
      rs: [{ addr: 0x10000, len: 0x2000 }],
      prp2: 0x11000,
      descriptors: 2,
      pages: 0,
      chains: 0,
      listBytes: 0,
    },
    {
      name: "4 KiB at offset 0x200 spills 0x200 into PRP2",
      rs: [{ addr: 0x10200, len: 0x1000 }],
      prp2: 0x11000,
      descriptors: 2,
      pages: 0,
      chains: 0,
      listBytes: 0,
    },
    {
      name: "12 KiB: a 2-entry list in the small pool",
      rs: [{ addr: 0x10000, len: 0x3000 }],
      prp2: "list",
      descriptors: 3,
      pages: 1,
      chains: 0,
      listBytes: 256,
    },
    {
      name: "132 KiB: 32 listed PRPs still fit the small pool",
      rs: [{ addr: 0x10000, len: 0x21000 }],
      prp2: "list",
      descriptors: 33,
      pages: 1,
      chains: 0,
      listBytes: 256,
    },
    {
      name: "1 MiB: 255 listed PRPs in one 4 KiB page",
      rs: [{ addr: 0x100000, len: 0x100000 }],
      prp2: "list",
      descriptors: 256,
      pages: 1,
      chains: 0,
      listBytes: 4096,
    },
    {
      name: "2 MiB + 4 KiB: exactly 512 listed PRPs fill one page",
      rs: [{ addr: 0x200000, len: 0x201000 }],
      prp2: "list",
      descriptors: 513,
      pages: 1,
      chains: 0,
      listBytes: 4096,
    },
    {
      name: "4 MiB: 1023 listed PRPs need 2 pages and 1 chain",
      rs: [{ addr: 0x400000, len: 0x400000 }],
      prp2: "list",
      descriptors: 1024,
      pages: 2,
      chains: 1,
      listBytes: 8192,
    },
    {
      name: "4 MiB + 4 KiB: 1024 listed PRPs need 3 pages",
      rs: [{ addr: 0x400000, len: 0x401000 }],
      prp2: "list",
      descriptors: 1025,
      pages: 3,
      chains: 2,
      listBytes: 12288,
    },
    {
      name: "two page-aligned segments of 4 KiB: PRP1 + PRP2",
      rs: [
        { addr: 0x10000, len: 0x1000 },
        { addr: 0x50000, len: 0x1000 },
      ],
      prp2: 0x50000,
      descriptors: 2,
      pages: 0,
      chains: 0,
      listBytes: 0,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const p = nvmeSetupPrps(mk(c.rs), 0x7000000);
      expect(p.ptr1).toBe(c.rs[0].addr);
      if (c.prp2 === "list") expect([p.ptr2IsList, p.ptr2]).toEqual([true, 0x7000000]);
      else expect([p.ptr2IsList, p.ptr2]).toEqual([false, c.prp2]);
      expect([p.descriptors, p.lists.length, p.chains, p.listBytes]).toEqual([
        c.descriptors,
        c.pages,
        c.chains,
        c.listBytes,
      ]);
    });
  }

  test("the chain moves the page's last PRP to the next page", () => {
    const p = nvmeSetupPrps(mk([{ addr: 0x400000, len: 0x400000 }]), 0x9000000);
    expect(p.lists[0][511]).toBe(0x9001000);
    expect(p.lists[0][510]).toBe(0x400000 + 511 * 4096);
    expect(p.lists[1][0]).toBe(0x400000 + 512 * 4096);
  });

  test("a segment ending mid-page before another is refused (bad_sgl)", () => {
    expect(() =>
      nvmeSetupPrps(
        mk([
          { addr: 0x10000, len: 0x800 },
          { addr: 0x20000, len: 0x1000 },
        ]),
      ),
    ).toThrow(NvmeError);
    expect(() =>
      nvmeSetupPrps(
        mk([
          { addr: 0x10000, len: 0x1000 },
          { addr: 0x20200, len: 0x1000 },
        ]),
      ),
    ).toThrow(/segment 1 0x20200\+0x1000/);
    expect(() => nvmeSetupPrps(new PhyrList())).toThrow(/empty transfer/);
  });
});

describe("SGL building follows nvme_pci_setup_sgls", () => {
  test("one segment sits inline in the command", () => {
    const s = nvmeSetupSgls(mk([{ addr: 0x10000, len: 0x40000 }]));
    expect([s.ptr1, s.ptr2, s.ptr2IsList, s.descriptors, s.listBytes, s.descriptorBytes]).toEqual([
      0x10000,
      0x40000,
      false,
      1,
      0,
      16,
    ]);
  });
  test("3 segments: a 256-byte list, 4 descriptors written", () => {
    const s = nvmeSetupSgls(
      mk([
        { addr: 0x10000, len: 0x8000 },
        { addr: 0x30000, len: 0x8000 },
        { addr: 0x50000, len: 0x8000 },
      ]),
    );
    expect([s.descriptors, s.lists.length, s.listBytes, s.descriptorBytes]).toEqual([3, 1, 256, 64]);
  });
  test("17 segments need a 4 KiB page; 300 need two pages chained", () => {
    const seg = (n: number) =>
      mk(Array.from({ length: n }, (_, i) => ({ addr: 0x100000 + i * 0x20000, len: 0x10000 })));
    const a = nvmeSetupSgls(seg(17));
    expect([a.lists.length, a.listBytes, a.chains]).toEqual([1, 4096, 0]);
    const b = nvmeSetupSgls(seg(300));
    expect([b.lists.length, b.listBytes, b.chains, b.descriptorBytes]).toEqual([2, 8192, 1, 16 * 302]);
  });
});

describe("nvmeMapData chooses like nvme_map_data / nvme_pci_use_sgls", () => {
  const seg = (n: number, len: number) =>
    mk(Array.from({ length: n }, (_, i) => ({ addr: 0x100000 + i * 0x100000, len })));
  test("average segment 64 KiB uses SGLs when supported", () => {
    expect(nvmeMapData(seg(4, 0x10000), { sglSupported: true }).mode).toBe("sgl");
    expect(nvmeMapData(seg(4, 0x10000), { sglSupported: false }).mode).toBe("prp");
    expect(nvmeMapData(seg(4, 0x10000), { sglSupported: true, ioQueue: false }).mode).toBe("prp");
  });
  test("average segment 4 KiB (below the 32 KiB threshold) uses PRPs", () => {
    expect(nvmeMapData(seg(32, 0x1000), { sglSupported: true }).mode).toBe("prp");
  });
  test("exactly 32 KiB average is enough", () => {
    expect(nvmeMapData(seg(2, 0x8000), { sglSupported: true }).mode).toBe("sgl");
  });
  test("a single physical segment within two pages takes the inline PRP pair", () => {
    const p = nvmeMapData(seg(1, 0x2000), { sglSupported: true, singlePhysSegment: true });
    expect([p.mode, p.ptr2]).toEqual(["prp", 0x101000]);
    expect(nvmeMapData(seg(1, 0x3000), { sglSupported: true, singlePhysSegment: true }).mode).toBe("sgl");
  });
});

describe("nvme_pci_use_sgls: SGL only when supported, on an I/O queue, with DIV_ROUND_UP(bytes, nseg) >= sgl_threshold", () => {
  // avg = ceil(total / segments), computed by hand; threshold 32768 unless given.
  const cases: {
    name: string;
    segs: R[];
    o: { sglSupported: boolean; ioQueue?: boolean; sglThreshold?: number; singlePhysSegment?: boolean };
    mode: "prp" | "sgl";
  }[] = [
    {
      name: "2 segments of 32 KiB - 1 B and 32 KiB + 1 B: avg ceil(65536 / 2) = 32768 -> SGL",
      segs: [
        { addr: 0x10001, len: 0x7fff },
        { addr: 0x30000, len: 0x8001 },
      ],
      o: { sglSupported: true },
      mode: "sgl",
    },
    {
      name: "2 segments totalling 65535 B: avg ceil(65535 / 2) = 32768 -> SGL (rounds up)",
      segs: [
        { addr: 0x10001, len: 0x7fff },
        { addr: 0x30000, len: 0x8000 },
      ],
      o: { sglSupported: true },
      mode: "sgl",
    },
    {
      name: "2 segments totalling 65534 B: avg 32767 -> PRP",
      segs: [
        { addr: 0x10002, len: 0x7ffe },
        { addr: 0x30000, len: 0x8000 },
      ],
      o: { sglSupported: true },
      mode: "prp",
    },
    {
      name: "16 segments of 4 KiB + one of 1 MiB: avg ceil(1114112 / 17) = 65536 -> SGL",
      segs: [
        ...Array.from({ length: 16 }, (_, i) => ({ addr: 0x100000 + i * 0x2000, len: 0x1000 })),
        { addr: 0x1000000, len: 0x100000 },
      ],
      o: { sglSupported: true },
      mode: "sgl",
    },
    {
      name: "same 1 MiB segment list on a PRP-only controller -> PRP",
      segs: [
        { addr: 0x100000, len: 0x1000 },
        { addr: 0x1000000, len: 0x100000 },
      ],
      o: { sglSupported: false },
      mode: "prp",
    },
    {
      name: "admin queue (qid 0) never uses SGLs",
      segs: [{ addr: 0x100000, len: 0x100000 }],
      o: { sglSupported: true, ioQueue: false },
      mode: "prp",
    },
    {
      name: "sgl_threshold 0 disables SGLs",
      segs: [{ addr: 0x100000, len: 0x100000 }],
      o: { sglSupported: true, sglThreshold: 0 },
      mode: "prp",
    },
    {
      name: "sgl_threshold 4096: 4 KiB segments qualify",
      segs: [
        { addr: 0x100000, len: 0x1000 },
        { addr: 0x300000, len: 0x1000 },
      ],
      o: { sglSupported: true, sglThreshold: 4096 },
      mode: "sgl",
    },
    {
      name: "one physical segment of 8 KiB at offset 0: inline PRP pair even with SGLs",
      segs: [{ addr: 0x100000, len: 0x2000 }],
      o: { sglSupported: true, singlePhysSegment: true },
      mode: "prp",
    },
    {
      name: "one physical segment of 8 KiB at offset 0x200 spans 3 pages: nvme_setup_sgl_simple",
      segs: [{ addr: 0x100200, len: 0x2000 }],
      o: { sglSupported: true, singlePhysSegment: true },
      mode: "sgl",
    },
    {
      name: "one physical 12 KiB segment on a PRP-only controller: a PRP list",
      segs: [{ addr: 0x100000, len: 0x3000 }],
      o: { sglSupported: false, singlePhysSegment: true },
      mode: "prp",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const cmd = nvmeMapData(mk(c.segs), c.o);
      expect(cmd.mode).toBe(c.mode);
      const total = c.segs.reduce((a, r) => a + r.len, 0);
      // Whatever the format, the controller's walk names exactly the segments' bytes.
      const merged: R[] = [];
      for (const r of c.segs) {
        const last = merged[merged.length - 1];
        if (last && last.addr + last.len === r.addr) last.len += r.len;
        else merged.push({ ...r });
      }
      if (c.mode === "sgl" || c.segs.length === 1) expect(nvmeWalk(cmd, total)).toEqual(merged);
    });
  }
});

describe("the controller's walk of PRPs and SGLs names exactly the DMA bytes", () => {
  const listArb = fc
    .array(
      fc.record({ page: fc.integer({ min: 1, max: 1 << 20 }), pages: fc.integer({ min: 1, max: 300 }) }),
      { minLength: 1, maxLength: 10 },
    )
    .chain((es) =>
      fc
        .tuple(fc.constant(es), fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 4095 }))
        .map(([es2, head, tail]) => {
          const rs = es2.map((e, i) => ({ addr: (e.page + i * (1 << 21)) * 4096, len: e.pages * 4096 }));
          rs[0] = {
            addr: rs[0].addr + Math.min(head, rs[0].len - 1),
            len: rs[0].len - Math.min(head, rs[0].len - 1),
          };
          const l = rs[rs.length - 1];
          const cut = Math.min(tail, l.len - 1);
          rs[rs.length - 1] = { addr: l.addr, len: l.len - cut };
          return rs;
        }),
    );
  /** Page-by-page model: every byte range split at 4 KiB, merged back. */
  const pages = (rs: R[]) => {
    const out: R[] = [];
    for (const r of rs)
      for (let a = r.addr; a < r.addr + r.len; ) {
        const n = Math.min(r.addr + r.len, (Math.floor(a / 4096) + 1) * 4096) - a;
        const last = out[out.length - 1];
        if (last && last.addr + last.len === a) last.len += n;
        else out.push({ addr: a, len: n });
        a += n;
      }
    return out;
  };
  test("PRP and SGL walks equal the page-by-page model; PRP counts follow the formula", () => {
    fc.assert(
      fc.property(listArb, (rs) => {
        const dma = mk(rs);
        const total = dma.totalBytes;
        const want = pages(rs);
        const prp = nvmeSetupPrps(dma, 0x1000000);
        expect(nvmeWalk(prp, total)).toEqual(want);
        const sgl = nvmeSetupSgls(dma, 0x1000000);
        expect(nvmeWalk(sgl, total)).toEqual(want);
        // Unmerged, the controller issues one DMA per PRP entry / SGL data descriptor.
        expect(nvmeWalk(prp, total, false).length).toBe(prp.descriptors);
        expect(nvmeWalk(sgl, total, false).length).toBe(rs.length);
        const rest = total - (4096 - (rs[0].addr % 4096));
        const nprps = rest <= 0 ? 0 : Math.ceil(rest / 4096);
        expect(prp.descriptors).toBe(1 + nprps);
        const listed = nprps > 1 ? nprps : 0;
        expect(prp.lists.length).toBe(
          listed === 0 ? 0 : listed <= 512 ? 1 : 1 + Math.ceil((listed - 512) / 511),
        );
      }),
      fcRuns(200),
    );
  });
});
