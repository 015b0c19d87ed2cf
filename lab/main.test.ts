/**
 * `npm run lab` as a real process (dist/lab/main.js, built by `npm run build`): the scenario list,
 * and bad input refused with one line and exit 2 before anything is installed or booted. Skipped
 * only when the build is missing and CI is not set.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { hasInterpreter } from "./run.js";
import { SCENARIOS } from "./scenarios.js";

const BIN = resolve(import.meta.dirname, "../dist/lab/main.js");
const skip = !existsSync(BIN) && !process.env.CI;

function lab(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(skip)("npm run lab (built)", () => {
  it("--list prints every scenario with its description, exit 0", () => {
    const r = lab(["--list"]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(SCENARIOS.map((s) => s.name));
    expect(lines[0]).toContain(SCENARIOS[0].description);
  });

  it("an unknown scenario is exit 2 with one line naming it and the choices", () => {
    const r = lab(["nvme-nope"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^lab: Unknown lab scenario "nvme-nope": expected one of nvme-scattered4k, /);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.out).toBe("");
  });

  it("a bad --kernel suite and a missing scenario are usage errors (exit 2)", () => {
    const suite = lab(["--kernel", "oldstable", "nvme-hugetlb"]);
    expect(suite.code).toBe(2);
    expect(suite.err).toMatch(/expected "unstable" \(newest Debian kernel\) or "stable", got "oldstable"/);
    const none = lab([]);
    expect(none.code).toBe(2);
    expect(none.err.trim()).toBe('lab: name a scenario (see --list) or "all"');
  });
});

describe("hasInterpreter", () => {
  it("tells a dynamically linked executable (node) from a static one, and refuses a non-ELF file", () => {
    expect(hasInterpreter(readFileSync(process.execPath))).toBe(true);
    if (
      existsSync("/bin/busybox") &&
      spawnSync("dpkg", ["-S", "/bin/busybox"]).stdout?.includes("busybox-static")
    ) {
      expect(hasInterpreter(readFileSync("/bin/busybox"))).toBe(false);
    }
    expect(() => hasInterpreter(Buffer.from("#!/bin/sh\n".padEnd(64)))).toThrow(
      /not a 64-bit ELF executable/,
    );
  });
});
