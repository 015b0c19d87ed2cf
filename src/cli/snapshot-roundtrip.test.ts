/**
 * Whatever `capture()` reads it writes so that `loadSnapshot()` loads it, and the loaded machine
 * analyses the same: a seeded property over hostile process tables on a fake procfs root (copies
 * of the fixture machine's process with random comm, cmdline, VMA paths, VmFlags and pids,
 * including lengths exactly at and just past the format's limits, unicode, surrogate pairs at the
 * cut, control and bidi characters), captured through the real capture path.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import {
  capture,
  cutString,
  SNAPSHOT_LIMITS as L,
  liveSource,
  loadSnapshot,
  type MachineSource,
  TRUNCATION_MARKER,
} from "../linux/index.js";
import { collectBuffers } from "./collect.js";
import { noProgress } from "./io.js";

const fx = (p: string) => fileURLToPath(new URL(`../linux/fixtures/${p}`, import.meta.url));
const BASE = fx("vm-root");
const PID = 9803;
/** The fixture's pagemap holds 1024 entries: the first 4 MiB of its address space. */
const PAGEMAP_END = 1024 * 4096;
const dir = mkdtempSync(join(tmpdir(), "phyr-roundtrip-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Text around a limit: exactly at it, one past it, far past it, with a surrogate pair at the cut. */
function atLimit(max: number): fc.Arbitrary<string> {
  const cut = max - TRUNCATION_MARKER.length;
  return fc.oneof(
    fc.constant("x".repeat(max)),
    fc.constant("x".repeat(max + 1)),
    fc.constant(`${"y".repeat(cut - 1)}😀${"z".repeat(10)}`),
    fc.constant(`${"é".repeat(max * 2)}`),
  );
}

/** Text a hostile procfs could hold on one line: unicode, controls, bidi overrides, quotes, markup. */
const oddText = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      "\u202e",
      "\u2066",
      "\u0007",
      "\u001b[31m",
      "\t",
      '"',
      "\\",
      "<",
      "&",
      "\u0000",
      "\u00a0",
      "ﬀ",
    ),
    fc.string({ unit: "grapheme", maxLength: 3 }),
  ),
  maxLength: 40,
});

const noNewline = (s: string) => s.replace(/[\n\r]/g, "_");

interface HostileProc {
  pid: number;
  comm: string;
  cmdline: string;
  path: string;
  flag: string;
}

const hostileProc = fc.record({
  pid: fc.oneof(fc.integer({ min: 1, max: 4_194_304 }), fc.constant(L.pid), fc.constant(L.pid + 1)),
  comm: fc.oneof(oddText, atLimit(L.comm)),
  cmdline: fc.oneof(oddText, atLimit(L.cmdline)),
  path: fc.oneof(oddText, atLimit(L.path), fc.constant(`/tmp/${"d".repeat(4090)} (deleted)`)),
  flag: fc.oneof(fc.constantFrom("rd", "wr", "hg"), fc.string({ minLength: 1, maxLength: 9 })),
});

/** A procfs root: the fixture's files plus one copy of its process per entry of `procs`. */
function fakeRoot(
  name: string,
  procs: HostileProc[],
  hostname: string,
): { procRoot: string; sysRoot: string } {
  const root = join(dir, name);
  const procRoot = join(root, "proc");
  cpSync(join(BASE, "proc"), procRoot, { recursive: true });
  const tmpl = join(procRoot, String(PID));
  const smaps = readFileSync(join(tmpl, "smaps"), "utf8");
  rmSync(tmpl, { recursive: true });
  writeFileSync(join(procRoot, "sys/kernel/hostname"), `${noNewline(hostname)}\n`);
  for (const p of procs) {
    const d = join(procRoot, String(p.pid));
    mkdirSync(d, { recursive: true });
    for (const f of ["pagemap", "status", "maps"]) cpSync(join(BASE, "proc", String(PID), f), join(d, f));
    writeFileSync(join(d, "comm"), `${noNewline(p.comm)}\n`);
    writeFileSync(join(d, "cmdline"), `${p.cmdline.replace(/ /g, "\0")}\0`);
    const flag = p.flag.replace(/\s/g, "_");
    // The VMAs the fixture's pagemap extract covers (its first 4 MiB), each given the hostile path
    // (a smaps path runs to the end of its line) and one more VmFlags mnemonic.
    const text = smaps
      .split(/(?=^[0-9a-f]+-[0-9a-f]+ )/m)
      .filter((block) => Number.parseInt(block.slice(block.indexOf("-") + 1), 16) <= PAGEMAP_END)
      .map((block) =>
        block
          .replace(/^(\S+ \S+ \S+ \S+ \S+).*$/m, (_m, head) => `${head} ${noNewline(p.path)}`)
          .replace(/^VmFlags: (.*)$/m, (_m, f) => `VmFlags: ${f} ${flag}`),
      )
      .join("");
    writeFileSync(join(d, "smaps"), text);
  }
  return { procRoot, sysRoot: join(BASE, "sys") };
}

