import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PhyrList } from "../phyr/index.js";
import { devmemPlace, netBuffersFromSegments } from "./devmem-place.js";

describe("net buffers carved from a dma-buf (net_devmem_bind_dmabuf)", () => {
  test("floor(len / 4 KiB) buffers per segment, tails unusable", () => {
    const segs = PhyrList.fromRanges(
      [
        { addr: 0x100000, len: 0x5000 },
        { addr: 0x200000, len: 0x2800 },
      ],
      { store: "wide", chunkCapacity: 2 },
    );
    const nb = netBuffersFromSegments(segs);
    expect(nb.count).toBe(7);
    expect([...nb.offset]).toEqual([0, 0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000]);
    expect([...nb.addr].slice(4)).toEqual([0x104000, 0x200000, 0x201000]);
    expect(nb.unusableBytes).toBe(0x800);
  });
  test("64 KiB buffers need 64 KiB-aligned segments", () => {
    const segs = PhyrList.fromRanges([{ addr: 0x101000, len: 0x20000 }]);
    expect(() => netBuffersFromSegments(segs, 0x10000)).toThrow(/not aligned/);
    expect(
      netBuffersFromSegments(PhyrList.fromRanges([{ addr: 0x100000, len: 0x28000 }]), 0x10000).count,
    ).toBe(2);
  });
});

describe("devmemPlace packet arithmetic", () => {
  // payload = MTU - 52; values by hand.
  const cases = [
    {
      name: "MTU 1500, 4 KiB buffers, one packet per buffer",
      mtu: 1500,
      buf: 4096,
      policy: "buffer-per-packet" as const,
      stream: 1448 * 10,
      used: 10,
      waste: 10 * (4096 - 1448),
    },
    {
      name: "MTU 1500, 4 KiB buffers, packed 1472-byte fragments: 2 per buffer",
      mtu: 1500,
      buf: 4096,
      policy: "packed" as const,
      stream: 1448 * 10,
      used: 5,
      waste: 5 * 4096 - 14480,
    },
    {
      name: "MTU 9000, 4 KiB buffers: each packet spans 3 buffers",
      mtu: 9000,
      buf: 4096,
      policy: "buffer-per-packet" as const,
      stream: 8948 * 3,
      used: 9,
      waste: 9 * 4096 - 26844,
    },
    {
      name: "MTU 9000, 64 KiB buffers packed: 7 fragments of 8960 per buffer",
      mtu: 9000,
      buf: 65536,
      policy: "packed" as const,
      stream: 8948 * 14,
      used: 2,
      waste: 131072 - 125272,
    },
    {
      name: "MTU 1500, 64 KiB buffers, one packet per buffer wastes 97.8%",
      mtu: 1500,
      buf: 65536,
      policy: "buffer-per-packet" as const,
      stream: 1448 * 4,
      used: 4,
      waste: 4 * 65536 - 5792,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const p = devmemPlace(c.stream, { mtu: c.mtu, bufSize: c.buf, policy: c.policy });
      expect([p.buffersUsed, p.wasteBytes]).toEqual([c.used, c.waste]);
    });
  }
  test("bad input is refused", () => {
    expect(() => devmemPlace(0, { mtu: 1500, bufSize: 4096 })).toThrow(RangeError);
    expect(() => devmemPlace(100, { mtu: 100, bufSize: 4096 })).toThrow(/mtu/);
    expect(() => devmemPlace(100, { mtu: 1500, bufSize: 5000 })).toThrow(/buffer size/);
  });
  test("pieces never overlap, stay inside their buffer and cover the stream in order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100000 }),
        fc.integer({ min: 576, max: 9216 }),
        fc.constantFrom(4096, 8192, 65536),
        fc.constantFrom("buffer-per-packet" as const, "packed" as const),
        fc.constantFrom(1, 64, 256),
        (stream, mtu, buf, policy, fragAlign) => {
          const p = devmemPlace(stream, { mtu, bufSize: buf, policy, fragAlign });
          const pc = p.pieces;
          // Byte-by-byte model over buffers: mark used bytes.
          const used = new Map<number, [number, number][]>();
          let sum = 0;
          for (let i = 0; i < pc.count; i++) {
            expect(pc.offset[i] + pc.len[i]).toBeLessThanOrEqual(buf);
            const list = used.get(pc.buffer[i]) ?? [];
            for (const [a, b] of list) expect(pc.offset[i] >= b || pc.offset[i] + pc.len[i] <= a).toBe(true);
            list.push([pc.offset[i], pc.offset[i] + pc.len[i]]);
            used.set(pc.buffer[i], list);
            sum += pc.len[i];
            if (i > 0) expect(pc.packet[i] >= pc.packet[i - 1]).toBe(true);
          }
          expect(sum).toBe(stream);
          expect(used.size).toBe(p.buffersUsed);
          expect(p.wasteBytes).toBe(p.buffersUsed * buf - stream);
        },
      ),
      fcRuns(200),
    );
  });
});
