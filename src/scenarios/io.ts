/**
 * Block, NVMe, RDMA, dma-buf and devmem scenarios: the range-list design and today's kernel on the
 * same simulated machine and the same buffer.
 */
import { alignUp, hex, roundUpPow2, SZ_2M } from "../core/index.js";
import { DmaDebug, DmaSystem, dmaMap, dmaUnmap, p2pPortFor } from "../dma/index.js";
import { SG_ENTRY_BYTES, SG_TABLE_BYTES, sgEntriesFor, sgSlots } from "../formats/index.js";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { pinUserPages, unpinUserPages } from "../mm/index.js";
import { ProviderRegistry, providersForDevice } from "../p2p/index.js";
import { PciTopology } from "../pci/index.js";
import { PhyrFlag, PhyrList, phyrFromPfns } from "../phyr/index.js";
import {
  addDevice,
  buildTestbed,
  DevmemBinding,
  type DirectIoMetrics,
  DmaBuf,
  ibDeregMr,
  ibRegUserMr,
  NetRxQueues,
  NvmeController,
  nvmeDirectIo,
  nvmeLimitsFor,
  PGSZ_4K_2M_1G,
  umemNumDmaBlocks,
} from "../subsys/index.js";
import { type Metrics, type ScenarioOptions, scenarioSize } from "./types.js";

/** A scenario's size (the option or the default), checked. */
function sizeOf(o: ScenarioOptions, def: number, unit: number): number {
  return scenarioSize(o.size ?? def, unit);
}

/** RAM of a scenario's testbed: `bytes` plus 256 MiB, rounded up to 128 MiB. */
function ramFor(bytes: number): number {
  return alignUp(bytes + 2 ** 28, 2 ** 27);
}

function ioMetrics(d: DirectIoMetrics): Metrics {
  return {
    entries: d.pinEntries,
    metadataBytes: d.pinBytes + d.bvecBytes + d.sgBytes + d.dmaBytes,
    pinBytes: d.pinBytes,
    bvecBytes: d.bvecBytes,
    sgBytes: d.sgBytes,
    requests: d.requests,
    dmaSegments: d.dmaSegments,
    iommuMaps: d.iommuMaps,
    descriptors: d.descriptors,
    descriptorListBytes: d.descriptorListBytes,
  };
}

function nvmeMachine(seed: number, size: number, o: { iommu: boolean; sgl: boolean }) {
  const m = buildTestbed({
    seed,
    ramBytes: ramFor(size),
    thp: "always",
    debug: false,
  });
  const { dev, domain } = addDevice(m, "0000:01:00.0", { iommu: o.iommu });
  const ctrl = new NvmeController(m.sys, dev, { capacity: size + 2 ** 20, sglSupported: o.sgl, domain });
  const v = m.mm.mmap({ kind: "anon", len: size, hugepage: true });
  m.mm.populate(v.start, size, true);
  return { m, ctrl, va: v.start };
}

/** block-odirect: an O_DIRECT write of a THP-backed buffer to NVMe behind an IOMMU. */
export function runBlockOdirect(o: ScenarioOptions) {
  const size = sizeOf(o, 8 * 2 ** 20, 4096);
  const { m, ctrl, va } = nvmeMachine(o.seed ?? 1, size, { iommu: true, sgl: true });
  const design = ioMetrics(nvmeDirectIo(m.mm, ctrl, va, size, { op: "write", sector: 0, path: "range" }));
  const baseline = ioMetrics(nvmeDirectIo(m.mm, ctrl, va, size, { op: "write", sector: 0, path: "pages" }));
  const maxKiB = (nvmeLimitsFor(ctrl).maxSectors * 512) / 1024;
  return {
    size,
    design,
    baseline,
    notes: [
      `kernel way as of Linux 7.2: requests of at most ${maxKiB} KiB (max_hw_sectors = dma_opt_mapping_size behind dma-iommu, drivers/nvme/host/pci.c); the design runs with the same queue limits`,
      "baseline bios as 7.2 builds them (iov_iter_extract_bvecs: one bvec per folio run of one extraction), so a request can straddle two bvecs and take the IOVA path instead of one dma_map_phys",
    ],
  };
}

