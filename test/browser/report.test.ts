/**
 * The HTML report in real Chromium (Debian's /usr/bin/chromium driven by playwright-core,
 * headless, no sandbox, no GPU, background networking off): every section renders, every chart
 * draws (pixels of its first series colour on its canvas), no console errors, no network request,
 * hostile names stay text. Reports checked: a hand-made analysis full of hostile text; the report
 * `phyr report --reference` writes (what a newcomer without root sees); the report of this machine
 * (root only); and reports built through the whole pipeline with hostile process names — a copy
 * of a VM's /proc whose process is named `<img src=x onerror=alert(1)>` (any user), and real
 * processes renamed through /proc/self/comm (root only: without it frame numbers are hidden and
 * processes have no runs to list) — captured with `phyr capture`, loaded with `phyr report --snapshot`. Screenshots are kept
 * under artifacts/. Skipped only when /usr/bin/chromium is missing and CI is not set (in CI a
 * missing browser fails the test).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliIo, main } from "../../src/cli/index.js";
import { renderReportHtml } from "../../src/report/index.js";
import { HOSTILE_NAME, sampleAnalysis } from "./sample-analysis.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = !existsSync(CHROMIUM) && !process.env.CI;
const root = process.platform === "linux" && process.getuid?.() === 0;
const ARTIFACTS = resolve(import.meta.dirname, "../../artifacts");
const require = createRequire(import.meta.url);

const SECTIONS = ["summary", "physmap", "runs", "formats", "iommu", "devices", "pci", "p2p", "scenarios"];
const CHARTS = [
  "chart-physmap",
  "chart-runs",
  "chart-formats",
  "chart-iommu",
  "chart-iommu-sizes",
  "chart-scenarios",
];

/** What a loaded report page showed. */
interface Seen {
  page: Page;
  errors: string[];
  requests: string[];
  dialogs: number;
  sections: string[];
  /** Per chart: canvas width and the number of pixels in its first series colour (#1f77b4). */
  charts: { id: string; w: number; painted: number }[];
  /** The "vs page array" column of the representation table. */
  formatRatios: string[];
}

async function open(browser: Browser, file: string, screenshot: string): Promise<Seen> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const seen: Seen = {
    page,
    errors: [],
    requests: [],
    dialogs: 0,
    sections: [],
    charts: [],
    formatRatios: [],
  };
  page.on("console", (m) => {
    if (m.type() === "error") seen.errors.push(m.text());
  });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  page.on("request", (r) => {
    if (!r.url().startsWith("file:")) seen.requests.push(r.url());
  });
  page.on("dialog", async (d) => {
    seen.dialogs++;
    await d.dismiss();
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector("body[data-rendered=true]", { timeout: 20_000 });
  await page.screenshot({ path: join(ARTIFACTS, screenshot), fullPage: true });
  seen.sections = await page.$$eval("section", (s) => s.map((x) => x.id));
  seen.formatRatios = await page.$$eval("#formats table.formats tbody tr", (rows) =>
    rows.map((r) => r.children[2].textContent ?? ""),
  );
  seen.charts = await page.$$eval(".chart", (boxes) =>
    boxes.map((box) => {
      const canvas = box.querySelector("canvas");
      if (!canvas) return { id: box.id, w: 0, painted: 0 };
      const img = canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height);
      let painted = 0;
      if (img) {
        for (let i = 0; i < img.data.length; i += 4) {
          const [r, g, b, a] = [img.data[i], img.data[i + 1], img.data[i + 2], img.data[i + 3]];
          if (a > 0 && Math.abs(r - 31) < 12 && Math.abs(g - 119) < 12 && Math.abs(b - 180) < 12) painted++;
        }
      }
      return { id: box.id, w: canvas.width, painted };
    }),
  );
  return seen;
}

/** Every section rendered, every chart drew its series, nothing fetched, no errors, no dialog. */
function expectComplete(seen: Seen, screenshot: string, charts = CHARTS): void {
  expect(seen.sections).toEqual(SECTIONS);
  expect(seen.charts.map((c) => c.id)).toEqual(charts);
  for (const c of seen.charts) {
    expect(c.w, c.id).toBeGreaterThan(0);
    expect(c.painted, c.id).toBeGreaterThan(50);
  }
  expect(seen.requests).toEqual([]);
  expect(seen.errors).toEqual([]);
  expect(seen.dialogs).toBe(0);
  expect(existsSync(join(ARTIFACTS, screenshot))).toBe(true);
  // "vs page array" says smaller or larger with a factor >= 1, never "0.29x smaller".
  for (const v of seen.formatRatios) expect(v).toMatch(/^([1-9]\d*\.\d\dx (smaller|larger)|-)$/);
}

