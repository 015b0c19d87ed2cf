/**
 * `phyr simulate` as a user runs it (the built binary, dist/): a size above the memory budget is
 * refused at once with the estimate; a size within it runs in a worker, says "running" after a
 * second (a bar on a terminal), and the process's peak RSS (getrusage, and /usr/bin/time where it
 * exists) stays within the estimate. Needs `npm run build`; skipped only when the build is
 * missing and CI is not set.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { GiB } from "../../test/kit/index.js";
import { planScenario } from "../scenarios/index.js";

const BIN = resolve(import.meta.dirname, "../../dist/src/cli/main.js");
const skip = !existsSync(BIN) && !process.env.CI;

function phyr(args: string[], timeout = 120_000) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "" },
    timeout,
  });
  return { code: r.status, out: r.stdout, err: r.stderr, ms: performance.now() - t0 };
}

describe.skipIf(skip)("phyr simulate, spawned", () => {
  it("vfio-1g --size 16T is refused at once (exit 2) with the memory estimate, building nothing", () => {
    const r = phyr(["simulate", "vfio-1g", "--size", "16T"]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(
      /^phyr: error: --size 16 TiB for vfio-1g needs about 20.4 GiB of memory \(estimate\), more than the budget of [\d.]+ [GM]iB \((75% of the memory available now|--max-memory)\): give a smaller --size, or --max-memory to allow more\n$/,
    );
    // Before: 3 min 41 s and the OOM killer. Now node starts, checks and exits.
    expect(r.ms).toBeLessThan(10_000);
  });

  it.each([
    [["simulate", "vfio-1g", "--size", "64T"], /needs about 81.2 GiB of memory \(estimate\)/],
    [
      ["simulate", "devmem-rx", "--size", "64G"],
      /--size for devmem-rx: size 64 GiB .* is invalid: at most 22.6 GiB/,
    ],
    [["simulate", "vfio-1g", "--size", "1024T"], /--size for vfio-1g: size 1 PiB .* at most 64 TiB/],
  ])("%j is a clear refusal (exit 2), not a crash", (argv, msg) => {
    const r = phyr(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  it("a run within the budget says it is running after a second and its peak RSS stays within the estimate", () => {
    // 1 TiB: about 3 s on a quiet machine, so the 1 s progress threshold is always crossed (256 GiB
    // finished in 0.8 s on a quiet one).
    const size = 1024 * GiB;
    const plan = planScenario("vfio-1g", size);
    const time = existsSync("/usr/bin/time");
    const r = time
      ? spawnSync(
          "/usr/bin/time",
          ["-f", "maxrss %M", process.execPath, BIN, "simulate", "vfio-1g", "--size", "1 TiB", "--json"],
          {
            encoding: "utf8",
            timeout: 120_000,
          },
        )
      : spawnSync(process.execPath, [BIN, "simulate", "vfio-1g", "--size", "1 TiB", "--json"], {
          encoding: "utf8",
          timeout: 120_000,
        });
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.estimate.memoryBytes).toBe(plan.memoryBytes);
    expect(r.stderr).toMatch(/^phyr: vfio-1g at 1 TiB: estimate [\d.]+ [MG]iB of memory, [\d.]+ s \(budget /);
    expect(r.stderr).toMatch(/^phyr: still running after \d+\.\d s \(estimated [\d.]+ s\) \.\.\.$/m);
    expect(r.stderr).toMatch(/^phyr: done in [\d.]+ s, peak memory [\d.]+ [MG]iB$/m);
    // Peak RSS within the estimate, and the estimate not wildly above it (tolerance: a factor 2).
    const peak = doc.measured.peakRssBytes;
    expect(peak).toBeLessThanOrEqual(plan.memoryBytes);
    expect(peak).toBeGreaterThan(plan.memoryBytes / 2);
    if (time) {
      const kb = Number(/maxrss (\d+)/.exec(r.stderr)?.[1]);
      expect(kb * 1024).toBeLessThanOrEqual(plan.memoryBytes);
    }
  });

  it.skipIf(!existsSync("/usr/bin/script"))("on a terminal the run draws a progress bar on stderr", () => {
    const cmd = `${process.execPath} ${BIN} simulate vfio-1g --size 1T > /dev/null`;
    const r = spawnSync("/usr/bin/script", ["-qec", cmd, "/dev/null"], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /simulating \[[=-]+\] \d+s of ~\d+s \(estimated\) \| memory [\d.]+ [MG]iB of ~[\d.]+ [MG]iB/,
    );
  });

  it("a run that passes its budget while running is stopped (worker terminated), not killed", () => {
    // runWatched with a budget far below what vfio-1g at 64 GiB reaches (about 200 MiB).
    const mod = resolve(import.meta.dirname, "../../dist/src/cli/cmd-simulate.js");
    const script = `
      const m = await import(${JSON.stringify(mod)});
      const io = { stdout: process.stdout, stderr: process.stderr, env: {} };
      const plan = { size: 64 * 2 ** 30, memoryBytes: 2 ** 27, seconds: 1 };
      try { await m.runWatched(io, "vfio-1g", 1, plan, 120 * 2 ** 20); console.log("ran"); }
      catch (e) { console.log(e.name + ": " + e.message); }`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stdout).toMatch(
      /^CliFailure: vfio-1g stopped at [\d.]+ MiB of memory, above the budget of 120 MiB \(the estimate was 128 MiB\)/,
    );
  });
});
