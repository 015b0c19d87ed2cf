/**
 * Every write whole or not at all, through the built binary: standard output onto a full device
 * or file system is a one-line error with exit 1; `report -o` and `capture -o` onto a full file
 * system leave the old file as it was; a symlink planted at report.html is replaced, not
 * followed; five captures to one path at once leave one loadable snapshot. The full file system
 * is a 64 KiB tmpfs mounted by the test (root only; skipped without root outside CI). Needs
 * `npm run build` first.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSnapshot } from "../linux/index.js";

const BIN = resolve(import.meta.dirname, "../../dist/src/cli/main.js");
const skip = !existsSync(BIN) && !process.env.CI;
const fx = (p: string) => fileURLToPath(new URL(`../linux/fixtures/${p}`, import.meta.url));
const ENV = {
  ...process.env,
  FORCE_COLOR: "",
  PHYR_PROC_ROOT: fx("vm-root/proc"),
  PHYR_SYS_ROOT: fx("vm-root/sys"),
};
const dir = mkdtempSync(join(tmpdir(), "phyr-writes-"));
const isRoot = process.getuid?.() === 0;
const tiny = join(dir, "tiny");
let mounted = false;

beforeAll(() => {
  if (!isRoot) return;
  mkdirSync(tiny);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", tiny]);
  mounted = true;
});
afterAll(() => {
  if (mounted) execFileSync("umount", [tiny]);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs phyr with stdout sent to `outPath` (opened for writing), stderr captured. */
function phyrTo(outPath: string, args: string[], cwd = dir) {
  const fd = openSync(outPath, "w");
  try {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: ENV,
      cwd,
      stdio: ["ignore", fd, "pipe"],
      encoding: "utf8",
      timeout: 60_000,
    });
    return { code: r.status, err: r.stderr, ms: Date.now() - t0 };
  } finally {
    closeSync(fd);
  }
}

function phyr(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: ENV, cwd, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const oneErrorLine = (err: string, re: RegExp) => {
  const lines = err
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("phyr: error"));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  expect(err).not.toMatch(/\n\s+at /); // no stack trace
};

/** Fills the tiny file system up to its last few bytes. */
function fill(name: string): void {
  const fd = openSync(join(tiny, name), "w");
  const block = Buffer.alloc(1024, 120);
  try {
    for (;;) writeFileSync(fd, block);
  } catch {
    // ENOSPC: full
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(skip)("standard output onto a full device or file system", () => {
  it("phyr topo --reference > /dev/full: one line, exit 1, no stack (text and --json)", () => {
    for (const json of [[], ["--json"]]) {
      const r = phyrTo("/dev/full", ["topo", "--reference", ...json]);
      expect(r.code).toBe(1);
      oneErrorLine(r.err, /^phyr: error: cannot write to standard output: ENOSPC/);
    }
  });

  it.skipIf(!isRoot && !process.env.CI)(
    "--json onto a full tmpfs exits 1 with one line, not 0 with cut JSON",
    () => {
      fill("filler-json");
      const r = phyrTo(join(tiny, "out.json"), ["topo", "--reference", "--json"]);
      expect(r.code).toBe(1);
      oneErrorLine(r.err, /cannot write to standard output: ENOSPC/);
      rmSync(join(tiny, "filler-json"));
      rmSync(join(tiny, "out.json"));
    },
  );
});

describe.skipIf(skip)("output files are written whole or not at all", () => {
  it.skipIf(!isRoot && !process.env.CI)(
    "report -o and capture -o onto a full tmpfs exit 1 and leave the old files as they were",
    () => {
      writeFileSync(join(tiny, "report.html"), "old report");
      writeFileSync(join(tiny, "s.jsonl"), "old snapshot");
      fill("filler-files");
      const rep = phyr(["report", "--reference", "-o", join(tiny, "report.html")]);
      expect(rep.code).toBe(1);
      oneErrorLine(rep.err, /cannot write the report to .*report\.html: ENOSPC/);
      const cap = phyr(["capture", "-o", join(tiny, "s.jsonl")]);
      expect(cap.code).toBe(1);
      oneErrorLine(cap.err, /cannot capture to .*s\.jsonl: ENOSPC/);
      expect(readFileSync(join(tiny, "report.html"), "utf8")).toBe("old report");
      expect(readFileSync(join(tiny, "s.jsonl"), "utf8")).toBe("old snapshot");
      // No temporary file is left behind.
      expect(readdirSync(tiny).filter((n) => n.endsWith(".tmp"))).toEqual([]);
      rmSync(join(tiny, "filler-files"));
    },
  );

  it("report.html planted as a symlink in the working directory is replaced, not followed", () => {
    const cwd = mkdtempSync(join(dir, "cwd-"));
    const victim = join(dir, "victim.txt");
    writeFileSync(victim, "precious");
    symlinkSync(victim, join(cwd, "report.html"));
    const r = phyr(["report", "--reference"], cwd);
    expect(r.code).toBe(0);
    expect(readFileSync(victim, "utf8")).toBe("precious");
    expect(lstatSync(join(cwd, "report.html")).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(cwd, "report.html"), "utf8")).toMatch(/^<!doctype html>/i);
  });

  it("5 parallel captures to one path leave one whole, loadable snapshot", async () => {
    const out = join(dir, "s.jsonl");
    const runs = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          new Promise<{ code: number | null; err: string }>((done) => {
            const c = spawn(process.execPath, [BIN, "capture", "-o", out], {
              env: ENV,
              stdio: ["ignore", "ignore", "pipe"],
            });
            let err = "";
            c.stderr.on("data", (d) => {
              err += d;
            });
            c.on("close", (code) => done({ code, err }));
          }),
      ),
    );
    expect(
      runs.map((r) => r.code),
      runs.map((r) => r.err).join(""),
    ).toEqual([0, 0, 0, 0, 0]);
    const snap = await loadSnapshot(out);
    expect(snap.processes().map((p) => p.pid)).toEqual([9803]);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  }, 60_000);
});
