/**
 * `phyr bench` fails when it should: a selection that matches nothing is a usage error (exit 2),
 * a target not met is exit 1. The end-to-end case runs the built runner (dist/bench/main.js);
 * skipped only when the build is missing and CI is not set.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { benchExitCode, targetsMissed } from "../bench/harness.js";

const BIN = resolve(import.meta.dirname, "../dist/src/cli/main.js");
const skip = !existsSync(resolve(import.meta.dirname, "../dist/bench/main.js")) && !process.env.CI;

describe("bench exit codes", () => {
  const row = (ok?: boolean) => ({
    name: "x",
    value: 1,
    unit: "ns",
    ratio: { against: "y", value: 2, want: ">= 3x", ok },
  });

  it("counts every row whose ratio missed its target, in every suite", () => {
    expect(targetsMissed([{ rows: [row(true), row(false)] }, { rows: [row(false), row(undefined)] }])).toBe(
      2,
    );
    expect(targetsMissed([{ rows: [row(true)] }])).toBe(0);
  });

  it.each([
    [{ suitesRun: 0, only: true, missed: 0 }, 2],
    [{ suitesRun: 3, only: true, missed: 0 }, 0],
    [{ suitesRun: 3, only: false, missed: 4 }, 1],
    [{ suitesRun: 5, only: false, missed: 0 }, 0],
  ])("%j -> exit %i", (o, code) => {
    expect(benchExitCode(o)).toBe(code);
  });

  it.skipIf(skip)("phyr bench --only nosuch exits 2 naming the suites, not 'all targets met'", () => {
    const r = spawnSync(process.execPath, [BIN, "bench", "--only", "nosuch"], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status).toBe(2);
    expect(r.stdout).not.toContain("all targets met");
    expect(r.stderr).toMatch(/^phyr: error: --only "nosuch" matches no suite: expected part of one of /);
  });
});
