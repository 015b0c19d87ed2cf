/**
 * The lines below are written by hand from the kernel's print formats: the context from
 * kernel/trace/trace_output.c trace_print_context() ("%16s-%-7d ", "[%03d] ", the lat columns,
 * " %5lu.%06lu: ") and each body from its TP_printk in include/trace/events/{dma,iommu,swiotlb,block}.h
 * and drivers/nvme/host/trace.h; arrays from trace_print_array_seq() ("{0x..,0x..}", hex for u32 too).
 */
import { describe, expect, it } from "vitest";
import { ParseError } from "../core/index.js";
import { DMA_TRACE_MAX_ENTRIES, parseTrace, parseTraceLine, type TraceEvent, TraceReader } from "./parse.js";

/** A context as trace_print_context() prints it with irq-info on (5 lat columns, 7.x). */
const ctx = (task: string, pid: number, cpu: number, secs: string) =>
  `${task.padStart(16)}-${String(pid).padEnd(7)} [${String(cpu).padStart(3, "0")}] ..... ${secs.padStart(12)}: `;

function one(line: string): TraceEvent {
  const r = parseTraceLine(line, 7);
  if (r.type !== "event") throw new Error(`expected an event, got ${JSON.stringify(r)}`);
  return r.event;
}

describe("parseTraceLine() reads the context of trace_print_context()", () => {
  it.each([
    [
      "irq-info columns (5, 7.x)",
      "           fio-412     [001] d..1.    12.345678: tracing_mark_write: op 3",
      "d..1.",
    ],
    [
      "irq-info columns (4, older)",
      "           fio-412     [001] d..1    12.345678: tracing_mark_write: op 3",
      "d..1",
    ],
    ["no irq-info", "           fio-412     [001]    12.345678: tracing_mark_write: op 3", ""],
  ])("%s", (_w, line, lat) => {
    const e = one(line);
    expect(e).toMatchObject({
      kind: "marker",
      task: "fio",
      pid: 412,
      cpu: 1,
      latency: lat,
      ts: 12_345_678,
      line: 7,
    });
    expect(e.kind === "marker" && e.text).toBe("op 3");
  });

  it("keeps a task name with dashes and spaces whole (the pid is after the last dash)", () => {
    const e = one("  kworker/u8:2-ev x-77      [000] .....     1.000000: tracing_mark_write: x");
    expect(e.task).toBe("kworker/u8:2-ev x");
    expect(e.pid).toBe(77);
  });

  it("reads the record-tgid column, and ------- as unknown", () => {
    expect(one("  fio-412     (    410) [001] .....    12.345678: tracing_mark_write: a").tgid).toBe(410);
    expect(one("  fio-412     (-------) [001] .....    12.345678: tracing_mark_write: a").tgid).toBe(-1);
    expect(one("  fio-412     [001] .....    12.345678: tracing_mark_write: a").tgid).toBe(-1);
  });

  it("takes a counter clock's timestamp as the raw count", () => {
    expect(one("  fio-412     [001] .....  123456789012: tracing_mark_write: a").ts).toBe(123456789012);
  });

  it("classifies comments, blank lines and lost-event notes", () => {
    expect(parseTraceLine("# tracer: nop", 1).type).toBe("comment");
    expect(parseTraceLine("   ", 1).type).toBe("blank");
    expect(parseTraceLine("CPU:1 [LOST 42 EVENTS]", 1)).toEqual({ type: "lost", count: 42 });
  });

  it("keeps an unknown event with its body", () => {
    const e = one(`${ctx("sh", 1, 0, "1.000000")}sched_switch: prev_comm=sh prev_pid=1`);
    expect(e).toMatchObject({ kind: "other", name: "sched_switch", body: "prev_comm=sh prev_pid=1" });
  });
});

