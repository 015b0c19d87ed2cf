import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ParseError } from "../core/index.js";
import { RunFlag, referenceSource } from "../machine/index.js";
import { loadSnapshot } from "./snapshot-read.js";
import { capture } from "./snapshot-write.js";
import { liveSource } from "./source.js";

const fx = (p: string) => fileURLToPath(new URL(`./fixtures/${p}`, import.meta.url));
const ROOT = { procRoot: fx("vm-root/proc"), sysRoot: fx("vm-root/sys") };
const PID = 9803;
const dir = mkdtempSync(join(tmpdir(), "phyr-snap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = "2025-01-01T00:00:00.000Z";

async function captureFixture(name: string, extra: { gzip?: boolean; anonymize?: boolean } = {}) {
  const out = join(dir, name);
  const res = await capture({ ...ROOT, out, capturedAt: at, ...extra });
  return { out, res };
}

async function rejects(text: string, re: RegExp, opts = {}): Promise<ParseError> {
  const p = join(dir, `bad-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(p, text);
  const err = await loadSnapshot(p, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ParseError);
  expect((err as Error).message).toMatch(re);
  return err as ParseError;
}

describe("capture() + loadSnapshot()", () => {
  it("round-trips the fixture machine exactly (processes, VMAs, runs, iomem, PCI, kernel, access)", async () => {
    const { out, res } = await captureFixture("a.jsonl");
    const live = liveSource(ROOT);
    const snap = await loadSnapshot(out);
    expect(res.processes).toBe(1);
    expect(res.vmas).toBe(54);
    expect(snap.header).toMatchObject({
      format: "phyr-snapshot",
      version: 1,
      capturedAt: at,
      anonymized: false,
    });
    expect(snap.kernel()).toEqual(live.kernel());
    expect(snap.access()).toEqual(live.access());
    expect(snap.iomem()).toEqual(live.iomem());
    expect(snap.pci()).toEqual(live.pci());
    expect(snap.iommus()).toEqual(live.iommus());
    expect(snap.processes()).toEqual(live.processes());
    expect(snap.vmas(PID)).toEqual(live.vmas(PID));
    for (const [s, e] of [
      [0x100000, 0x140000],
      [0x200000, 0x400000],
    ]) {
      const a = live.runs(PID, s, e);
      const b = snap.runs(PID, s, e);
      b.checkValid();
      for (const k of ["count", "presentPages", "swappedPages", "unmappedPages", "hiddenPages"] as const)
        expect(b[k]).toBe(a[k]);
      for (const k of ["va", "pfn", "npages", "flags", "kind"] as const)
        expect(Array.from(b[k].subarray(0, b.count))).toEqual(Array.from(a[k].subarray(0, a.count)));
    }
    // VMAs beyond the captured pagemap extract are recorded as unreadable, their pages unmapped.
    expect(res.vmaErrors).toBeGreaterThan(0);
    expect(snap.vmaErrors.get(PID)?.[0]).toBeUndefined();
    expect(snap.vmaErrors.get(PID)?.[2]).toMatch(/file ends/);
    live.close();
  });

  it("round-trips a capture made without CAP_SYS_ADMIN (frames and iomem addresses read as 0)", async () => {
    const USER = { procRoot: fx("vm-user/proc"), sysRoot: fx("vm-user/sys") };
    const out = join(dir, "user.jsonl.gz");
    await capture({ ...USER, out, capturedAt: at, gzip: true });
    const live = liveSource(USER);
    const snap = await loadSnapshot(out);
    expect(snap.access()).toEqual(live.access());
    expect(snap.iomem()).toEqual(live.iomem());
    expect(snap.vmas(9875)).toEqual(live.vmas(9875));
    const a = live.runs(9875, 0x100000, 0x400000);
    const b = snap.runs(9875, 0x100000, 0x400000);
    b.checkValid();
    expect([b.count, b.presentPages, b.hiddenPages, b.framesHidden]).toEqual([
      a.count,
      a.presentPages,
      a.hiddenPages,
      true,
    ]);
    expect(Array.from(b.npages.subarray(0, b.count))).toEqual(Array.from(a.npages.subarray(0, a.count)));
    live.close();
  });

  it("streams: a file far larger than the line limit loads record by record, 100,000 runs exact", async () => {
    // A process whose one VMA alternates present and absent pages: 100,000 one-page runs, written
    // as ceil(100000 / 16384) = 7 runs records, each under 1 MiB; the file is about 3 MiB.
    const proc = join(dir, "many", "proc");
    const pid = join(proc, "1");
    mkdirSync(join(proc, "sys", "kernel"), { recursive: true });
    mkdirSync(pid, { recursive: true });
    writeFileSync(join(proc, "sys", "kernel", "osrelease"), "6.1.0\n");
    writeFileSync(join(proc, "iomem"), readFileSync(fx("vm-root/proc/iomem")));
    const start = 0x100000;
    const pages = 200_000;
    const end = start + pages * 4096;
    const hdr = `${start.toString(16).padStart(8, "0")}-${end.toString(16).padStart(8, "0")} rw-p 00000000 00:00 0 \n`;
    writeFileSync(join(pid, "maps"), hdr);
    writeFileSync(join(pid, "smaps"), `${hdr}Size: ${pages * 4} kB\nRss: ${pages * 2} kB\n`);
    writeFileSync(join(pid, "comm"), "many\n");
    writeFileSync(join(pid, "cmdline"), "many\0");
    const pm = new Uint32Array(2 * (start / 4096 + pages));
    for (let i = 0; i < pages; i += 2) {
      const w = 2 * (start / 4096 + i);
      pm[w] = 0x1000 + 3 * i; // frames never continue: one run per present page
      pm[w + 1] = 0x81000000; // present, exclusive
    }
    writeFileSync(join(pid, "pagemap"), pm);
    const src = { procRoot: proc, sysRoot: fx("vm-root/sys") };
    const out = join(dir, "many.jsonl");
    const res = await capture({ ...src, out, capturedAt: at });
    expect(res.runs).toBe(100_000);
    const text = readFileSync(out, "utf8");
    expect(text.split("\n").filter((l) => l.startsWith('{"type":"runs"')).length).toBe(7);
    expect(text.length).toBeGreaterThan(2 << 20);
    const snap = await loadSnapshot(out, { maxLineBytes: 1 << 20 });
    const r = snap.vmaRuns(1, 0);
    r.checkValid();
    expect([r.count, r.presentPages, r.unmappedPages]).toEqual([100_000, 100_000, 100_000]);
    for (const i of [0, 1, 16383, 16384, 99_999]) {
      expect([r.va[i], r.pfn[i], r.npages[i], r.flags[i]]).toEqual([
        start + 2 * i * 4096,
        0x1000 + 6 * i,
        1,
        RunFlag.PRESENT | RunFlag.EXCLUSIVE,
      ]);
    }
  });

  it("an output that cannot be opened rejects at once with the errno and writes nothing", async () => {
    const out = join(dir, "no-such-dir", "snap.jsonl");
    await expect(capture({ ...ROOT, out, capturedAt: at })).rejects.toMatchObject({ code: "ENOENT" });
    await expect(capture({ ...ROOT, out: dir, capturedAt: at, gzip: true })).rejects.toMatchObject({
      code: "EISDIR",
    });
  });

  it("a write error mid-capture (device full) rejects with the errno", async () => {
    for (const gzip of [false, true]) {
      await expect(capture({ ...ROOT, out: "/dev/full", capturedAt: at, gzip })).rejects.toMatchObject({
        code: "ENOSPC",
      });
    }
  });

  it("clips runs to a sub-range of a VMA", async () => {
    const snap = await loadSnapshot((await captureFixture("c.jsonl")).out);
    const r = snap.runs(PID, 0x102000, 0x10a000);
    r.checkValid();
    expect([r.va[0], r.pfn[0], r.npages[0], r.va[1], r.pfn[1], r.npages[1]]).toEqual([
      0x102000, 0x14cce1, 7, 0x109000, 0x15c3a0, 1,
    ]);
    expect(() => snap.runs(1, 0, 4096)).toThrow(RangeError);
  });

  it("writes and reads gzip, detected by its magic bytes", async () => {
    const { out } = await captureFixture("b.jsonl.gz", { gzip: true });
    const bytes = readFileSync(out);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    const snap = await loadSnapshot(out);
    expect(snap.vmas(PID).length).toBe(54);
    expect(snap.runs(PID, 0x200000, 0x400000).npages[0]).toBe(512);
  });

  it("anonymizes process names and paths deterministically", async () => {
    const { out } = await captureFixture("anon.jsonl", { anonymize: true });
    const text = readFileSync(out, "utf8");
    expect(text).not.toContain("python");
    expect(text).not.toContain("/usr/lib");
    const snap = await loadSnapshot(out);
    expect(snap.processes()).toEqual([{ pid: PID, comm: "proc-1", cmdline: "proc-1" }]);
    const paths = snap.vmas(PID).map((v) => v.path);
    expect(paths.slice(0, 4)).toEqual(["", "", "file-1", "file-1"]);
    expect(paths).toContain("[stack]");
    expect(snap.kernel().hostname).toBe("host");
    const again = await captureFixture("anon2.jsonl", { anonymize: true });
    expect(readFileSync(again.out, "utf8")).toBe(text);
  });
});

describe("loadSnapshot() rejects bad input naming the field", () => {
  let good: string[] = [];
  const load = async () => {
    if (good.length === 0) good = readFileSync((await captureFixture("g.jsonl")).out, "utf8").split("\n");
    return [...good];
  };

  it("a missing file: one rejected promise with the errno, no stray stream error", async () => {
    const stray: unknown[] = [];
    const onStray = (e: unknown) => stray.push(e);
    process.on("uncaughtException", onStray);
    try {
      const missing = join(tmpdir(), "phyr-no-such-snapshot.jsonl");
      await expect(loadSnapshot(missing)).rejects.toMatchObject({ code: "ENOENT" });
      await new Promise((r) => setTimeout(r, 50));
      expect(stray).toEqual([]);
    } finally {
      process.off("uncaughtException", onStray);
    }
  });

  it("a wrong version", async () => {
    const l = await load();
    l[0] = l[0].replace('"version":1', '"version":2');
    const e = await rejects(l.join("\n"), /g?.*:1\.version: unsupported version 2/);
    expect(e.line).toBe(1);
  });

  it("a truncated file (no end record, or cut mid-line)", async () => {
    const l = await load();
    await rejects(`${l.slice(0, -2).join("\n")}\n`, /no end record: the snapshot is truncated/);
    const text = l.join("\n");
    await rejects(text.slice(0, text.length - 40), /truncated|invalid JSON/);
  });

  it("a truncated gzip", async () => {
    const gz = gzipSync(Buffer.from((await load()).join("\n")));
    const p = join(dir, "cut.gz");
    writeFileSync(p, gz.subarray(0, gz.length - 100));
    await expect(loadSnapshot(p)).rejects.toThrow(/cannot read|truncated/);
    expect(gunzipSync(gz).length).toBeGreaterThan(0);
  });

  it("an oversized line or input", async () => {
    const text = (await load()).join("\n");
    const p = join(dir, "big.jsonl");
    writeFileSync(p, text);
    await expect(loadSnapshot(p, { maxLineBytes: 1000 })).rejects.toThrow(
      expect.objectContaining({
        name: "LimitExceeded",
        limit: "maxLineBytes",
        message: expect.stringMatching(/longer than the limit of 1000 bytes .*maxLineBytes option/),
      }),
    );
    await expect(loadSnapshot(p, { maxTotalBytes: 5000 })).rejects.toThrow(
      expect.objectContaining({
        limit: "maxTotalBytes",
        message: expect.stringMatching(/larger than the limit of 5000 bytes/),
      }),
    );
  });

  it("__proto__ and constructor keys, unknown keys", async () => {
    const l = await load();
    const i = l.findIndex((x) => x.startsWith('{"type":"process"'));
    const p = [...l];
    p[i] = p[i].replace('"type":"process",', '"type":"process","__proto__":{"polluted":1},');
    await rejects(p.join("\n"), /\.__proto__.*not allowed/);
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
    p[i] = l[i].replace('"type":"process",', '"type":"process","constructor":1,');
    await rejects(p.join("\n"), /\.constructor.*not allowed/);
    p[i] = l[i].replace('"type":"process",', '"type":"process","evil":1,');
    await rejects(p.join("\n"), new RegExp(`:${i + 1}\\.evil: Unrecognized key`));
  });

  it("a corrupted field: bad hex, run count, run order, record order", async () => {
    const l = await load();
    const r = l.findIndex((x) => x.startsWith('{"type":"runs"'));
    const bad = [...l];
    bad[r] = l[r].replace(/"va":\["0x[0-9a-f]+"/, '"va":["0xzz"');
    await rejects(bad.join("\n"), new RegExp(`:${r + 1}\\.va\\.0:`));
    bad[r] = l[r].replace(/"va":\["0x[0-9a-f]+"/, '"va":["0x10000000000000"');
    await rejects(bad.join("\n"), /va\.0.*expected a hex string/);
    bad[r] = l[r].replace('"npages":[1,', '"npages":[2,');
    await rejects(bad.join("\n"), /va\.1.*out of order|npages|pages\.present/);
    const v = r - 1;
    bad[r] = l[r];
    bad[v] = l[v].replace(/"runs":\d+/, '"runs":99');
    await rejects(bad.join("\n"), new RegExp(`:${v + 1}\\.runs:.*declares 99 runs`));
    await rejects([l[1], l[0], ...l.slice(2)].join("\n"), /:1\.type: expected a header record/);
    await rejects("", /empty file/);
    await rejects("[1,2]\n", /not a JSON object/);
  });
});

describe("capture() of hugetlb memory", () => {
  it("reads the runs of a hugetlb VMA, whose smaps Rss is 0 (its pages are in *_Hugetlb)", async () => {
    const src = referenceSource();
    const proc = src.processes().find((p) => src.vmas(p.pid).some((v) => v.hugetlb > 0 && v.rss === 0));
    expect(proc, "the reference machine has a process with hugetlb memory").toBeDefined();
    const vma = src.vmas(proc!.pid).find((v) => v.hugetlb > 0 && v.rss === 0)!;
    const out = join(dir, "hugetlb.jsonl");
    await capture({ source: src, out, capturedAt: at });
    const snap = await loadSnapshot(out);
    const want = src.runs(proc!.pid, vma.start, vma.end);
    const got = snap.runs(proc!.pid, vma.start, vma.end);
    expect(want.presentPages).toBe(vma.hugetlb / 4096);
    expect([got.presentPages, got.count]).toEqual([want.presentPages, want.count]);
  });
});
