/**
 * Live test of the permission path: the readers run in a Node process as nobody (setpriv, no
 * capabilities) against the real /proc, reading a child that maps 64 MiB with MADV_HUGEPAGE and
 * writes every page. Without CAP_SYS_ADMIN the kernel hides frames (fs/proc/task_mmu.c
 * pagemap_open: show_pfn = file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN)), prints iomem
 * addresses as 0 (kernel/resource.c r_show) and refuses /proc/kpageflags (mode 0400). The readers
 * must detect each, say how to get them, and still count pages and the THP share; root then reads
 * the same child to check the counts. The reader modules are transpiled with TypeScript into a
 * directory nobody can read. Skipped only when not on Linux or not root.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { firstLine } from "../../test/child-line.js";
import { RunKind } from "../machine/index.js";
import { ROOT_HINT } from "./access.js";
import { classifyRuns, openKpageflags } from "./kpageflags.js";
import { readSmaps } from "./maps.js";
import { readPagemapRuns } from "./pagemap.js";

const SIZE = 64 << 20;
const PAGES = SIZE / 4096;
const live = process.platform === "linux" && process.getuid?.() === 0;
const NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"];
const src = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = live ? mkdtempSync(join(tmpdir(), "phyr-nobody-")) : "";
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const CHILD = `
import mmap, sys, ctypes
m = mmap.mmap(-1, ${SIZE}, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
m.madvise(mmap.MADV_HUGEPAGE)
for off in range(0, ${SIZE}, 4096):
    m[off] = 1
print(hex(ctypes.addressof(ctypes.c_char.from_buffer(m))), flush=True)
sys.stdin.read()
`;

/** Runs as nobody: starts the child, reads it with the phyr readers, prints one JSON line, waits. */
const RUNNER = `
import { spawn } from "node:child_process";
import { once } from "node:events";
import { probeAccess } from "./linux/access.js";
import { iomemAddressesHidden, readIomem } from "./linux/iomem.js";
import { openKpageflags } from "./linux/kpageflags.js";
import { readSmaps } from "./linux/maps.js";
import { readPagemapRuns } from "./linux/pagemap.js";
const child = spawn("/usr/bin/python3", ["-c", ${JSON.stringify(CHILD)}], { stdio: ["pipe", "pipe", "inherit"] });
let out = "";
while (!out.includes("\\n")) out += String((await once(child.stdout, "data"))[0]);
const addr = Number.parseInt(out.trim(), 16);
const pid = child.pid;
const probe = probeAccess({ pid });
const vma = readSmaps(pid).find((v) => v.start <= addr && addr < v.end);
const r = readPagemapRuns(pid, addr, addr + ${SIZE});
r.checkValid();
let kpageflagsError = "";
try { openKpageflags().close(); } catch (e) { kpageflagsError = e.code; }
const runs = [];
for (let i = 0; i < r.count; i++) runs.push([r.va[i], r.pfn[i], r.npages[i], r.flags[i]]);
console.log(JSON.stringify({
  uid: process.getuid(), pid, addr, probe, kpageflagsError,
  iomemHidden: iomemAddressesHidden(readIomem()),
  vma: { start: vma.start, end: vma.end, anonHugePages: vma.anonHugePages, rss: vma.rss },
  pages: { present: r.presentPages, hidden: r.hiddenPages, swapped: r.swappedPages, unmapped: r.unmappedPages, framesHidden: r.framesHidden },
  runs,
}));
process.stdin.resume();
await once(process.stdin, "end");
child.kill();
`;

/** Transpiles src/core and the reader modules into `dir` (world-readable) and writes the runner. */
async function prepare(): Promise<string> {
  const ts = (await import("typescript")).default;
  const files = [
    ...readdirSync(join(src, "core"))
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .map((f) => `core/${f}`),
    ...["access", "io", "iomem", "kpageflags", "maps", "pagemap", "processes"].map((f) => `linux/${f}.ts`),
    // The run store and the reader shapes, defined beside the model (machine/, no Node API).
    "machine/page-runs.ts",
    "machine/source-types.ts",
  ];
  for (const f of files) {
    const out = ts.transpileModule(readFileSync(join(src, f), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f.replace(/\.ts$/, ".js")), out);
  }
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
  writeFileSync(join(dir, "runner.mjs"), RUNNER);
  for (const d of [dir, join(dir, "core"), join(dir, "linux"), join(dir, "machine")]) chmodSync(d, 0o755);
  return join(dir, "runner.mjs");
}

describe.skipIf(!live)("live, as nobody: the readers without CAP_SYS_ADMIN", () => {
  it("detect hidden frames, iomem and kpageflags, say how to get them, and still count pages and the THP share", async () => {
    const runner = spawn("setpriv", [...NOBODY, process.execPath, await prepare()], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    try {
      const out = await firstLine(runner, "runner exited before printing");
      const seen = JSON.parse(out);
      expect(seen.uid).toBe(65534);

      // Detected, said plainly, with the way to get it.
      expect(seen.probe).toMatchObject({
        pagemapFrames: "hidden",
        kpageflags: "unreadable",
        iomemAddresses: "hidden",
        capSysAdmin: false,
      });
      expect(seen.kpageflagsError).toBe("EACCES");
      expect(seen.iomemHidden).toBe(true);
      expect(seen.probe.messages.length).toBe(3);
      for (const m of seen.probe.messages) expect(m).toContain(ROOT_HINT);
      expect(seen.probe.messages[0]).toContain("THP share");

      // Still known: every page of the region present, all frames read as 0; runs by VA only.
      expect(seen.pages).toEqual({
        present: PAGES,
        hidden: PAGES,
        swapped: 0,
        unmapped: 0,
        framesHidden: true,
      });
      let sum = 0;
      for (const [va, pfn, n] of seen.runs as number[][]) {
        expect(pfn).toBe(0);
        sum += n;
        expect(va).toBeGreaterThanOrEqual(seen.addr);
      }
      expect(sum).toBe(PAGES);

      // Root reads the same child: the same page count, real frames, and the THP share nobody
      // saw in smaps equals the THP pages kpageflags shows.
      expect(seen.vma.anonHugePages).toBeGreaterThan(0); // nobody still sees the THP share
      const rootVma = readSmaps(seen.pid).find((v) => v.start === seen.vma.start)!;
      expect(rootVma.anonHugePages).toBe(seen.vma.anonHugePages);
      const src = openKpageflags();
      try {
        const r = classifyRuns(readPagemapRuns(seen.pid, seen.vma.start, seen.vma.end), src);
        r.checkValid();
        expect(r.hiddenPages).toBe(0);
        expect(r.pagesOfKind(RunKind.THP) * 4096).toBe(seen.vma.anonHugePages);
        const region = readPagemapRuns(seen.pid, seen.addr, seen.addr + SIZE);
        expect(region.presentPages).toBe(PAGES);
      } finally {
        src.close();
      }
    } finally {
      runner.stdin.end();
      if (runner.exitCode === null && runner.signalCode === null) await once(runner, "exit");
    }
  }, 30_000);
});