describe("parseTraceLine() reads each event's TP_printk format", () => {
  const c = ctx("fio", 412, 1, "12.000001");

  it("dma_map_phys (dma.h class dma_map)", () => {
    const e = one(
      `${c}dma_map_phys: 0000:00:04.0 dir=FROM_DEVICE dma_addr=fffff000 size=4096 phys_addr=1a2b3000 attrs=SKIP_CPU_SYNC|MMIO`,
    );
    expect(e).toMatchObject({
      kind: "dma_map",
      name: "dma_map_phys",
      device: "0000:00:04.0",
      dir: "FROM_DEVICE",
      dmaAddr: 0xfffff000,
      size: 4096,
      physAddr: 0x1a2b3000,
      attrs: ["SKIP_CPU_SYNC", "MMIO"],
    });
  });

  it("dma_map_page and dma_map_resource (6.x names) read as dma_map; attrs=0 prints nothing", () => {
    expect(
      one(`${c}dma_map_page: 0000:00:04.0 dir=TO_DEVICE dma_addr=1000 size=512 phys_addr=2000 attrs=`),
    ).toMatchObject({ kind: "dma_map", attrs: [], size: 512 });
    expect(
      one(`${c}dma_map_resource: 0000:00:04.0 dir=BIDIRECTIONAL dma_addr=1000 size=512 phys_addr=2000 attrs=`)
        .kind,
    ).toBe("dma_map");
  });

  it("dma_unmap_phys", () => {
    expect(
      one(`${c}dma_unmap_phys: 0000:00:04.0 dir=FROM_DEVICE dma_addr=fffff000 size=4096 attrs=`),
    ).toMatchObject({
      kind: "dma_unmap",
      dmaAddr: 0xfffff000,
      size: 4096,
    });
  });

  it("dma_map_sg (7.x with counts): phys, DMA addresses and hex lengths", () => {
    const e = one(
      `${c}dma_map_sg: 0000:00:04.0 dir=TO_DEVICE nents=3/3 ents=1/1 dma_addrs={0xffe00000} sizes={0x3000} phys_addrs={0x10000,0x11000,0x12000} attrs=`,
    );
    expect(e).toMatchObject({
      kind: "dma_map_sg",
      nents: 3,
      ents: 1,
      truncated: false,
      physAddrs: [0x10000, 0x11000, 0x12000],
      dmaAddrs: [0xffe00000],
      sizes: [0x3000],
    });
  });

  it("dma_map_sg (6.x, no counts) takes the counts from the arrays", () => {
    const e = one(
      `${c}dma_map_sg: 0000:00:04.0 dir=TO_DEVICE dma_addrs={0x1000,0x3000} sizes={0x1000,0x1000} phys_addrs={0x5000,0x9000} attrs=`,
    );
    expect(e).toMatchObject({ nents: 2, ents: 2, truncated: false });
  });

  it("dma_map_sg past DMA_TRACE_MAX_ENTRIES: nents=128/300 [TRUNCATED] keeps the full counts", () => {
    expect(DMA_TRACE_MAX_ENTRIES).toBe(128);
    const phys = Array.from({ length: 128 }, (_, i) => `0x${(0x100000 + i * 0x2000).toString(16)}`).join(",");
    const e = one(
      `${c}dma_map_sg: 0000:00:04.0 dir=FROM_DEVICE nents=128/300 ents=1/1 [TRUNCATED] dma_addrs={0xfff00000} sizes={0x12c000} phys_addrs={${phys}} attrs=`,
    );
    expect(e).toMatchObject({ kind: "dma_map_sg", nents: 300, ents: 1, truncated: true });
    expect(e.kind === "dma_map_sg" && e.physAddrs.length).toBe(128);
  });

  it.each([
    ["a traced count that is not min(full, 128)", "nents=100/300 ents=1/1 [TRUNCATED]", "not min"],
    ["counts over 128 without [TRUNCATED]", "nents=128/300 ents=1/1", "[TRUNCATED]"],
    ["an array length that disagrees with its count", "nents=2/2 ents=1/1", "arrays hold"],
  ])("dma_map_sg with %s is malformed", (_w, counts, reason) => {
    const r = parseTraceLine(
      `${c}dma_map_sg: d dir=TO_DEVICE ${counts} dma_addrs={0x1} sizes={0x1} phys_addrs={0x1} attrs=`,
      3,
    );
    expect(r.type).toBe("malformed");
    expect(r.type === "malformed" && r.reason).toContain(reason);
  });

  it("dma_map_sg_err prints sg_phys() under dma_addrs=", () => {
    expect(
      one(`${c}dma_map_sg_err: 0000:00:04.0 dir=TO_DEVICE dma_addrs={0x1000,0x2000} err=-12 attrs=`),
    ).toMatchObject({ kind: "dma_map_sg_err", physAddrs: [0x1000, 0x2000], err: -12 });
  });

  it("dma_unmap_sg", () => {
    expect(one(`${c}dma_unmap_sg: 0000:00:04.0 dir=TO_DEVICE phys_addrs={0x1000} attrs=`)).toMatchObject({
      kind: "dma_unmap_sg",
      physAddrs: [0x1000],
    });
  });

  it("dma_alloc, dma_alloc_sgt, dma_free and dma_free_sgt", () => {
    expect(
      one(
        `${c}dma_alloc: 0000:00:04.0 dir=BIDIRECTIONAL dma_addr=ffff0000 size=8192 virt_addr=000000001234abcd flags=GFP_KERNEL attrs=`,
      ),
    ).toMatchObject({ kind: "dma_alloc", dmaAddr: 0xffff0000, size: 8192, gfp: "GFP_KERNEL", physAddrs: [] });
    expect(
      one(
        `${c}dma_alloc_sgt: 0000:00:04.0 dir=TO_DEVICE dma_addr=ffff0000 size=8192 phys_addrs={0x1000,0x3000} flags=GFP_KERNEL attrs=`,
      ),
    ).toMatchObject({ kind: "dma_alloc", physAddrs: [0x1000, 0x3000] });
    expect(
      one(
        `${c}dma_free: 0000:00:04.0 dir=BIDIRECTIONAL dma_addr=ffff0000 size=8192 virt_addr=000000001234abcd attrs=`,
      ),
    ).toMatchObject({ kind: "dma_free", size: 8192 });
    expect(
      one(`${c}dma_free_sgt: 0000:00:04.0 dir=TO_DEVICE dma_addr=ffff0000 size=8192 phys_addrs={0x1000}`),
    ).toMatchObject({ kind: "dma_free", physAddrs: [0x1000] });
  });

  it("dma_sync_single_for_cpu and dma_sync_sg_for_device", () => {
    expect(
      one(`${c}dma_sync_single_for_cpu: 0000:00:04.0 dir=FROM_DEVICE dma_addr=1000 size=64`),
    ).toMatchObject({
      kind: "dma_sync_single",
      dmaAddr: 0x1000,
      size: 64,
    });
    expect(
      one(
        `${c}dma_sync_sg_for_device: 0000:00:04.0 dir=TO_DEVICE dma_addrs={0x1000,0x2000} sizes={0x200,0x200}`,
      ),
    ).toMatchObject({ kind: "dma_sync_sg", dmaAddrs: [0x1000, 0x2000], sizes: [0x200, 0x200] });
  });

  it("iommu map and unmap (0x%016llx iova - iova+size)", () => {
    expect(
      one(
        `${c}map: IOMMU: iova=0x00000000ffe00000 - 0x00000000ffe20000 paddr=0x0000000123400000 size=131072`,
      ),
    ).toMatchObject({ kind: "iommu_map", iova: 0xffe00000, paddr: 0x123400000, size: 131072 });
    expect(
      one(`${c}unmap: IOMMU: iova=0x00000000ffe00000 - 0x00000000ffe20000 size=131072 unmapped_size=131072`),
    ).toMatchObject({ kind: "iommu_unmap", iova: 0xffe00000, size: 131072, unmappedSize: 131072 });
  });

  it("iommu map whose end is not iova + size is malformed", () => {
    const r = parseTraceLine(
      `${c}map: IOMMU: iova=0x0000000000001000 - 0x0000000000001001 paddr=0x0 size=4096`,
      1,
    );
    expect(r.type).toBe("malformed");
  });

  it("iommu attach/detach, group and io_page_fault", () => {
    expect(one(`${c}attach_device_to_domain: IOMMU: device=0000:00:04.0`)).toMatchObject({
      kind: "iommu_device",
      device: "0000:00:04.0",
    });
    expect(one(`${c}add_device_to_group: IOMMU: groupID=3 device=0000:00:04.0`)).toMatchObject({
      kind: "iommu_group",
      groupId: 3,
    });
    expect(
      one(`${c}io_page_fault: IOMMU:nvme 0000:00:04.0 iova=0x00000000dead0000 flags=0x0002`),
    ).toMatchObject({
      kind: "io_page_fault",
      driver: "nvme",
      device: "0000:00:04.0",
      iova: 0xdead0000,
      flags: 2,
    });
  });

  it("swiotlb_bounced keeps the 64-bit mask as a bigint", () => {
    expect(
      one(
        `${c}swiotlb_bounced: dev_name: 0000:00:04.0 dma_mask=ffffffffffffffff dev_addr=12345000 size=4096 FORCE`,
      ),
    ).toMatchObject({
      kind: "swiotlb_bounced",
      device: "0000:00:04.0",
      dmaMask: 0xffffffffffffffffn,
      devAddr: 0x12345000,
      size: 4096,
      force: true,
    });
  });

  it("nvme_setup_cmd with and without a disk, and nvme_complete_rq", () => {
    expect(
      one(
        `${c}nvme_setup_cmd: nvme0: disk=nvme0n1, qid=1, cmdid=12, nsid=1, flags=0x0, meta=0x0, cmd=(nvme_cmd_read slba=2048, len=255, ctrl=0x0, dsmgmt=0, reftag=0)`,
      ),
    ).toMatchObject({
      kind: "nvme_setup_cmd",
      ctrl: 0,
      disk: "nvme0n1",
      qid: 1,
      cmdid: 12,
      opcode: "nvme_cmd_read",
      args: { slba: 2048, len: 255, ctrl: 0 },
    });
    expect(
      one(
        `${c}nvme_setup_cmd: nvme0: qid=0, cmdid=4, nsid=0, flags=0x0, meta=0x0, cmd=(nvme_admin_identify cns=1, ctrlid=0)`,
      ),
    ).toMatchObject({ disk: "", qid: 0, opcode: "nvme_admin_identify", args: { cns: 1, ctrlid: 0 } });
    expect(
      one(
        `${c}nvme_complete_rq: nvme0: disk=nvme0n1, qid=1, cmdid=12, res=0, retries=0, flags=0x0, status=0`,
      ),
    ).toMatchObject({ kind: "nvme_complete_rq", result: 0n, status: 0, cmdid: 12 });
  });

  it.each([
    ["block_rq_issue (with ioprio columns)", "259,0 R 131072 () 2048 + 256 none,0,0 [fio]", 131072, "fio", 0],
    ["block_rq_issue (6.x before ioprio)", "259,0 R 131072 () 2048 + 256 [fio]", 131072, "fio", 0],
  ])("%s", (_w, body, bytes, comm, error) => {
    expect(one(`${c}block_rq_issue: ${body}`)).toMatchObject({
      kind: "block",
      dev: "259,0",
      rwbs: "R",
      bytes,
      sector: 2048,
      nrSector: 256,
      comm,
      error,
    });
  });

  it("block_rq_complete and block_bio_queue", () => {
    expect(one(`${c}block_rq_complete: 259,0 R () 2048 + 256 none,0,0 [0]`)).toMatchObject({
      kind: "block",
      bytes: -1,
      error: 0,
      comm: "",
    });
    expect(one(`${c}block_bio_queue: 259,0 WS 4096 + 8 [fio]`)).toMatchObject({
      kind: "block",
      rwbs: "WS",
      sector: 4096,
      nrSector: 8,
      comm: "fio",
    });
  });

  it("an address beyond 2^53 makes the line malformed instead of rounding it", () => {
    const r = parseTraceLine(
      `${c}dma_map_phys: d dir=TO_DEVICE dma_addr=ffffffffffff0000 size=1 phys_addr=1000 attrs=`,
      9,
    );
    expect(r).toEqual({
      type: "malformed",
      reason: "dma_map_phys: dma_addr=ffffffffffff0000: beyond 2^53, not read as a number",
    });
  });
});

