import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSnapshot } from "../src/node.js";
import { LabRecordError, loadLabRecord, parseLabRecord } from "./record.js";
import { LAB_WORKLOAD_PID, writeLabSnapshot } from "./snapshot.js";

const FIXTURES = resolve(import.meta.dirname, "fixtures");
const fixtureFiles = readdirSync(FIXTURES).filter((f) => f.endsWith(".json"));

describe("lab records", () => {
  it.each(fixtureFiles)("committed record %s validates as phyr-lab/1 from a real 7.2 guest", (f) => {
    const r = loadLabRecord(join(FIXTURES, f));
    expect(r.schema).toBe("phyr-lab/1");
    expect(r.kernel.release).toMatch(/^7\.2\.\d+\+deb\d+-amd64$/);
    expect(r.ops.length).toBeGreaterThan(0);
    // Every op transferred all its bytes and the trace holds its two markers.
    for (const o of r.ops) {
      expect(o.result).toBe(o.length);
      expect(r.trace).toContain(`${o.marker} begin`);
      expect(r.trace).toContain(`${o.marker} end`);
    }
    // The ring buffer lost nothing: the trace is whole.
    expect([r.traceStats.overrun, r.traceStats["dropped events"]]).toEqual(["0", "0"]);
    // Runs cover each buffer's pages exactly.
    for (const b of r.buffers) {
      const pages = b.runs.reduce((n, x) => n + x.pages, 0);
      expect(pages).toBe(Math.ceil(b.length / 4096));
    }
  });

  it("a record with a wrong field is refused with LabRecordError naming the field; the input is unchanged", () => {
    const raw = JSON.parse(readFileSync(join(FIXTURES, "nvme-hugetlb.json"), "utf8"));
    const before = JSON.stringify(raw);
    raw.buffers[0].runs[0].pfn = 4096;
    expect(() => parseLabRecord(raw, "x.json")).toThrow(LabRecordError);
    expect(() => parseLabRecord(raw, "x.json")).toThrow(
      /^x\.json: not a phyr-lab\/1 record: buffers\.0\.runs\.0\.pfn: /,
    );
    raw.buffers[0].runs[0].pfn = JSON.parse(before).buffers[0].runs[0].pfn;
    expect(JSON.stringify(raw)).toBe(before);
  });

  it("unknown keys and another schema are refused", () => {
    const raw = JSON.parse(readFileSync(join(FIXTURES, "nvme-hugetlb.json"), "utf8"));
    expect(() => parseLabRecord({ ...raw, extra: 1 })).toThrow(/Unrecognized key/);
    expect(() => parseLabRecord({ ...raw, schema: "phyr-lab/2" })).toThrow(/schema: /);
  });

  it("loadLabRecord turns bad JSON into LabRecordError with the path", () => {
    const dir = mkdtempSync(join(tmpdir(), "phyr-lab-"));
    const p = join(dir, "bad.json");
    writeFileSync(p, "{not json");
    expect(() => loadLabRecord(p)).toThrow(/bad\.json: not a phyr-lab\/1 record: /);
  });
});

describe("the lab guest as a phyr snapshot", () => {
  it.each(fixtureFiles)(
    "%s: phyr's snapshot reader loads the guest's iomem, PCI and buffer runs",
    async (f) => {
      const r = loadLabRecord(join(FIXTURES, f));
      const out = join(mkdtempSync(join(tmpdir(), "phyr-lab-snap-")), "snap.jsonl");
      const written = await writeLabSnapshot(r, out, "2026-12-02T00:00:00.000Z");
      expect(written.processes).toBe(1);
      const snap = await loadSnapshot(out);
      expect(snap.kernel().release).toBe(r.kernel.release);
      expect(snap.pci().map((d) => d.bdf)).toEqual(r.pci.map((d) => d.bdf).sort());
      const nvme = snap.pci().find((d) => d.bdf === r.device.pci);
      expect(nvme?.class).toBe(0x010802);
      expect(snap.iomem().some((x) => x.name === "System RAM")).toBe(true);
      const vmas = snap.vmas(LAB_WORKLOAD_PID);
      expect(vmas).toHaveLength(r.buffers.length);
      for (const b of r.buffers) {
        const va = Number.parseInt(b.va.slice(2), 16);
        const vma = vmas.find((v) => v.start === va);
        expect(vma).toBeDefined();
        const runs = snap.runs(LAB_WORKLOAD_PID, va, vma?.end ?? va);
        const got: [number, number][] = [];
        for (let i = 0; i < runs.count; i++) got.push([runs.pfn[i], runs.npages[i]]);
        // The reader may merge runs the workload printed apart (same frames, kinds differ only by
        // classification); compare page by page.
        const want = b.runs.flatMap((x) =>
          Array.from({ length: x.pages }, (_, k) => Number.parseInt(x.pfn.slice(2), 16) + k),
        );
        expect(got.flatMap(([pfn, n]) => Array.from({ length: n }, (_, k) => pfn + k))).toEqual(want);
      }
    },
  );
});
