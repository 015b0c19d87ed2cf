/**
 * The reference machine behind the CLI: the fallback when the live machine cannot be read (one
 * line on stderr saying why), `--reference` / `--live` and their conflicts, the JSON shape of
 * report, analyze and topo on it, and report.html carrying it. The machine is built once for the
 * whole file (source.ts keeps it).
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runMain } from "../../test/cli-io.js";
import type { MachineAnalysis } from "../analyze/index.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./io.js";

const dir = mkdtempSync(join(tmpdir(), "phyr-ref-"));
const emptyProc = join(dir, "proc");
mkdirSync(emptyProc);

const run = (argv: string[], env: Record<string, string | undefined> = {}) => runMain(argv, env, dir);

describe("phyr on the reference machine", () => {
  it("phyr report with an unreadable /proc fails in one line naming what to use instead", async () => {
    const r = await run(["report", "--no-html"], { PHYR_PROC_ROOT: emptyProc });
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toBe(
      `phyr: error: cannot read a live Linux machine: ${emptyProc} is not readable here (phyr reads /proc and /sys): use --reference or --snapshot FILE\n`,
    );
    expect(r.out).toBe("");
  });

  it("bare phyr with an unreadable /proc shows the reference machine, the notice first (stderr for JSON)", async () => {
    const html = join(dir, "fallback.html");
    const r = await run(["--json", "-o", html], { PHYR_PROC_ROOT: emptyProc });
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toBe(
      `phyr: REFERENCE MACHINE: phyr's simulated server, not this computer; shown because ${emptyProc} is not readable here (run as root, or use --snapshot FILE, for a real machine)\n` +
        `phyr: report written to ${html}\n`,
    );
    const a = JSON.parse(r.out) as MachineAnalysis;
    expect(a.origin).toBe("reference");
    expect(a.host.hostname).toBe("phyr-reference");
    expect(a.access.messages).toHaveLength(2);
    expect(a.access.messages[0]).toMatch(/^REFERENCE MACHINE: .* shown because .* is not readable here/);
    expect(a.scenarios).toEqual([]);
    expect(a.buffers.map((b) => b.comm).sort()).toEqual([
      "java",
      "postgres",
      "python3",
      "qemu-system-x86",
      "systemd",
    ]);
    const page = readFileSync(html, "utf8");
    expect(page).toContain(
      "<title>phyr report — REFERENCE MACHINE (simulated server, not this computer)</title>",
    );
    expect(page).toContain('"origin":"reference"');
    expect(page).toContain("phyr-reference");
  });

  it("the terminal summary says REFERENCE MACHINE on its first line", async () => {
    const r = await run(["report", "--reference", "--no-html"]);
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toBe("");
    const lines = r.out.split("\n");
    expect(lines[0]).toBe("REFERENCE MACHINE: phyr's simulated server, not this computer (--reference)");
    expect(lines[1]).toMatch(
      /^phyr — phyr-reference \(reference, kernel phyr-reference-machine-1, 4 KiB pages/,
    );
    expect(lines[2]).toMatch(/^! This is phyr's reference machine: a simulated 2-socket server/);
    // The fixed model scenarios are not part of a report unless asked for, and then say "model".
    expect(r.out).not.toMatch(/scenario/);
    const withModel = await run(["report", "--reference", "--no-html", "--scenarios"]);
    expect(withModel.out).toMatch(/^model scenario +best saving/m);
  });

  it("analyze --reference --pid --json: postgres's memory is its hugetlb buffers plus 4 KiB pages", async () => {
    const r = await run(["analyze", "--reference", "--pid", "2104", "--json"]);
    expect(r.code).toBe(EXIT_OK);
    const a = JSON.parse(r.out) as MachineAnalysis;
    expect(a.buffers).toHaveLength(1);
    const b = a.buffers[0];
    // 32 GiB of 2 MiB pages = 8,388,608 pages, plus 24 MiB of heap, 8 MiB of text, 132 KiB of stack.
    expect(b.pages).toBe(8388608 + 6144 + 2048 + 33);
    expect(b.pid).toBe(2104);
  });

  it("topo --reference --json: the machine's shape and a P2P matrix from its ACS bits and allowlist", async () => {
    const r = await run(["topo", "--reference", "--json"]);
    expect(r.code).toBe(EXIT_OK);
    const t = JSON.parse(r.out);
    expect(Object.keys(t).sort()).toEqual([
      "access",
      "host",
      "iommu",
      "origin",
      "p2p",
      "pci",
      "physmap",
      "schema",
    ]);
    expect(t.origin).toBe("reference");
    expect(t.physmap.systemRam).toBe(512 * 2 ** 30);
    expect(t.iommu).toEqual({ present: true, units: ["dmar0", "dmar1", "dmar2", "dmar3"], groups: 36 });
    expect(t.pci.devices.filter((d: { kind: string }) => d.kind === "display")).toHaveLength(8);
    // 36 BARs (per switch: 3 per GPU x 2, 1 NIC, 2 NVMe) x 16 clients (the endpoints; the 4 host
    // bridge functions 8086:09a2 and the bridges do not master DMA). BUS_ADDR: on the 2 ACS-free
    // switches every BAR to the 4 endpoints of its switch (9 x 4 x 2 = 72), on the 2 ACS switches
    // only a BAR to its own function (9 x 2 = 18). The other 36 x 16 - 90 = 486 go through the
    // (allowlisted) host bridges.
    const types = t.p2p.cells.map((c: { type: string }) => c.type);
    expect(t.p2p.providers).toHaveLength(36);
    expect(t.p2p.clients).toHaveLength(16);
    const kinds = new Map(t.pci.devices.map((d: { bdf: string; kind: string }) => [d.bdf, d.kind]));
    expect(
      t.p2p.clients.filter((c: string) => kinds.get(c) === "system" || kinds.get(c) === "bridge"),
    ).toEqual([]);
    expect(t.p2p.clients).not.toContain("0000:00:00.0");
    expect(types.filter((x: string) => x === "BUS_ADDR")).toHaveLength(90);
    expect(types.filter((x: string) => x === "THRU_HOST_BRIDGE")).toHaveLength(486);
    expect(t.p2p.notes[0]).toMatch(/uses the machine description's ACS control bits/);
  });

  it("hidden frame numbers (no CAP_SYS_ADMIN) topo shows this machine, analyze fails in one line, bare phyr shows the reference", async () => {
    // A /proc whose `self` is the vm-user fixture: pagemap frames read as 0.
    const proc = join(dir, "proc-user");
    mkdirSync(proc);
    const fixture = resolve(import.meta.dirname, "../linux/fixtures/vm-user/proc");
    symlinkSync(join(fixture, "9875"), join(proc, "self"));
    for (const f of ["iomem", "sys", "version"]) symlinkSync(join(fixture, f), join(proc, f));
    const env = { PHYR_PROC_ROOT: proc, PHYR_SYS_ROOT: join(fixture, "../sys") };
    const r = await run(["topo", "--json"], env);
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toBe("");
    expect(JSON.parse(r.out).origin).toBe("live");
    const an = await run(["analyze", "--all"], env);
    expect(an.code).toBe(EXIT_FAILURE);
    expect(an.out).toBe("");
    expect(an.err).toBe(
      `phyr: error: physical frame numbers are hidden without CAP_SYS_ADMIN (${proc}/PID/pagemap reads 0), so physical runs cannot be measured here: run as root, or use --reference (phyr's simulated server) or --snapshot FILE (captured as root)\n`,
    );
    const bare = await run(["--no-html"], env);
    expect(bare.code).toBe(EXIT_OK);
    expect(bare.out.split("\n")[0]).toMatch(
      /^REFERENCE MACHINE: phyr's simulated server, not this computer; shown because physical frame numbers are hidden/,
    );
  });

  it.each([
    [
      ["report", "--snapshot", "s.ndjson", "--reference"],
      "--snapshot and --reference conflict: give one of them",
    ],
    [
      ["analyze", "--all", "--snapshot", "s.ndjson", "--reference"],
      "--snapshot and --reference conflict: give one of them",
    ],
    [["report", "--no-html", "-o", "x.html"], "--no-html and -o/--out conflict: give one of them"],
  ])("%j is a usage error (exit 2): %s", async (argv, msg) => {
    const r = await run(argv);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toBe(`phyr: error: ${msg}\n`);
    expect(r.out).toBe("");
  });
});
