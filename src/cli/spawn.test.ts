/**
 * The built binary (dist/src/cli/main.js, the package bin) run as a real process: exit codes,
 * one-line errors, no colour when stdout is a pipe, and invocation through a symlink (as npm
 * installs the bin). Needs `npm run build` first; skipped only when the build is missing and CI
 * is not set.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const BIN = resolve(import.meta.dirname, "../../dist/src/cli/main.js");
const skip = !existsSync(BIN) && !process.env.CI;

function phyr(args: string[], bin = BIN, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "", ...env },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(skip)("built phyr binary", () => {
  it("--version prints the version and exits 0", () => {
    const r = phyr(["--version"]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("0.1.0");
  });

  it("bad input exits 2 (usage) or 1 (failure) with one line on stderr and no stack trace", () => {
    const usage = phyr(["analyze", "--pid", "12", "--range", "12:zz"]);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/^phyr: error: --range "12:zz" is invalid: /);
    expect(usage.err.trim().split("\n")).toHaveLength(1);
    const failure = phyr(["analyze", "--snapshot", "/nonexistent/snap.ndjson", "--all"]);
    expect(failure.code).toBe(1);
    expect(failure.err).toMatch(/^phyr: error: cannot read snapshot \/nonexistent\/snap\.ndjson: ENOENT/);
    expect(failure.err.trim().split("\n")).toHaveLength(1);
  });

  it.skipIf(process.platform !== "linux")(
    "topo through a symlinked bin prints the tree without colour on a pipe",
    () => {
      const link = join(mkdtempSync(join(tmpdir(), "phyr-bin-")), "phyr");
      symlinkSync(BIN, link);
      const r = phyr(["topo"], link);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Physical map \(\d+ regions\)$/m);
      expect(r.out).not.toContain("\u001b[");
    },
  );

  it("a reader that closes the pipe early (phyr simulate | head) ends phyr quietly: exit 0, no stack", async () => {
    const child = spawn(process.execPath, [BIN, "simulate"], {
      env: { ...process.env, FORCE_COLOR: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy(); // no reader left before phyr writes its first line
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(err).toBe("");
    expect(code).toBe(0);
  });

  it("with no readable /proc, report fails in one line; bare phyr shows the reference machine, saying so first", () => {
    const proc = mkdtempSync(join(tmpdir(), "phyr-noproc-"));
    const r = phyr(["report", "--no-html"], BIN, { PHYR_PROC_ROOT: proc });
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `phyr: error: cannot read a live Linux machine: ${proc} is not readable here (phyr reads /proc and /sys): use --reference or --snapshot FILE\n`,
    );
    const bare = phyr(["--no-html"], BIN, { PHYR_PROC_ROOT: proc });
    expect(bare.code).toBe(0);
    expect(bare.err).toBe("");
    expect(bare.out.split("\n")[0]).toBe(
      `REFERENCE MACHINE: phyr's simulated server, not this computer; shown because ${proc} is not readable here (run as root, or use --snapshot FILE, for a real machine)`,
    );
    expect(bare.out.split("\n")[1]).toMatch(
      /^phyr — phyr-reference \(reference, kernel phyr-reference-machine-1, 4 KiB pages/,
    );
  });
});
