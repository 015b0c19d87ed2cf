/**
 * `phyr trace` through the built binary (dist/src/cli/main.js): a real lab trace as a file and on
 * stdin, text and --json; the live window on a fake tracefs cut short by SIGTERM (every setting
 * back); no tracefs and not root as one-line errors with exit 1; untrusted device names escaped.
 * Needs `npm run build` first; skipped only when the build is missing and CI is not set.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const BIN = resolve(import.meta.dirname, "../../dist/src/cli/main.js");
const FIXTURES = resolve(import.meta.dirname, "../../lab/fixtures");
const skip = !readable(BIN) && !process.env.CI;
const tmp = mkdtempSync(join(tmpdir(), "phyr-trace-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function readable(p: string): boolean {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
}

function phyr(args: string[], input?: string, prefix: string[] = []) {
  const argv = [...prefix, process.execPath, BIN, ...args];
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: "utf8",
    input,
    env: { ...process.env, FORCE_COLOR: "", NO_COLOR: "1" },
    timeout: 60_000,
    // The reference machine's analysis JSON is larger than spawnSync's 1 MiB default.
    maxBuffer: 256 << 20,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The raw tracefs text of a lab record, written to a file. */
function labTrace(name: string): string {
  const rec = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8")) as { trace: string };
  const p = join(tmp, `${name}.trace`);
  writeFileSync(p, rec.trace);
  return p;
}

const ctx = "             fio-412     [000] .....    12.000001: ";