/** nvme-prp-vs-sgl: the same buffer through dma-direct; SGL-capable controller vs PRP-only. */
export function runNvmePrpVsSgl(o: ScenarioOptions) {
  const size = sizeOf(o, 8 * 2 ** 20, 4096);
  const seed = o.seed ?? 1;
  const a = nvmeMachine(seed, size, { iommu: false, sgl: true });
  const design = ioMetrics(
    nvmeDirectIo(a.m.mm, a.ctrl, a.va, size, { op: "write", sector: 0, path: "range" }),
  );
  const b = nvmeMachine(seed, size, { iommu: false, sgl: false });
  const baseline = ioMetrics(
    nvmeDirectIo(b.m.mm, b.ctrl, b.va, size, { op: "write", sector: 0, path: "range" }),
  );
  return {
    size,
    design,
    baseline,
    notes: [
      "both runs use the range path with Linux 7.2's limits (dma-direct: 4 MiB requests, BLK_DEF_MAX_SECTORS_CAP); the design controller supports SGLs (a single segment beyond two pages, or an average DMA segment >= 32 KiB, takes SGLs), the baseline one only PRPs",
    ],
  };
}

/** rdma-mr: registering a THP-backed buffer: best page size vs a fixed 4 KiB (ODP-style) page array. */
export function runRdmaMr(o: ScenarioOptions) {
  const size = sizeOf(o, 16 * 2 ** 20, SZ_2M);
  const m = buildTestbed({
    seed: o.seed ?? 1,
    ramBytes: ramFor(size),
    thp: "always",
    debug: false,
  });
  const { dev } = addDevice(m, "0000:07:00.0");
  const v = m.mm.mmap({ kind: "anon", len: size, hugepage: true });
  m.mm.populate(v.start, size, true);
  const mr = ibRegUserMr(m.sys, m.mm, dev, v.start, size, PGSZ_4K_2M_1G);
  const design: Metrics = {
    entries: mr.pinned.nents,
    metadataBytes: mr.pinned.byteSize + 16 * mr.dma.nents,
    pageSize: mr.pgsz,
    mttEntries: mr.mttEntries,
    mttBytes: 8 * mr.mttEntries,
  };
  ibDeregMr(m.sys, m.mm, dev, mr);
  // Baseline: ib_umem_get's page array -> sg table (runs) -> dma_map_sg, with a 4 KiB page size.
  const pages = pinUserPages(m.mm, v.start, size, { write: true, longterm: true });
  const runs = phyrFromPfns(pages, { store: "wide" });
  const sg = sgEntriesFor(runs);
  const dma = dmaMap(m.sys, dev, runs, "bidirectional");
  const mtt = umemNumDmaBlocks(v.start, size, 4096);
  const baseline: Metrics = {
    entries: pages.length,
    metadataBytes: 8 * pages.length + sgSlots(sg) * SG_ENTRY_BYTES + SG_TABLE_BYTES,
    pageSize: 4096,
    mttEntries: mtt,
    mttBytes: 8 * mtt,
  };
  dmaUnmap(m.sys, dev, dma, "bidirectional");
  unpinUserPages(m.mm, pages);
  return { size, design, baseline, notes: ["MTT entries are 8 B (mlx5 struct mlx5_mtt)"] };
}