/** Everything the analysis reads of a process, as plain data. */
function machineData(src: MachineSource) {
  return src
    .processes()
    .filter((p) => p.pid <= L.pid)
    .map((p) => ({
      pid: p.pid,
      comm: p.comm,
      cmdline: p.cmdline,
      vmas: src.vmas(p.pid).map((v) => ({ ...v })),
    }));
}

describe("capture -> load round trip with hostile process tables", () => {
  it("every capture loads, strings past the limits are cut with the marker and counted, and the analysis is the same", async () => {
    let run = 0;
    let cutSeen = 0;
    let buffersSeen = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(hostileProc, { minLength: 1, maxLength: 4, selector: (p) => p.pid }),
        fc.oneof(oddText, atLimit(L.hostname)),
        async (procs, hostname) => {
          const roots = fakeRoot(`r${run}`, procs, hostname);
          const out = join(dir, `s${run++}.jsonl`);
          const res = await capture({ ...roots, out, capturedAt: "2025-01-01T00:00:00.000Z" });
          const snap = await loadSnapshot(out);
          const live = liveSource(roots);
          // What the loader holds is what was read, each string cut exactly as cutString cuts it.
          const kept = procs.filter((p) => p.pid <= L.pid);
          expect(res.skippedProcesses).toBe(procs.length - kept.length);
          const want = machineData(live).map((p) => ({
            ...p,
            comm: cutString(p.comm, L.comm),
            cmdline: cutString(p.cmdline, L.cmdline),
            vmas: p.vmas.map((v) => ({
              ...v,
              path: cutString(v.path, L.path),
              vmFlags: v.vmFlags.slice(0, L.vmFlags).map((f) => cutString(f, L.vmFlag)),
            })),
          }));
          expect(machineData(snap)).toEqual(want);
          expect(snap.kernel().hostname).toBe(cutString(live.kernel().hostname, L.hostname));
          // The count is the number of strings that did not fit, in the result and in the file.
          let cut = live.kernel().hostname.length > L.hostname ? 1 : 0;
          for (const p of machineData(live)) {
            cut += (p.comm.length > L.comm ? 1 : 0) + (p.cmdline.length > L.cmdline ? 1 : 0);
            for (const v of p.vmas) {
              cut += v.path.length > L.path ? 1 : 0;
              cut += v.vmFlags.filter((f) => f.length > L.vmFlag).length;
            }
          }
          expect(res.truncated).toBe(cut);
          expect(snap.truncated).toBe(cut);
          // Same analysis: every buffer's costs from the snapshot equal those from the live root,
          // apart from the label, which carries the (cut) comm.
          const strip = (b: { label: string; comm: string }) => ({ ...b, label: "", comm: "" });
          const a = collectBuffers(live, { pids: [], all: true }, noProgress).map(strip);
          const b = collectBuffers(snap, { pids: [], all: true }, noProgress).map(strip);
          expect(b).toEqual(a);
          cutSeen += cut;
          buffersSeen += b.length;
          live.close();
        },
      ),
      fcRuns(12),
    );
    // The runs did cut strings and did compare real buffers.
    expect(cutSeen).toBeGreaterThan(0);
    expect(buffersSeen).toBeGreaterThan(0);
  }, 120_000);
});