describe.skipIf(skip)("phyr trace (built binary)", () => {
  it("--file on a lab trace prints the kernel-vs-design table (7.2 NVMe, scattered 4 KiB pages)", () => {
    const r = phyr(["trace", "--file", labTrace("nvme-scattered4k")]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const lines = r.out.split("\n");
    expect(lines).toContain("nvme0 (behind an IOMMU)");
    expect(lines.some((l) => /^metric\s+kernel \(traced\)\s+phyr design \(model\)$/.test(l))).toBe(true);
    // 1 MiB written and read back through 128 KiB requests: 16 requests of 32 scattered pages,
    // each page one iommu_map on the IOVA API; the design maps each request's list once.
    expect(lines.some((l) => /^iommu_map calls\s+512\s+16$/.test(l))).toBe(true);
    expect(lines.some((l) => /^IOVA-API requests \(no dma: event\)\s+16\s+-$/.test(l))).toBe(true);
    expect(lines.some((l) => /^IOMMU leaves\s+512x4KiB\s+512x4KiB$/.test(l))).toBe(true);
  });

  it("--file - reads stdin, and --json prints one phyr-trace/1 document with the fields --help names", () => {
    const text = readFileSync(labTrace("nvme-hugetlb"), "utf8");
    const r = phyr(["trace", "--file", "-", "--json"], text);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    const help = phyr(["trace", "--help"]).out.replace(/\s+/g, " ");
    const m = /\{ schema: "phyr-trace\/1", ([^}]+) \}/.exec(help);
    expect(m).not.toBeNull();
    expect(Object.keys(doc).sort()).toEqual(
      ["schema", ...(m?.[1] ?? "").split(",").map((k) => k.trim())].sort(),
    );
    expect(doc.schema).toBe("phyr-trace/1");
    expect(doc.source).toEqual({ kind: "file", path: "stdin" });
    expect(doc.parse.malformedFirst).toEqual([]);
    const d = doc.summary.devices;
    expect(d.map((x: { device: string }) => x.device)).toEqual(["0000:00:01.0"]);
    // 6 MiB of O_DIRECT I/O from one 2 MiB hugetlb page in 128 KiB requests: 48 maps of 128 KiB.
    expect(d[0].kernel.iommuMapCalls).toBe(48);
    expect(d[0].kernel.iommuBytes).toBe(48 * 131072);
  });

  it("--file also takes a kernel-lab record (its trace field) and prints the same as its trace text", () => {
    const rec = phyr(["trace", "--file", join(FIXTURES, "nvme-scattered4k.json"), "--json"]);
    const raw = phyr(["trace", "--file", labTrace("nvme-scattered4k"), "--json"]);
    expect(rec.code).toBe(0);
    expect(JSON.parse(rec.out).summary).toEqual(JSON.parse(raw.out).summary);
  });

  it("a trace without DMA API events says so in one line (text and JSON)", () => {
    const p = join(tmp, "nodma.trace");
    writeFileSync(p, `${ctx}tracing_mark_write: hello\n${ctx}block_bio_queue: 254,0 R 0 + 8 [dd]\n`);
    const r = phyr(["trace", "--file", p]);
    expect(r.code).toBe(0);
    expect(r.out.split("\n").filter((l) => l.startsWith("no device used the DMA API"))).toHaveLength(1);
    const j = JSON.parse(phyr(["trace", "--file", p, "--json"]).out);
    expect(j.summary.usesDmaApi).toBe(false);
    expect(j.summary.message).toMatch(/^no device used the DMA API/);
  });

  it("device names are data: control and bidi characters are escaped on the terminal", () => {
    const p = join(tmp, "evil.trace");
    const dev = "ev\u001b[31mil\u202e";
    writeFileSync(
      p,
      `${ctx}dma_map_phys: ${dev} dir=TO_DEVICE dma_addr=1000 size=4096 phys_addr=1000 attrs=\n`,
    );
    const r = phyr(["trace", "--file", p]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("ev\\x1b[31mil\\u202e");
    expect(r.out).not.toContain("\u001b");
    expect(r.out).not.toContain("\u202e");
  });

  it("report --trace adds the trace: the JSON member trace and a report.html section whose data is in the escaped island only", () => {
    const html = join(tmp, "report.html");
    const r = phyr(["report", "--reference", "--trace", labTrace("nvme-hugetlb"), "--json", "-o", html]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.schema).toBe("phyr-analysis/1");
    expect(doc.trace.devices.map((d: { device: string }) => d.device)).toEqual(["0000:00:01.0"]);
    expect(doc.trace.devices[0].kernel.iommuMapCalls).toBe(48);
    const page = readFileSync(html, "utf8");
    const section = /<section id="trace"[\s\S]*?<\/section>/.exec(page)?.[0] ?? "";
    expect(section).toContain('<script id="phyr-trace" type="application/json">');
    // Outside the island, the section is fixed text: no device name in the markup.
    expect(section.replace(/<script[\s\S]*<\/script>/, "")).not.toContain("0000:00:01.0");
  });

  it("a file that is not tracefs text fails with one line naming it, exit 1", () => {
    const p = join(tmp, "not.trace");
    writeFileSync(p, "hello\nworld\n");
    const r = phyr(["trace", "--file", p]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `phyr: error: ${p}:1: not tracefs text: no line has the TASK-PID [CPU] TIMESTAMP: EVENT: layout\n`,
    );
  });

  it("usage: neither or both of --file and --seconds is exit 2", () => {
    expect(phyr(["trace"]).code).toBe(2);
    expect(phyr(["trace", "--file", "x", "--seconds", "1"]).code).toBe(2);
    expect(phyr(["trace", "--seconds", "0"]).code).toBe(2);
  });

  it("--seconds without tracefs fails with one line, exit 1", () => {
    const r = phyr(["trace", "--seconds", "1", "--tracefs", "/nonexistent"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe("phyr: error: no tracefs at /nonexistent: it has no tracing_on file\n");
  });

  const root = process.platform === "linux" && process.getuid?.() === 0;
  it.skipIf(!root)(
    "--seconds as a user who cannot write tracefs fails with one line, exit 1, nothing changed",
    () => {
      const d = fakeTracefs("ro");
      const r = phyr(["trace", "--seconds", "1", "--tracefs", d], undefined, [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
      ]);
      expect(r.code).toBe(1);
      expect(r.err).toBe(
        `phyr: error: phyr trace --seconds needs root: cannot write ${d}/tracing_on (EACCES)\n`,
      );
      expect(readFileSync(join(d, "tracing_on"), "utf8")).toBe("1\n");
    },
  );

  it("SIGTERM during --seconds ends the window, restores every setting, and prints what was read", async () => {
    const d = fakeTracefs("live");
    const child = spawn(process.execPath, [BIN, "trace", "--seconds", "60", "--tracefs", d], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    // Wait until the window is open (the tracer switched to nop), then stop it.
    const t0 = Date.now();
    while (
      readFileSync(join(d, "current_tracer"), "utf8").trim() !== "nop" ||
      readFileSync(join(d, "tracing_on"), "utf8").trim() !== "1"
    ) {
      if (Date.now() - t0 > 30_000) throw new Error("the window never opened");
      await new Promise((r) => setTimeout(r, 20));
    }
    // tracing_on is written "1" last, just before the read loop.
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(code).toBe(0);
    expect(out).toMatch(/^phyr trace — live, [\d.]+ s \(cut short by SIGTERM\)/);
    expect(readFileSync(join(d, "tracing_on"), "utf8")).toBe("1");
    expect(readFileSync(join(d, "current_tracer"), "utf8")).toBe("function");
    expect(readFileSync(join(d, "buffer_size_kb"), "utf8")).toBe("1408");
    expect(readFileSync(join(d, "events/dma/dma_map_phys/enable"), "utf8")).toBe("0");
  }, 60_000);
});

/** A fake tracefs tree (world-readable, root-owned files). */
function fakeTracefs(name: string): string {
  const d = join(tmp, `tracefs-${name}`);
  mkdirSync(join(d, "events", "dma", "dma_map_phys"), { recursive: true });
  writeFileSync(join(d, "tracing_on"), "1\n");
  writeFileSync(join(d, "current_tracer"), "function\n");
  writeFileSync(join(d, "buffer_size_kb"), "7 (expanded: 1408)\n");
  writeFileSync(join(d, "trace"), "");
  writeFileSync(join(d, "trace_pipe"), "");
  writeFileSync(join(d, "events", "dma", "dma_map_phys", "enable"), "0\n");
  chmodSync(tmp, 0o755);
  return d;
}
