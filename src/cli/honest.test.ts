/**
 * Issue "Honest answers in every mode", each item of what was seen, as a user runs it: the built
 * binary (dist/src/cli/main.js) against the real /proc and /sys of this machine, as root and as
 * nobody (setpriv, no capabilities: the kernel hides frame numbers, fs/proc/task_mmu.c
 * pagemap_open show_pfn, and iomem addresses, kernel/resource.c r_show). Needs `npm run build`;
 * the live cases run only on Linux as root (setpriv needs it), the rest everywhere the build is.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = resolve(import.meta.dirname, "../../dist/src/cli/main.js");
const built = existsSync(BIN) || !!process.env.CI;
const live =
  built && process.platform === "linux" && process.getuid?.() === 0 && existsSync("/usr/bin/setpriv");
const NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"];
const dir = mkdtempSync(join(tmpdir(), "phyr-honest-"));

function phyr(args: string[], o: { nobody?: boolean; env?: Record<string, string> } = {}) {
  const cmd = o.nobody ? "/usr/bin/setpriv" : process.execPath;
  const argv = o.nobody ? [...NOBODY, process.execPath, BIN, ...args] : [BIN, ...args];
  const r = spawnSync(cmd, argv, {
    encoding: "utf8",
    cwd: dir,
    env: { ...process.env, FORCE_COLOR: "", COLUMNS: "", ...o.env },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const oneLine = (s: string) => s.trim().split("\n").length === 1;
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(tmpdir(), `phyr-nobody-${process.pid}.ndjson`), { force: true });
});

describe.skipIf(!live)("as an unprivileged user (items 1 and 2)", () => {
  it("analyze --pid 1 exits 1 with one line saying why and what to do, not the reference machine's systemd", () => {
    const r = phyr(["analyze", "--pid", "1"], { nobody: true });
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(oneLine(r.err)).toBe(true);
    expect(r.err).toMatch(
      /^phyr: error: physical frame numbers are hidden without CAP_SYS_ADMIN .*: run as root, or use --reference .* or --snapshot FILE/,
    );
  });

  it("report exits 1 too: no virtual runs dressed as physical ('average run', 'packed ...x smaller')", () => {
    const r = phyr(["report", "--no-html"], { nobody: true });
    expect(r.code).toBe(1);
    expect(r.out).not.toMatch(/average run|smaller/);
  });

  it("topo shows this machine's PCI tree (sysfs is readable), and the physical map without the 0-0 sizes", () => {
    const n = readdirSync("/sys/bus/pci/devices").length;
    const r = phyr(["topo"], { nobody: true });
    expect(r.code).toBe(0);
    expect(r.out).not.toContain("phyr-reference");
    expect(r.out).toMatch(/^phyr topo — .* \(live, kernel /m);
    expect(r.out).toContain(`PCI (${n} functions)`);
    expect(r.out).toContain("addresses hidden (read as 0 without CAP_SYS_ADMIN): names only");
    expect(r.out).not.toMatch(/^0x0 +0x0 /m);
  });

  it("bare phyr shows the reference machine with the notice as its first line", () => {
    const r = phyr(["--no-html"], { nobody: true });
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toMatch(
      /^REFERENCE MACHINE: phyr's simulated server, not this computer; shown because physical frame numbers are hidden/,
    );
  });

  it("capture warns that frame numbers are hidden (the snapshot will hold no physical runs)", () => {
    // A directory nobody may write (the test's own is root's).
    const r = phyr(["capture", "--pid", "1", "-o", join(tmpdir(), `phyr-nobody-${process.pid}.ndjson`)], {
      nobody: true,
    });
    expect(r.err).toMatch(
      /^phyr: warning: physical frame numbers are hidden without CAP_SYS_ADMIN: this snapshot will hold no physical runs/m,
    ); // Analysing that snapshot, even as root, is refused: it holds no frame numbers.
    const a = phyr(["analyze", "--all", "--snapshot", join(tmpdir(), `phyr-nobody-${process.pid}.ndjson`)]);
    expect(a.code).toBe(1);
    expect(a.err).toMatch(
      /^phyr: error: snapshot .* has no physical frame numbers \(captured without CAP_SYS_ADMIN\)/,
    );
  });
});

describe.skipIf(!live)("as root on this machine (items 3, 4, 8, 10)", () => {
  let child: ChildProcess;
  let pid = 0;
  let va = 0;
  beforeAll(() => {
    child = spawn("sleep", ["120"], { stdio: "ignore" });
    pid = child.pid ?? 0;
    const first = readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")[0];
    va = Number.parseInt(first.split("-")[0], 16);
  });
  afterAll(() => {
    child?.kill();
  });

  it("the what-if rows are computed from the buffer read, and the model scenarios are not in it", () => {
    const r = phyr(["analyze", "--pid", String(pid), "--json"]);
    expect(r.code).toBe(0);
    const a = JSON.parse(r.out);
    expect(a.scenarios).toEqual([]);
    const b = a.buffers[0];
    expect(a.whatIf[0].pid).toBe(pid);
    // VFIO type1 pins every page and maps every physical run; the range pin returns one entry per run.
    expect(a.whatIf[0].vfio.kernel.pinOps).toBe(b.pages);
    expect(a.whatIf[0].vfio.kernel.iommuMaps).toBe(b.runs);
    expect(a.whatIf[0].vfio.design.pinOps).toBe(b.runs);
    expect(a.whatIf[0].rdma.entries4k).toBe(b.rdma[0].entries4k);
    const text = phyr(["analyze", "--pid", String(pid)]);
    expect(text.out).toMatch(
      /^What if the largest buffer were handed to a device \(computed from the runs read\)$/m,
    );
    expect(text.out).not.toMatch(/scenario/);
  });

  it("ends the summary with a verdict computed from the data", () => {
    const r = phyr(["analyze", "--pid", String(pid), "--json"]);
    const a = JSON.parse(r.out);
    const h = a.total.histogram.bytes as number[];
    const share2M = h.slice(9).reduce((s: number, x: number) => s + x, 0) / (a.total.pages * 4096);
    expect(a.verdict.shareRuns2M).toBeCloseTo(share2M, 12);
    const text = phyr(["analyze", "--pid", String(pid)]).out.split("\n");
    const at = text.indexOf("Verdict");
    expect(at).toBeGreaterThan(0);
    expect(text[at + 1]).toMatch(
      /^[\d.]+% of the [\d.]+ [KMG]iB read is in physically contiguous runs of 2 MiB or more/,
    );
  });

  it("a --range outside every VMA is refused in one line; one on pages not present says it is empty, in one line and in JSON", () => {
    const outside = phyr(["analyze", "--pid", String(pid), "--range", "0x1000:4K"]);
    expect(outside.code).toBe(1);
    expect(oneLine(outside.err)).toBe(true);
    // A VMA with nothing resident (smaps Rss 0): its first page is mapped but not present.
    let start = "";
    for (const l of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
      const m = /^([0-9a-f]+)-[0-9a-f]+ /.exec(l);
      if (m) start = m[1];
      else if (/^Rss: +0 kB$/.test(l) && start && !start.startsWith("ffffffffff")) break;
    }
    const range = `0x${start}:4K`;
    const r = phyr(["analyze", "--pid", String(pid), "--range", range]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^! empty result: no present pages \(1 unmapped, 0 swapped out\)$/m);
    expect(r.out).toMatch(
      new RegExp(`^! --range covers 1 page of pid ${pid}: 0 present, 1 not present, 0 swapped out$`, "m"),
    );
    const j = JSON.parse(phyr(["analyze", "--pid", String(pid), "--range", range, "--json"]).out);
    expect(j.completeness.status).toBe("empty");
  });

  it("a misaligned --range is reported as widened to whole pages", () => {
    const r = phyr(["analyze", "--pid", String(pid), "--range", `0x${(va + 1).toString(16)}:10`, "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.completeness.status).toBe("partial");
    expect(j.completeness.notes).toContain(
      `--range 0x${(va + 1).toString(16)}:10 was widened to whole 4 KiB pages: 0x${va.toString(16)}+0x1000`,
    );
  });

  it("a kernel thread (pid 2) says it has no user memory", () => {
    const comm = readFileSync("/proc/2/comm", "utf8").trim();
    const r = phyr(["analyze", "--pid", "2"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`! pid 2 (${comm}) has no user memory: no VMAs (a kernel thread)`);
    expect(r.out).toMatch(/^! empty result: no present pages were read$/m);
  });

  it("--pid takes a process name (every process of that name, like pgrep -x)", () => {
    // Two processes with a name no other process has: a copy of sleep under that name.
    const name = `phyrsl${process.pid % 100000}`;
    const exe = join(dir, name);
    copyFileSync("/bin/sleep", exe);
    chmodSync(exe, 0o755);
    const kids = [spawn(exe, ["60"], { stdio: "ignore" }), spawn(exe, ["60"], { stdio: "ignore" })];
    try {
      const named = () => kids.every((k) => readFileSync(`/proc/${k.pid}/comm`, "utf8").trim() === name);
      for (let i = 0; i < 100 && !named(); i++) spawnSync("sleep", ["0.05"]);
      const r = phyr(["analyze", "--pid", name, "--json"]);
      expect(r.code, r.err).toBe(0);
      const pids = JSON.parse(r.out).buffers.map((b: { pid: number }) => b.pid);
      expect(pids.sort()).toEqual(kids.map((k) => k.pid).sort());
    } finally {
      for (const k of kids) k.kill();
    }
  });

  it("capture --pid 999999 exits 1 like analyze, writing nothing", () => {
    const out = join(dir, "none.ndjson");
    const r = phyr(["capture", "--pid", "999999", "-o", out]);
    expect(r.code).toBe(1);
    expect(r.err).toBe("phyr: error: pid 999999 is invalid: no such process\n");
    expect(existsSync(out)).toBe(false);
    expect(phyr(["analyze", "--pid", "999999"]).code).toBe(1);
  });

  it("a snapshot with no processes says the result is empty", () => {
    const snap = join(dir, "one.ndjson");
    expect(phyr(["capture", "--pid", String(pid), "-o", snap]).code).toBe(0);
    const kept = readFileSync(snap, "utf8")
      .trim()
      .split("\n")
      .filter((l) => !/^\{"type":"(process|vma|runs|end)"/.test(l));
    const empty = join(dir, "empty.ndjson");
    writeFileSync(empty, `${[...kept, JSON.stringify({ type: "end", records: kept.length })].join("\n")}\n`);
    const r = phyr(["report", "--snapshot", empty, "--no-html"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^! empty result: no present pages were read$/m);
    expect(r.out).toContain("No present pages were read, so there is nothing to conclude.");
  });
});

describe.skipIf(!built)("any machine (items 7, 9, 10, 11)", () => {
  it("the RDMA row shows the registration count and each registration's best page size", () => {
    const r = phyr(["analyze", "--reference", "--pid", "2871", "--wide"]);
    expect(r.code).toBe(0);
    const head = r.out.split("\n").find((l) => l.startsWith("RDMA page sizes"));
    expect(head).toMatch(/registrations +best page per registration +MTT entries \(sum\) +at 4 KiB/);
    const j = JSON.parse(phyr(["analyze", "--reference", "--pid", "2871", "--json"]).out);
    const rd = j.buffers[0].rdma[0];
    expect(rd.bestPageSizes.reduce((s: number, b: { registrations: number }) => s + b.registrations, 0)).toBe(
      rd.registrations,
    );
  });

  it("tables fit COLUMNS, list the top N with '... N more', sort by name; --wide gives full width", () => {
    const r = phyr(["analyze", "--reference", "--all", "--top", "2", "--sort", "name"], {
      env: { COLUMNS: "80" },
    });
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    const rows = lines.filter((l) => /^ *\d+ {2}\S/.test(l) && /\d+ \w+ +\d/.test(l));
    expect(rows[0]).toMatch(/^ *1877 {2}java/);
    expect(lines).toContain("... 3 more (--top N lists more)");
    // Table lines (two or more columns separated by two spaces) fit; sentences may wrap.
    const table = lines.filter(
      (l) =>
        / {2}\S/.test(l) &&
        !/^(!|phyr|REFERENCE|\d+\.\d+%|THP|IOMMU {2}|IOMMU:|Smallest|VFIO:|RDMA:|NVMe:|PCI |Physical map|Memory read)/.test(
          l,
        ),
    );
    for (const l of table) expect(l.length, l).toBeLessThanOrEqual(80);
    const wide = phyr(["analyze", "--reference", "--all", "--wide"], { env: { COLUMNS: "80" } });
    expect(Math.max(...wide.out.split("\n").map((l) => l.length))).toBeGreaterThan(80);
  });

  it("report --json writes no report.html unless -o is given, and says so when it does", () => {
    const cwd = mkdtempSync(join(tmpdir(), "phyr-json-"));
    const r = spawnSync(process.execPath, [BIN, "report", "--reference", "--json"], {
      encoding: "utf8",
      cwd,
      maxBuffer: 2 ** 26,
    });
    expect(r.status).toBe(0);
    expect(existsSync(join(cwd, "report.html"))).toBe(false);
    const o = join(cwd, "r.html");
    const w = spawnSync(process.execPath, [BIN, "report", "--reference", "--json", "-o", o], {
      encoding: "utf8",
      cwd,
      maxBuffer: 2 ** 26,
    });
    expect(w.stderr).toContain(`phyr: report written to ${o}`);
    expect(existsSync(o)).toBe(true);
  });

  it("conflicting flags are usage errors; --help says what phyr alone does", () => {
    const r = phyr(["report", "--reference", "--no-html", "-o", "x.html"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe("phyr: error: --no-html and -o/--out conflict: give one of them\n");
    const h = phyr(["--help"]);
    expect(h.out).toContain("`phyr` with no command runs `phyr report`");
    expect(phyr(["analyze", "--help"]).out).toMatch(
      /Exit codes:\n {2}0 {2}done; an empty or partial result says so/,
    );
  });

  it("phyr explain IOTLB gives the term and its kernel source", () => {
    const r = phyr(["explain", "IOTLB"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^iotlb\n {2}The IOMMU's translation cache.*\n {2}source: include\/linux\/iommu\.h/,
    );
  });
});
