import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { runMain } from "../../test/cli-io.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./io.js";

const run = (argv: string[]) => runMain(argv);

describe("main(argv, io): exit codes and one-line errors", () => {
  it("--help and --version exit 0 and print to stdout", async () => {
    const h = await run(["--help"]);
    expect(h.code).toBe(EXIT_OK);
    expect(h.out).toMatch(/analyze/);
    expect(h.out).toMatch(/topo/);
    const v = await run(["--version"]);
    expect(v.code).toBe(EXIT_OK);
    expect(v.out.trim()).toBe("0.1.0");
  });

  it.each([
    [["--bogus"], /^phyr: error: unknown option '--bogus'/],
    [["analyze"], /^phyr: error: analyze needs --pid N or --pid NAME \(repeatable\) or --all$/],
    [["analyze", "--pid", "1", "--all"], /^phyr: error: --all and --pid conflict: give one of them$/],
    [["analyze", "--pid", ""], /^phyr: error: --pid "" is invalid: expected a process id or a process name/],
    [["analyze", "--pid", "0"], /^phyr: error: --pid 0 is invalid: expected 1\.\.4194304 \(PID_MAX_LIMIT\)$/],
    [
      ["analyze", "--pid", "1", "--range", "nonsense"],
      /^phyr: error: --range "nonsense" is invalid: expected VA:LEN/,
    ],
    [
      ["analyze", "--pid", "1", "--range", "0x1000:0"],
      /^phyr: error: --range "0x1000:0" is invalid: length must be at least 1 byte$/,
    ],
    [
      ["analyze", "--pid", "1", "--range", "0xzz:4K"],
      /^phyr: error: --range "0xzz:4K" is invalid: VA "0xzz" is invalid/,
    ],
    [
      ["analyze", "--all", "--range", "0x1000:4K"],
      /^phyr: error: --range needs exactly one numeric --pid \(and no --all\)$/,
    ],
    [
      ["analyze", "--pid", "1", "--pid", "2", "--range", "0x1000:4K"],
      /^phyr: error: --range needs exactly one numeric --pid/,
    ],
    [
      ["nosuchcommand", "x"],
      /^phyr: error: unknown command 'nosuchcommand': expected one of report, analyze, topo, capture, simulate, bench, explain, /,
    ],
  ])("%j -> usage error (exit 2), one line, no stack", async (argv, msg) => {
    const r = await run(argv);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err.trimEnd()).toMatch(msg);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.out).toBe("");
  });

  it("an unknown pid is a failure (exit 1) naming the pid", async () => {
    const r = await run(["analyze", "--pid", "4194000"]);
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toBe("phyr: error: pid 4194000 is invalid: no such process\n");
  });

  it("a process name no process has is a failure (exit 1) naming it, as pgrep -x finds none", async () => {
    const r = await run(["analyze", "--pid", "no-such-proc-x"]);
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toMatch(
      /^phyr: error: --pid "no-such-proc-x" is invalid: no process is named exactly that/,
    );
  });

  it("a missing /proc is a failure naming the path and what to use instead; --debug adds the stack", async () => {
    const r = await runMain(["topo"], { PHYR_PROC_ROOT: "/nonexistent/proc" });
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toBe(
      "phyr: error: cannot read a live Linux machine: /nonexistent/proc is not readable here (phyr reads /proc and /sys): use --reference or --snapshot FILE\n",
    );
    const dbg = await runMain(["topo", "--debug"], { PHYR_PROC_ROOT: "/nonexistent/proc" });
    expect(dbg.code).toBe(EXIT_FAILURE);
    expect(dbg.err).toMatch(/\n\s+at /);
  });
});

describe("main(argv, io): snapshots", () => {
  const dir = mkdtempSync(join(tmpdir(), "phyr-cli-"));

  it("a missing snapshot is a failure (exit 1) naming the file", async () => {
    const r = await run(["analyze", "--all", "--snapshot", join(dir, "nope.ndjson")]);
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toMatch(/^phyr: error: cannot read snapshot .*nope\.ndjson: ENOENT/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  it.each([
    ["garbage", "not json at all\n"],
    ["wrong format", `${JSON.stringify({ type: "header", format: "other", version: 1 })}\n`],
    ["empty", ""],
  ])("a corrupt snapshot (%s) is a failure (exit 1), one line, no stack", async (name, text) => {
    const file = join(dir, `${name.replace(/ /g, "-")}.ndjson`);
    writeFileSync(file, text);
    const r = await run(["topo", "--snapshot", file]);
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toMatch(/^phyr: error: snapshot is invalid: /);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("a directory given as snapshot is a failure (exit 1), one line", async () => {
    const r = await run(["topo", "--snapshot", dir]);
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toMatch(/^phyr: error: cannot read snapshot .*: EISDIR/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  describe("a damaged capture of a fixture /proc tree", () => {
    const fixture = resolve(import.meta.dirname, "../linux/fixtures/vm-root");
    const good = join(dir, "good.ndjson");
    const lines = (): string[] => readFileSync(good, "utf8").split("\n");
    it.each([
      [
        "truncated gzip",
        (f: string) => writeFileSync(f, gzipSync(readFileSync(good)).subarray(0, 600)),
        /truncated or corrupted compressed data/,
      ],
      [
        "no end record",
        (f: string) => writeFileSync(f, `${lines().slice(0, 4).join("\n")}\n`),
        /no end record: the snapshot is truncated/,
      ],
      [
        "a field of the wrong type",
        (f: string) =>
          writeFileSync(
            f,
            lines()
              .map((l) => l.replace(/"pid":(\d+)/, '"pid":"$1"'))
              .join("\n"),
          ),
        /expected number, received string/,
      ],
    ])("%s is a failure (exit 1) naming the problem in one line, no stack", async (_name, damage, why) => {
      if (!existsSync(good)) {
        const env = { PHYR_PROC_ROOT: join(fixture, "proc"), PHYR_SYS_ROOT: join(fixture, "sys") };
        expect((await runMain(["capture", "-o", good], env)).code).toBe(EXIT_OK);
      }
      const file = join(
        dir,
        `damaged-${_name.replace(/ /g, "-")}.ndjson${_name.includes("gzip") ? ".gz" : ""}`,
      );
      damage(file);
      const r = await run(["analyze", "--all", "--snapshot", file]);
      expect(r.code).toBe(EXIT_FAILURE);
      expect(r.err).toMatch(/^phyr: error: snapshot is invalid: /);
      expect(r.err, r.err).toMatch(why);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(r.out).toBe("");
    });
  });

  it("capture to a path that cannot be written is a failure (exit 1) naming it, at once", async () => {
    const r = await run(["capture", "-o", join(dir, "no-such-dir", "s.ndjson")]);
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toMatch(/^phyr: error: cannot write snapshot .*no-such-dir\/s\.ndjson: ENOENT/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  it("capture needs -o (usage error)", async () => {
    const r = await run(["capture"]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err.trimEnd()).toMatch(/^phyr: error: required option '-o, --out <file>' not specified$/);
  });
});