/** dmabuf-p2p: a GPU BAR exported to a NIC and an NVMe behind one switch, then revoked. */
export function runDmabufP2p(o: ScenarioOptions) {
  const size = sizeOf(o, 64 * 2 ** 20, SZ_2M);
  const t = new PciTopology();
  t.hostBridge({ domain: 0 });
  t.rootPort("0000:00:01.0", { secondary: 1 });
  t.switchUp("0000:01:00.0", { secondary: 2 });
  t.switchDown("0000:02:00.0", { secondary: 3 });
  t.switchDown("0000:02:01.0", { secondary: 4 });
  t.switchDown("0000:02:02.0", { secondary: 5 });
  // The GPU BAR: the power of two at or above twice the size (size is a positive multiple of 2 MiB).
  const bar = roundUpPow2(2 * size);
  t.endpoint("0000:03:00.0", { bars: [{ size: bar }], name: "GPU" });
  t.endpoint("0000:04:00.0", { bars: [{ size: 2 ** 20 }], name: "NIC" });
  t.endpoint("0000:05:00.0", { bars: [{ size: 0x4000 }], name: "NVMe" });
  const reg = new ProviderRegistry();
  const p = providersForDevice(t, "0000:03:00.0")[0];
  const gpu = reg.add(p);
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: 2 ** 28 }],
    seed: o.seed ?? 1,
    pciWindows: [{ start: 2 ** 44, size: 2 ** 41 }],
  });
  const sys = new DmaSystem({ memory: mem, debug: new DmaDebug(true), p2p: p2pPortFor(t, reg) });
  const importers = [
    sys.addDevice({ name: "0000:04:00.0" }, new IommuDomain({ type: "dma" })),
    sys.addDevice({ name: "0000:05:00.0" }, new IommuDomain({ type: "dma" })),
  ];
  // VRAM handed out in 2 MiB pieces, every other piece (a fragmented GPU heap).
  const ranges = new PhyrList({ store: "wide" });
  for (let off = 0; off < size; off += SZ_2M)
    ranges.append(p.start + ((2 * off) % bar), SZ_2M, PhyrFlag.MMIO, gpu);
  const buf = new DmaBuf(sys, ranges, "vram");
  let mappedNents = 0;
  for (const dev of importers) mappedNents += buf.attach(dev).map().nents;
  const torn = buf.revoke();
  sys.debug.checkNoLeaks();
  const pages = size / 4096;
  const sgEntries = sgEntriesFor(ranges);
  const design: Metrics = {
    entries: ranges.nents,
    metadataBytes: 16 * ranges.nents + 16 * mappedNents,
    structPages: 0,
    mappingsTornDown: torn,
  };
  const baseline: Metrics = {
    entries: sgEntries,
    // A P2PDMA pgmap gives every BAR page a 64-byte struct page; each importer gets an sg_table.
    metadataBytes:
      64 * (bar / 4096) + importers.length * (sgSlots(sgEntries) * SG_ENTRY_BYTES + SG_TABLE_BYTES),
    structPages: bar / 4096,
    mappingsTornDown: torn,
  };
  return {
    size,
    design,
    baseline,
    notes: [
      `exported ${pages} pages of a ${hex(bar)}-byte BAR; baseline counts the pgmap's struct pages for the whole BAR`,
    ],
  };
}

/** devmem-rx: a dma-buf bound to an RX queue; MTU 1500 and 9000 streams. */
export function runDevmemRx(o: ScenarioOptions) {
  const size = sizeOf(o, 4 * 2 ** 20, 2 ** 16);
  const m = buildTestbed({
    seed: o.seed ?? 1,
    ramBytes: ramFor(2 * size),
    debug: true,
  });
  const { dev } = addDevice(m, "0000:05:00.0", { iommu: true });
  const ranges = new PhyrList({ store: "wide" });
  for (let off = 0; off < size; off += 2 ** 16) {
    const id = m.mem.allocFolio(4, { movable: false });
    ranges.append(m.mem.folios.head[id] * 4096, 2 ** 16);
  }
  // Sized so the baseline's one-packet-per-4 KiB-buffer placement fits the binding at MTU 1500.
  const stream = Math.floor((size * 1448) / 8192);
  const payload = new Uint8Array(stream);
  for (let i = 0; i < stream; i++) payload[i] = i & 0xff;
  const queues = new NetRxQueues(dev, 8);
  const run = (bufSize: number, policy: "buffer-per-packet" | "packed"): Metrics => {
    const buf = new DmaBuf(m.sys, ranges, `rx ${bufSize}`);
    const bind = new DevmemBinding(buf, dev, bufSize, { queues, queue: 0 });
    const out: Metrics = { netBuffers: bind.buffers.count };
    for (const mtu of [1500, 9000]) {
      const p = bind.receive(payload, { mtu, policy });
      out[`mtu${mtu}BuffersUsed`] = p.buffersUsed;
      out[`mtu${mtu}BytesPerBuffer`] = Math.round(p.payloadBytes / p.buffersUsed);
      out[`mtu${mtu}WasteBytes`] = p.wasteBytes;
      out[`mtu${mtu}WastePermille`] = Math.round((1000 * p.wasteBytes) / p.bufferBytes);
    }
    bind.release();
    return out;
  };
  const design = run(2 ** 16, "packed");
  const baseline = run(4096, "buffer-per-packet");
  m.sys.debug.checkNoLeaks();
  return {
    size,
    design,
    baseline,
    notes: [
      `design: 64 KiB exporter pages with packed fragments; baseline: page-sized net buffers, one packet each; stream ${stream} B per MTU`,
    ],
  };
}
