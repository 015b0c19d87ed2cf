import { describe, expect, test } from "vitest";
import { Rng } from "../core/index.js";
import { PhyrList } from "../phyr/index.js";
import { DevmemBinding, NetRxQueues } from "./devmem.js";
import { DmaBuf } from "./dmabuf.js";
import { DevmemError } from "./errors.js";
import { addDevice, buildTestbed } from "./testbed.js";

function setup(iommu: boolean) {
  const m = buildTestbed({ seed: 4, ramBytes: 2 ** 28 });
  const { dev } = addDevice(m, "0000:05:00.0", { iommu });
  // An exporter of three 64 KiB-aligned chunks of system memory.
  const ranges = new PhyrList({ store: "wide", chunkCapacity: 2 });
  for (let i = 0; i < 3; i++)
    ranges.append(m.mem.folios.head[m.mem.allocFolio(5, { movable: false })] * 4096, 0x20000);
  return { m, dev, buf: new DmaBuf(m.sys, ranges, "rx"), ranges };
}

/** dma-buf byte offset -> CPU physical address. */
function physAt(ranges: PhyrList, off: number): number {
  for (const c = ranges.cursor(); !c.done; c.nextEntry()) {
    if (off < c.entryLen) return c.entryAddr + off;
    off -= c.entryLen;
  }
  throw new RangeError("offset beyond the dma-buf");
}

describe("devmem RX: packets land in the dma-buf at the reported offsets", () => {
  for (const [iommu, mtu, bufSize, policy] of [
    [true, 1500, 4096, "buffer-per-packet"],
    [false, 9000, 4096, "buffer-per-packet"],
    [true, 1500, 65536, "packed"],
    [true, 9000, 65536, "packed"],
  ] as const) {
    test(`${iommu ? "IOMMU" : "direct"}, MTU ${mtu}, ${bufSize / 1024} KiB buffers, ${policy}`, () => {
      const { m, dev, buf, ranges } = setup(iommu);
      const bind = new DevmemBinding(buf, dev, bufSize);
      expect(bind.buffers.count).toBe((3 * 0x20000) / bufSize);
      const rng = new Rng(mtu);
      const payload = new Uint8Array(50000).map(() => rng.u32() & 0xff);
      const p = bind.receive(payload, { mtu, policy });
      let pos = 0;
      for (let i = 0; i < p.pieces.count; i++) {
        const off = bind.buffers.offset[p.pieces.buffer[i]] + p.pieces.offset[i];
        const got = m.mem.readPhys(physAt(ranges, off), p.pieces.len[i]);
        const want = payload.subarray(pos, pos + p.pieces.len[i]);
        expect(got.every((b, k) => b === want[k])).toBe(true);
        pos += p.pieces.len[i];
      }
      expect(pos).toBe(payload.length);
      bind.release();
      m.sys.debug.checkNoLeaks();
    });
  }
  test("a stream needing more buffers than bound is refused before any write", () => {
    const { dev, buf, m, ranges } = setup(true);
    const bind = new DevmemBinding(buf, dev, 65536);
    const bytes = () => ranges.toArray().map((r) => m.mem.readPhys(r.addr, r.len));
    const before = bytes();
    const digest = m.mem.digest();
    // 6 buffers of 64 KiB; 10 jumbo packets of 8948 B one per buffer need 10.
    expect(() => bind.receive(new Uint8Array(10 * 8948).fill(0x5a), { mtu: 9000 })).toThrow(
      /needs 10 net buffers, the binding has 6/,
    );
    // Byte compare in a loop (toEqual on 384 KiB of arrays is slow).
    const after = bytes();
    expect(
      after.every((a, i) => a.length === before[i].length && a.every((b, k) => b === before[i][k])),
    ).toBe(true);
    expect(m.mem.digest()).toBe(digest);
    bind.release();
    expect(() => bind.receive(new Uint8Array(100), { mtu: 1500 })).toThrow(DevmemError);
    m.sys.debug.checkNoLeaks();
  });
});

describe("devmem binding to an RX queue (net_devmem_bind_dmabuf_to_queue)", () => {
  test("one binding per queue; bad queues refused before anything is attached; release frees the queue", () => {
    const { m, dev, buf } = setup(true);
    const queues = new NetRxQueues(dev, 4);
    const b0 = new DevmemBinding(buf, dev, 4096, { queues, queue: 0 });
    expect(queues.binding(0)).toBe(b0);
    expect(queues.binding(1)).toBeNull();
    const state = () => [buf.attachmentCount, m.sys.debug.leaks().length, m.mem.digest(), queues.binding(0)];
    const before = state();
    expect(() => new DevmemBinding(buf, dev, 4096, { queues, queue: 0 })).toThrow(
      /rx queue 0: the queue already has a memory provider bound/,
    );
    expect(() => new DevmemBinding(buf, dev, 4096, { queues, queue: 4 })).toThrow(/real_num_rx_queues 4/);
    const noHds = new NetRxQueues(dev, 4, false);
    expect(() => new DevmemBinding(buf, dev, 4096, { queues: noHds, queue: 0 })).toThrow(/header split/);
    // A bad buffer size fails after attach: detached again, queue left free.
    expect(() => new DevmemBinding(buf, dev, 3000, { queues, queue: 1 })).toThrow(RangeError);
    expect(queues.binding(1)).toBeNull();
    expect(state()).toEqual(before);
    b0.release();
    expect(queues.binding(0)).toBeNull();
    const again = new DevmemBinding(buf, dev, 4096, { queues, queue: 0 });
    expect(queues.binding(0)).toBe(again);
    again.release();
    m.sys.debug.checkNoLeaks();
  });
});
