/**
 * The terminal behaviour of whole commands: colour only on a TTY without NO_COLOR, a progress bar
 * on stderr only when stderr is a TTY, and `phyr` with no command being `phyr report` (summary on
 * stdout, report.html in the working directory). Runs on a snapshot of a fixture /proc tree.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliIo, type CliStream, EXIT_OK } from "./io.js";
import { main } from "./program.js";

const dir = mkdtempSync(join(tmpdir(), "phyr-tty-"));
const FIXTURE = resolve(import.meta.dirname, "../linux/fixtures/vm-root");
const SNAP = join(dir, "fixture.ndjson");
const ESC = "\u001b[";

/** A stream that records writes; as a TTY it has what cli-progress needs of a terminal. */
function sink(isTTY: boolean): CliStream & { text: () => string } {
  let text = "";
  const s = {
    isTTY,
    columns: 100,
    write: (t: string) => (text += t),
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    on: () => s,
    removeListener: () => s,
    text: () => text,
  };
  return s;
}

async function run(argv: string[], o: { outTTY: boolean; errTTY: boolean; env?: Record<string, string> }) {
  const stdout = sink(o.outTTY);
  const stderr = sink(o.errTTY);
  const io: CliIo = { stdout, stderr, env: o.env ?? {}, cwd: dir };
  const code = await main(argv, io);
  return { code, out: stdout.text(), err: stderr.text() };
}

beforeAll(async () => {
  const env = { PHYR_PROC_ROOT: join(FIXTURE, "proc"), PHYR_SYS_ROOT: join(FIXTURE, "sys") };
  expect((await run(["capture", "-o", SNAP], { outTTY: false, errTTY: false, env })).code).toBe(EXIT_OK);
});

describe("colour and progress of whole commands", () => {
  it.each([
    [true, {}, true],
    [true, { NO_COLOR: "1" }, false],
    [false, {}, false],
  ])("stdout TTY %s, env %j: colour %s", async (tty, env, colour) => {
    for (const argv of [
      ["analyze", "--snapshot", SNAP, "--all"],
      ["topo", "--snapshot", SNAP],
      ["simulate", "rdma-mr", "--size", "8M"],
    ]) {
      const r = await run(argv, { outTTY: tty, errTTY: false, env });
      expect(r.code, r.err).toBe(EXIT_OK);
      expect(r.out.includes(ESC), argv.join(" ")).toBe(colour);
    }
  });

  it("analyze draws a progress bar on stderr only when stderr is a TTY; --json output stays plain JSON", async () => {
    const tty = await run(["analyze", "--snapshot", SNAP, "--all", "--json"], {
      outTTY: false,
      errTTY: true,
    });
    expect(tty.code).toBe(EXIT_OK);
    expect(tty.err).toContain("reading memory (MiB)");
    expect(JSON.parse(tty.out).schema).toBe("phyr-analysis/1");
    const pipe = await run(["analyze", "--snapshot", SNAP, "--all"], { outTTY: false, errTTY: false });
    expect(pipe.code).toBe(EXIT_OK);
    expect(pipe.err).toBe("");
  });
});

describe("phyr with no command", () => {
  it("is phyr report: the summary on stdout and report.html in the working directory", async () => {
    const r = await run(["--snapshot", SNAP], { outTTY: false, errTTY: false });
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toBe("");
    expect(r.out.split("\n")[0]).toBe(
      "phyr — vm (snapshot, kernel 6.18.44-fc-v657, 4 KiB pages; kernel way: Linux 7.2)",
    );
    expect(r.out).toContain(`Report written to ${join(dir, "report.html")}`);
    expect(existsSync(join(dir, "report.html"))).toBe(true);
    expect(readFileSync(join(dir, "report.html"), "utf8")).toMatch(/^<!doctype html>/);
  });
});
