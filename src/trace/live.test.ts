/**
 * The live window on a fake tracefs tree (regular files stand in for the kernel's): every setting
 * it changes is back to its old value afterwards, also when the window is cut short or the tree is
 * unusable; trace_pipe is read and parsed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bufferSizeToRestore, LIVE_BUFFER_KB, readLiveTrace, TraceAccessError } from "./live.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const PIPE =
  "           fio-412     [001] .....    12.000001: dma_map_phys: 0000:00:04.0 dir=TO_DEVICE dma_addr=1000 size=4096 phys_addr=1000 attrs=\n";

/** A tracefs-like tree with the given old settings. */
function fakeTracefs(pipe = PIPE): string {
  const d = mkdtempSync(join(tmpdir(), "phyr-fake-tracefs-"));
  dirs.push(d);
  writeFileSync(join(d, "tracing_on"), "1\n");
  writeFileSync(join(d, "current_tracer"), "function\n");
  writeFileSync(join(d, "buffer_size_kb"), "7 (expanded: 1408)\n");
  writeFileSync(join(d, "trace"), "old content\n");
  writeFileSync(join(d, "trace_pipe"), pipe);
  for (const [sys, ev, v] of [
    ["dma", "dma_map_phys", "0"],
    ["dma", "dma_map_sg", "1"],
    ["iommu", "map", "0"],
    ["sched", "sched_switch", "1"],
  ]) {
    mkdirSync(join(d, "events", sys, ev), { recursive: true });
    writeFileSync(join(d, "events", sys, ev, "enable"), `${v}\n`);
  }
  return d;
}

const rd = (d: string, p: string) => readFileSync(join(d, p), "utf8").trim();

describe("readLiveTrace() on a fake tracefs", () => {
  it("reads trace_pipe and restores tracing_on, current_tracer, buffer_size_kb and every event enable", async () => {
    const d = fakeTracefs();
    const r = await readLiveTrace({ seconds: 0.1, tracefs: d, pollMs: 5 });
    expect(r.trace.events.map((e) => e.kind)).toEqual(["dma_map"]);
    expect(r.enabled).toEqual(["dma:dma_map_phys", "dma:dma_map_sg", "iommu:map"]);
    expect(r.interrupted).toBe("");
    expect(rd(d, "tracing_on")).toBe("1");
    expect(rd(d, "current_tracer")).toBe("function");
    // An unexpanded buffer goes back to the size it expands to (enabling events expands it anyway).
    expect(rd(d, "buffer_size_kb")).toBe("1408");
    expect(rd(d, "events/dma/dma_map_phys/enable")).toBe("0");
    expect(rd(d, "events/dma/dma_map_sg/enable")).toBe("1");
    expect(rd(d, "events/iommu/map/enable")).toBe("0");
    expect(rd(d, "events/sched/sched_switch/enable")).toBe("1");
    // The ring buffer was cleared at the start (writing `trace`).
    expect(rd(d, "trace")).toBe("");
  });

  it("an aborted window still restores everything and says it was cut short", async () => {
    const d = fakeTracefs("");
    const ac = new AbortController();
    const p = readLiveTrace({ seconds: 60, tracefs: d, signal: ac.signal, pollMs: 5 });
    setTimeout(() => ac.abort(), 30);
    const r = await p;
    expect(r.interrupted).toBe("abort");
    expect(r.seconds).toBeLessThan(10);
    expect(rd(d, "current_tracer")).toBe("function");
    expect(rd(d, "events/iommu/map/enable")).toBe("0");
  });

  it("a failure half way restores what was already changed and names what failed", async () => {
    const d = fakeTracefs();
    // A directory where trace_pipe should be: opening it for reading works, reading fails (EISDIR).
    rmSync(join(d, "trace_pipe"));
    mkdirSync(join(d, "trace_pipe"));
    await expect(readLiveTrace({ seconds: 1, tracefs: d, pollMs: 5 })).rejects.toThrow(/EISDIR/);
    expect(rd(d, "tracing_on")).toBe("1");
    expect(rd(d, "current_tracer")).toBe("function");
    expect(rd(d, "events/dma/dma_map_phys/enable")).toBe("0");
  });

  it("a directory without tracing_on is refused with NO_TRACEFS before anything is written", async () => {
    const d = mkdtempSync(join(tmpdir(), "phyr-empty-"));
    dirs.push(d);
    const err = await readLiveTrace({ seconds: 1, tracefs: d }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceAccessError);
    expect((err as TraceAccessError).code).toBe("NO_TRACEFS");
    expect((err as Error).message).toBe(`no tracefs at ${d}: it has no tracing_on file`);
  });

  it.each([0, -1, Number.NaN, 3601])("seconds=%s is refused with a RangeError", async (s) => {
    await expect(readLiveTrace({ seconds: s, tracefs: "/nonexistent" })).rejects.toThrow(RangeError);
  });

  it("bufferSizeToRestore() reads both buffer_size_kb forms", () => {
    expect(bufferSizeToRestore("7 (expanded: 1408)")).toBe("1408");
    expect(bufferSizeToRestore("4096")).toBe("4096");
    expect(() => bufferSizeToRestore("x")).toThrow(RangeError);
    expect(LIVE_BUFFER_KB).toBe(8192);
  });
});