function cliIo(cwd: string): CliIo & { err: () => string } {
  let err = "";
  return {
    stdout: { write: () => true, isTTY: false },
    stderr: { write: (t: string) => (err += t), isTTY: false },
    env: {},
    cwd,
    err: () => err,
  };
}

describe.skipIf(skip)("HTML report in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("a hand-made analysis full of hostile text: every section and chart, names as text, a screenshot", async () => {
    const html = renderReportHtml(sampleAnalysis(), {
      uplotJs: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
      uplotCss: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
    });
    const file = join(ARTIFACTS, "report-sample.html");
    writeFileSync(file, html);
    const seen = await open(browser, file, "report.png");
    expectComplete(seen, "report.png");
    const cells = await seen.page.$$eval("#runs table.procs td", (tds) => tds.map((td) => td.textContent));
    expect(cells).toContain(HOSTILE_NAME);
    expect(await seen.page.$$eval("img", (imgs) => imgs.length)).toBe(0);
    expect(await seen.page.title()).toBe(`phyr report — host${HOSTILE_NAME}`);
    // Defence in depth: markup injected after the fact cannot run script (CSP by hash).
    const ran = await seen.page.evaluate(async () => {
      const w = window as unknown as { pwned?: number };
      const box = document.createElement("div");
      box.innerHTML =
        '<img src="data:," onerror="window.pwned = 1"><img src="data:x" onerror="window.pwned = 2">';
      document.body.appendChild(box);
      await new Promise((r) => setTimeout(r, 200));
      return w.pwned ?? 0;
    });
    expect(ran).toBe(0);
    await seen.page.close();
  });

  it("the report `phyr report --reference` writes (what newcomers without root see) renders completely", async () => {
    const out = join(ARTIFACTS, "report-reference.html");
    const io = cliIo(ARTIFACTS);
    expect(await main(["report", "--reference", "-o", out], io)).toBe(0);
    expect(io.err()).toBe("");
    const seen = await open(browser, out, "report-reference.png");
    expectComplete(seen, "report-reference.png");
    // The reference machine's own facts are on the page.
    const summary = await seen.page.$eval("#summary", (s) => s.textContent ?? "");
    expect(summary).toContain("phyr-reference");
    expect(summary).toContain("This is phyr's reference machine");
    const procs = await seen.page.$$eval("#runs table.procs tbody tr", (rows) => rows.length);
    expect(procs).toBe(5);
    const p2pCols = await seen.page.$$eval("#p2p table.p2p thead th", (th) => th.length);
    expect(p2pCols).toBe(1 + 16);
    await seen.page.close();
  });

  it.skipIf(!root)("the report `phyr report` writes for this machine renders completely", async () => {
    const out = join(ARTIFACTS, "report-live.html");
    const io = cliIo(ARTIFACTS);
    // Scenarios are the same simulated runs on every machine (drawn in the reference report).
    expect(await main(["report", "--no-scenarios", "-o", out], io)).toBe(0);
    expect(io.err()).toBe("");
    const seen = await open(browser, out, "report-live.png");
    expectComplete(
      seen,
      "report-live.png",
      CHARTS.filter((c) => c !== "chart-scenarios"),
    );
    await seen.page.close();
  });

  it("a hostile name read from /proc/PID/comm by the real readers, captured and reported, stays text (no root needed)", async () => {
    // A copy of a VM's /proc (read as root) whose one process is named HOSTILE_NAME: the readers,
    // capture, the snapshot loader, the analysis and the page all handle the name.
    const dir = mkdtempSync(join(tmpdir(), "phyr-hostile-fixture-"));
    const fixture = resolve(import.meta.dirname, "../../src/linux/fixtures/vm-root");
    cpSync(join(fixture, "proc"), join(dir, "proc"), { recursive: true });
    writeFileSync(join(dir, "proc/9803/comm"), `${HOSTILE_NAME}\n`);
    const io = {
      ...cliIo(dir),
      env: { PHYR_PROC_ROOT: join(dir, "proc"), PHYR_SYS_ROOT: join(fixture, "sys") },
    };
    expect(await main(["capture", "-o", "snap.ndjson"], io)).toBe(0);
    const out = join(ARTIFACTS, "report-hostile-fixture.html");
    expect(await main(["report", "--snapshot", "snap.ndjson", "--no-scenarios", "-o", out], io)).toBe(0);
    expect(io.err()).toBe("");
    expect(readFileSync(out, "utf8")).not.toContain(HOSTILE_NAME);
    const seen = await open(browser, out, "report-hostile-fixture.png");
    const names = await seen.page.$$eval("#runs table.procs tbody tr", (rows) =>
      rows.map((r) => r.children[1].textContent),
    );
    expect(names).toEqual([HOSTILE_NAME]);
    expect(await seen.page.$$eval("img", (x) => x.length)).toBe(0);
    expect(seen.dialogs).toBe(0);
    expect(seen.errors).toEqual([]);
    await seen.page.close();
  });

  describe.skipIf(!root)("hostile process names through capture, snapshot and report", () => {
    // TASK_COMM_LEN is 16: a live name holds at most 15 bytes. The first child keeps a hostile
    // name that fits; the second's name is set, in the snapshot, to the full acceptance name (a
    // snapshot carries names up to 64 characters).
    const SHORT = "<svg/onload=1>";
    const CHILD = `
import sys
open('/proc/self/comm', 'w').write(sys.argv[1])
buf = bytearray(8 * 1024 * 1024)
for i in range(0, len(buf), 4096): buf[i] = 1
print('ready', flush=True)
sys.stdin.read()
`;
    const children: ChildProcess[] = [];
    const spawnChild = async (name: string): Promise<number> => {
      const c = spawn("python3", ["-c", CHILD, name], { stdio: ["pipe", "pipe", "inherit"] });
      children.push(c);
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: c.stdout! }).once("line", () => resolve());
        c.once("exit", (code) => reject(new Error(`python3 child exited with ${code}`)));
      });
      return c.pid!;
    };
    afterAll(() => {
      for (const c of children) {
        c.stdin?.end();
        c.kill();
      }
    });

    it("both names appear in report.html as text, never as markup", async () => {
      const a = await spawnChild(SHORT);
      const b = await spawnChild("phyr-hostile");
      expect(readFileSync(`/proc/${a}/comm`, "utf8")).toBe(`${SHORT}\n`);
      const dir = mkdtempSync(join(tmpdir(), "phyr-hostile-"));
      const snap = join(dir, "snap.ndjson");
      const io = cliIo(dir);
      expect(await main(["capture", "-o", snap, "--pid", String(a), "--pid", String(b)], io)).toBe(0);
      // Rename the second process in the snapshot to the full name.
      const lines = readFileSync(snap, "utf8").split("\n");
      let renamed = 0;
      const edited = lines.map((l) => {
        if (!l.includes('"type":"process"')) return l;
        const rec = JSON.parse(l);
        if (rec.pid !== b) return l;
        renamed++;
        return JSON.stringify({ ...rec, comm: HOSTILE_NAME });
      });
      expect(renamed).toBe(1);
      writeFileSync(snap, edited.join("\n"));
      const out = join(ARTIFACTS, "report-hostile.html");
      expect(await main(["report", "--snapshot", snap, "--no-scenarios", "-o", out], io)).toBe(0);
      expect(io.err()).toBe("");
      const html = readFileSync(out, "utf8");
      expect(html).not.toContain(HOSTILE_NAME);
      expect(html).not.toContain(SHORT);

      const seen = await open(browser, out, "report-hostile.png");
      expect(seen.sections).toEqual(SECTIONS);
      // Nearly one run per page here: scatterlist is larger than the page array.
      expect(seen.formatRatios[1]).toMatch(/^[1-9]\d*\.\d\dx larger$/);
      for (const v of seen.formatRatios) expect(v).toMatch(/^([1-9]\d*\.\d\dx (smaller|larger)|-)$/);
      const names = await seen.page.$$eval("#runs table.procs tbody tr", (rows) =>
        rows.map((r) => r.children[1].textContent),
      );
      expect(names.sort()).toEqual([SHORT, HOSTILE_NAME].sort());
      expect(await seen.page.$$eval("img", (x) => x.length)).toBe(0);
      expect(await seen.page.$$eval("svg", (x) => x.length)).toBe(0);
      expect(seen.dialogs).toBe(0);
      expect(seen.requests).toEqual([]);
      expect(seen.errors).toEqual([]);
      await seen.page.close();
    });
  });
});
