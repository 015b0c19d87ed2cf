/**
 * Seeded properties of the tracefs reader against a naive printer of the kernel's formats:
 * a line printed as trace_print_context() + the dma_map_phys / iommu map / dma_map_sg TP_printk
 * would print it reads back to the same fields; any text (random, or real lines cut and spliced)
 * gives a result or a ParseError, never another exception, and every line is counted once.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { ParseError } from "../core/index.js";
import { DMA_TRACE_MAX_ENTRIES, parseTrace, parseTraceLine } from "./parse.js";

/** kernel/trace/trace_output.c trace_print_context(), irq-info on, ns clock. */
function context(task: string, pid: number, cpu: number, usecs: number): string {
  const secs = Math.floor(usecs / 1e6);
  const rem = String(usecs % 1e6).padStart(6, "0");
  return `${task.padStart(16)}-${String(pid).padEnd(7)} [${String(cpu).padStart(3, "0")}] d..1. ${String(secs).padStart(5)}.${rem}: `;
}
const hex = (n: number) => n.toString(16);
const arr = (xs: number[]) => `{${xs.map((x) => `0x${hex(x)}`).join(",")}}`;

const task = fc.stringMatching(/^[a-zA-Z0-9/:_ .-]{1,15}$/).filter((t) => t.trim() === t && t !== "");
const addr = fc.integer({ min: 0, max: 2 ** 52 - 1 });
const size = fc.integer({ min: 1, max: 2 ** 32 - 1 });

describe("parseTraceLine() reads back what the kernel's formats print", () => {
  it("dma_map_phys lines", () => {
    fc.assert(
      fc.property(
        task,
        fc.integer({ min: 0, max: 4194304 }),
        fc.integer({ min: 0, max: 999 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        addr,
        addr,
        size,
        (t, pid, cpu, us, phys, dma, len) => {
          const line = `${context(t, pid, cpu, us)}dma_map_phys: 0000:00:04.0 dir=FROM_DEVICE dma_addr=${hex(dma)} size=${len} phys_addr=${hex(phys)} attrs=`;
          const r = parseTraceLine(line, 1);
          expect(r.type).toBe("event");
          if (r.type !== "event") return;
          expect(r.event).toMatchObject({
            kind: "dma_map",
            task: t,
            pid,
            cpu,
            ts: us,
            physAddr: phys,
            dmaAddr: dma,
            size: len,
          });
        },
      ),
      fcRuns(200),
    );
  });

  it("iommu map lines", () => {
    fc.assert(
      fc.property(addr, addr, size, (iova, paddr, len) => {
        const p16 = (n: number) => `0x${hex(n).padStart(16, "0")}`;
        const line = `${context("kworker/0:1", 9, 0, 5)}map: IOMMU: iova=${p16(iova)} - ${p16(iova + len)} paddr=${p16(paddr)} size=${len}`;
        const r = parseTraceLine(line, 1);
        expect(r.type === "event" && r.event).toMatchObject({ kind: "iommu_map", iova, paddr, size: len });
      }),
      fcRuns(200),
    );
  });

  it("dma_map_sg lines of any length, truncated at 128 as TP_fast_assign does", () => {
    fc.assert(
      fc.property(
        fc.array(addr, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 300 }),
        (phys, ents) => {
          const nents = phys.length;
          const tn = Math.min(nents, DMA_TRACE_MAX_ENTRIES);
          const te = Math.min(ents, DMA_TRACE_MAX_ENTRIES);
          const dmas = Array.from({ length: te }, (_, i) => 0x1000 * (i + 1));
          const sizes = Array.from({ length: te }, () => 0x1000);
          const trunc = nents > DMA_TRACE_MAX_ENTRIES || ents > DMA_TRACE_MAX_ENTRIES ? " [TRUNCATED]" : "";
          const line = `${context("fio", 1, 0, 1)}dma_map_sg: d dir=TO_DEVICE nents=${tn}/${nents} ents=${te}/${ents}${trunc} dma_addrs=${arr(dmas)} sizes=${arr(sizes)} phys_addrs=${arr(phys.slice(0, tn))} attrs=`;
          const r = parseTraceLine(line, 1);
          expect(r.type === "event" && r.event).toMatchObject({
            kind: "dma_map_sg",
            nents,
            ents,
            truncated: trunc !== "",
            physAddrs: phys.slice(0, tn),
            sizes,
          });
        },
      ),
      fcRuns(100),
    );
  });
});

const REAL = [
  "# tracer: nop",
  "#",
  "    kworker/0:0H-10      [000] .....    16.763268: map: IOMMU: iova=0x00000000fffc0000 - 0x00000000fffc1000 paddr=0x000000000ffeb000 size=4096",
  "        workload-132     [000] .l...    10.357259: dma_map_phys: 0000:00:01.0 dir=TO_DEVICE dma_addr=fffc0000 size=131072 phys_addr=2000000 attrs=",
  "        workload-132     [000] .l...    10.357353: block_rq_issue: 259,0 WS 131072 () 0 + 256 be,0,4 [workload]",
  "CPU:0 [LOST 3 EVENTS]",
  "        workload-131     [000] ...1.    16.682141: tracing_mark_write: phyr-lab op 0 begin",
].join("\n");

describe("parseTrace() on any text", () => {
  const check = (text: string) => {
    let t: ReturnType<typeof parseTrace>;
    try {
      t = parseTrace(text, "fuzz");
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      return;
    }
    const lines = text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    expect(t.lines).toBe(lines);
    expect(t.events.length + t.malformed).toBeLessThanOrEqual(lines);
    const at = t.events.map((e) => e.line);
    expect(new Set(at).size).toBe(at.length);
    expect(at.every((l) => l >= 1 && l <= lines)).toBe(true);
  };

  it("random text gives a result or a ParseError, with every line counted once", () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), check), fcRuns(300));
  });

  it("real lines cut, spliced and repeated", () => {
    fc.assert(
      fc.property(fc.nat(REAL.length), fc.nat(REAL.length), fc.string({ maxLength: 20 }), (a, b, junk) => {
        check(REAL.slice(0, a) + junk + REAL.slice(b));
      }),
      fcRuns(300),
    );
  });
});
