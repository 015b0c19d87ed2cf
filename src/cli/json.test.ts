/**
 * Every command's `--json`: one JSON document on stdout whose `schema` and top-level fields are
 * exactly the ones its `--help` names (the documentation the README points to), and nothing else
 * on stdout. Commands run on a fixture /proc and /sys tree (a VM read as root), or (bench) on a
 * stand-in runner script, so the test needs neither root nor a build. The reference machine's
 * documents are checked in reference.test.ts.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { memoryIo, runMain } from "../../test/cli-io.js";
import { benchJson, runBench } from "./cmd-bench.js";
import { captureSummary } from "./cmd-capture.js";
import { CliFailure, EXIT_OK } from "./io.js";

const dir = mkdtempSync(join(tmpdir(), "phyr-json-"));
const FIXTURE = resolve(import.meta.dirname, "../linux/fixtures/vm-root");
// The fixture /proc with `self` pointing at its one process (the readers probe /proc/self).
const proc = join(dir, "proc");
mkdirSync(proc);
for (const f of readdirSync(join(FIXTURE, "proc"))) symlinkSync(join(FIXTURE, "proc", f), join(proc, f));
symlinkSync(join(FIXTURE, "proc", "9803"), join(proc, "self"));
const fixtureEnv = { PHYR_PROC_ROOT: proc, PHYR_SYS_ROOT: join(FIXTURE, "sys") };

const run = (argv: string[], env: Record<string, string> = {}) => runMain(argv, env, dir);

/** The `{ schema: "x", a, b }` shapes the command's --help names for --json, as [schema, keys]. */
async function documented(command: string): Promise<[string, string[]][]> {
  const help = (await run([command, "--help"])).out.replace(/\s+/g, " ");
  const json = help.slice(help.indexOf("--json"));
  return [...json.matchAll(/\{ schema: "([^"]+)", ([^}]+) \}/g)].map((m) => [
    m[1],
    ["schema", ...m[2].split(",").map((k) => k.trim())].sort(),
  ]);
}

function checkDocument(out: string, shapes: [string, string[]][], schema: string): Record<string, unknown> {
  const doc = JSON.parse(out) as Record<string, unknown>;
  expect(out.endsWith("}\n")).toBe(true);
  const shape = shapes.find(([s]) => s === schema);
  expect(shape, `--help names ${schema}`).toBeDefined();
  expect(doc.schema).toBe(schema);
  expect(Object.keys(doc).sort()).toEqual(shape?.[1]);
  return doc;
}

