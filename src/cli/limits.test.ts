/**
 * `--limit NAME=N` through the command line: a snapshot past a loader limit is one line naming the
 * limit and the flag that raises it (exit 1), the flag raises it, a bad value is a usage error
 * (exit 2); and snapshot errors print the record number once.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMain } from "../../test/cli-io.js";
import { capture } from "../linux/index.js";

const fx = (p: string) => fileURLToPath(new URL(`../linux/fixtures/${p}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "phyr-cli-limits-"));
const snap = join(dir, "f.jsonl");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await capture({
    procRoot: fx("vm-root/proc"),
    sysRoot: fx("vm-root/sys"),
    out: snap,
    capturedAt: "2025-01-01T00:00:00Z",
  });
});

describe("--limit", () => {
  it("a snapshot with more VMAs than --limit maxVmas allows: one line naming the limit and the flag, exit 1", async () => {
    const r = await runMain(["topo", "--snapshot", snap, "--limit", "maxVmas=10"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      "phyr: error: f.jsonl:18: more than 10 VMAs: above the limit maxVmas (raise it with --limit maxVmas=N)\n",
    );
    const raised = await runMain(["topo", "--snapshot", snap, "--limit", "maxVmas=100", "--json"]);
    expect(raised.code).toBe(0);
  });

  it("a bad --limit is a usage error (exit 2) naming the value", async () => {
    const r = await runMain(["topo", "--snapshot", snap, "--limit", "vmas=1"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^phyr: .*--limit "vmas=1" is invalid: expected NAME=N with NAME one of maxLineBytes/,
    );
  });
});

describe("snapshot errors", () => {
  it("name the file, the record and the field with the record number once", async () => {
    const lines = readFileSync(snap, "utf8").split("\n");
    const i = lines.findIndex((l) => l.includes('"type":"vma"') && l.includes('"runs":1'));
    lines[i] = lines[i].replace(/"present":\d+/, '"present":7777');
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, lines.join("\n"));
    const r = await runMain(["topo", "--snapshot", bad]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      new RegExp(`^phyr: error: snapshot is invalid: bad\\.jsonl:${i + 1}\\.pages: present `),
    );
    expect(r.err).not.toMatch(new RegExp(`:${i + 1}\\.pages:${i + 1}:`));
  });
});