describe("parseTrace() reads whole files", () => {
  const header = [
    "# tracer: nop",
    "#",
    "# entries-in-buffer/entries-written: 3/5   #P:2",
    "#",
    "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
    "#              | |         |   |||||     |         |",
  ].join("\n");

  it("reads the header, events, lost notes, and counts malformed lines without stopping", () => {
    const text = [
      header,
      "           fio-412     [001] .....    12.000001: tracing_mark_write: op 1",
      "garbage that is not a trace line",
      "CPU:0 [LOST 2 EVENTS]",
      "           fio-412     [001] .....    12.000002: map: IOMMU: iova=0xzz paddr=0x0 size=1",
      "           fio-412     [001] .....    12.000003: tracing_mark_write: op 2",
    ].join("\n");
    const t = parseTrace(text, "t.txt");
    expect(t.tracer).toBe("nop");
    expect(t.entries).toEqual([3, 5]);
    expect(t.events.map((e) => e.kind)).toEqual(["marker", "marker"]);
    expect(t.lost).toBe(2);
    expect(t.malformed).toBe(2);
    expect(t.malformedFirst.map((m) => m.line)).toEqual([8, 10]);
    expect(t.lines).toBe(11);
  });

  it("an empty trace is empty, not an error", () => {
    expect(parseTrace("", "t").events).toEqual([]);
    expect(parseTrace(`${header}\n`, "t").events).toEqual([]);
  });

  it("refuses text that is not tracefs output, naming the first line", () => {
    let err: unknown;
    try {
      parseTrace('\n{"schema": "phyr-analysis/1"}\nmore\n', "x.json");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as ParseError).line).toBe(2);
    expect((err as ParseError).message).toMatch(/^x\.json:2: not tracefs text/);
  });

  it("TraceReader reads lines split across chunks, and a last line without a newline", () => {
    const line = "           fio-412     [001] .....    12.000001: tracing_mark_write: op 1\n";
    const r = new TraceReader();
    for (const ch of (line + line.trimEnd()).match(/.{1,7}/gs) ?? []) r.feed(ch);
    const t = r.finish();
    expect(t.events).toHaveLength(2);
    expect(t.events[1].line).toBe(2);
  });
});