describe("--json on every command: the documented shape", () => {
  beforeAll(async () => {
    // A snapshot of the fixture tree (in the working directory `dir`), for analyze --snapshot.
    expect((await run(["capture", "-o", "snap.ndjson"], fixtureEnv)).code).toBe(EXIT_OK);
  });

  it.each([
    ["analyze", ["analyze", "--snapshot", "snap.ndjson", "--all", "--json"], "phyr-analysis/1"],
    ["topo", ["topo", "--json"], "phyr-topo/1"],
    ["simulate", ["simulate", "--json"], "phyr-scenarios/1"],
    ["simulate", ["simulate", "rdma-mr", "--size", "8M", "--json"], "phyr-scenario/1"],
  ])("%s %j prints one %s document with the fields its --help names", async (cmd, argv, schema) => {
    const r = await run(argv, fixtureEnv);
    // A scenario run says its estimate before and its measured peak after, on stderr only.
    expect(r.err).toMatch(
      schema === "phyr-scenario/1" ? /^phyr: rdma-mr at 8 MiB: estimate .*\nphyr: done in .*\n$/ : /^$/,
    );
    expect(r.code).toBe(EXIT_OK);
    checkDocument(r.out, await documented(cmd), schema);
  });

  it("report documents the same phyr-analysis/1 shape as analyze (reference.test.ts runs report --json)", async () => {
    const report = await documented("report");
    expect(report).toEqual(await documented("analyze"));
    expect(report.map(([s]) => s)).toEqual(["phyr-analysis/1"]);
  });

  it("capture --json prints one phyr-capture/1 document (a fixture /proc tree)", async () => {
    const file = join(dir, "fixture.ndjson");
    const r = await run(["capture", "-o", file, "--json"], fixtureEnv);
    expect(r.code).toBe(EXIT_OK);
    const doc = checkDocument(r.out, await documented("capture"), "phyr-capture/1");
    expect(doc.file).toBe(file);
    expect(doc.processes).toBe(1);
  });

  it("bench --json wraps the runner's rows in one phyr-bench/1 document", async () => {
    const runner = join(dir, "runner.mjs");
    const rows = [{ suite: "s", rows: [{ name: "x", value: 2, unit: "ns" }] }];
    writeFileSync(
      runner,
      `if (!process.argv.includes("--json")) process.exit(3);\nprocess.stdout.write(${JSON.stringify(JSON.stringify(rows))});\n`,
    );
    chmodSync(runner, 0o644);
    const s = memoryIo({}, dir);
    expect(await runBench(s.io, { json: true, runner })).toBe(EXIT_OK);
    const doc = checkDocument(s.out(), await documented("bench"), "phyr-bench/1");
    expect(doc.suites).toEqual(rows);
    expect(() => benchJson("== suite\n")).toThrow(CliFailure);
    expect(() => benchJson('{"rows":[]}')).toThrow(/expected an array of \{ suite, rows \}/);
  });
});

describe("capture's text output", () => {
  it("groups counts like the rest of the output (en-US) and says what was left out", () => {
    const r = {
      records: 9,
      processes: 312,
      vmas: 18204,
      runs: 65541,
      vmaErrors: 1,
      skippedProcesses: 0,
      skipped: [] as { pid: number; comm: string; reason: string }[],
      truncated: 0,
      bytes: 2582806,
    };
    expect(captureSummary(r, "/tmp/s.ndjson.gz")).toEqual([
      "Captured 312 processes, 18,204 VMAs, 65,541 runs (2,582,806 bytes uncompressed) to /tmp/s.ndjson.gz",
      "0 processes skipped, 1 VMA unreadable",
    ]);
    expect(captureSummary({ ...r, processes: 1, vmaErrors: 0 }, "s")).toEqual([
      "Captured 1 process, 18,204 VMAs, 65,541 runs (2,582,806 bytes uncompressed) to s",
    ]);
    const skipped = [
      { pid: 41, comm: "a\u001b", reason: "exited while being read" },
      { pid: 42, comm: "b", reason: "permission denied" },
      { pid: 43, comm: "c", reason: "exited while being read" },
      { pid: 44, comm: "d", reason: "exited while being read" },
    ];
    expect(captureSummary({ ...r, vmaErrors: 0, skippedProcesses: 12, skipped }, "s").slice(1)).toEqual([
      "12 processes skipped, 0 VMAs unreadable",
      "  skipped: 41 a\\x1b (exited while being read); 42 b (permission denied); 43 c (exited while being read); and 9 more",
    ]);
    expect(captureSummary({ ...r, processes: 1, vmaErrors: 0, truncated: 2 }, "s")[1]).toBe(
      '2 strings or list entries cut to fit the snapshot format\'s limits (cut strings end in "…[truncated]")',
    );
  });

  it("phyr capture prints that line for a fixture /proc tree", async () => {
    const file = join(dir, "fixture-text.ndjson");
    const r = await run(["capture", "-o", file], fixtureEnv);
    expect(r.code).toBe(EXIT_OK);
    expect(r.out.split("\n")[0]).toMatch(
      new RegExp(`^Captured 1 process, \\d+ VMAs, \\d+ runs \\([0-9,]+ bytes uncompressed\\) to ${file}$`),
    );
  });
});