describe("parseTraceLine() on lines copied from a lab trace (Debian 7.2.13, QEMU VT-d + NVMe)", () => {
  it.each([
    [
      "    kworker/0:0H-10      [000] .....    16.763268: map: IOMMU: iova=0x00000000fffc0000 - 0x00000000fffc1000 paddr=0x000000000ffeb000 size=4096",
      { kind: "iommu_map", task: "kworker/0:0H", pid: 10, iova: 0xfffc0000, paddr: 0xffeb000, size: 4096 },
    ],
    [
      "        workload-132     [000] .l...    10.357259: dma_map_phys: 0000:00:01.0 dir=TO_DEVICE dma_addr=fffc0000 size=131072 phys_addr=2000000 attrs=",
      {
        kind: "dma_map",
        latency: ".l...",
        device: "0000:00:01.0",
        dmaAddr: 0xfffc0000,
        size: 131072,
        physAddr: 0x2000000,
      },
    ],
    [
      "        workload-132     [000] .l...    10.356782: nvme_setup_cmd: nvme0: disk=nvme0n1, qid=1, cmdid=67, nsid=1, flags=0x0, meta=0x0, cmd=(nvme_cmd_write slba=0, len=255, ctrl=0x0, dsmgmt=0, reftag=0)",
      {
        kind: "nvme_setup_cmd",
        ctrl: 0,
        disk: "nvme0n1",
        cmdid: 67,
        opcode: "nvme_cmd_write",
        args: { slba: 0, len: 255 },
      },
    ],
    [
      "        workload-132     [000] .l...    10.357353: block_rq_issue: 259,0 WS 131072 () 0 + 256 be,0,4 [workload]",
      { kind: "block", dev: "259,0", rwbs: "WS", bytes: 131072, sector: 0, nrSector: 256, comm: "workload" },
    ],
    [
      "          <idle>-0       [000] d.h1.    10.414992: unmap: IOMMU: iova=0x00000000fffc0000 - 0x00000000fffe0000 size=131072 unmapped_size=131072",
      {
        kind: "iommu_unmap",
        task: "<idle>",
        pid: 0,
        latency: "d.h1.",
        iova: 0xfffc0000,
        unmappedSize: 131072,
      },
    ],
    [
      "        workload-131     [000] ...1.    16.682141: tracing_mark_write: phyr-lab op 0 begin",
      { kind: "marker", text: "phyr-lab op 0 begin", ts: 16_682_141 },
    ],
  ])("%s", (line, want) => {
    expect(one(line)).toMatchObject(want);
  });
});
