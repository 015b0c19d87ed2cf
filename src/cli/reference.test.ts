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
  it("report with an unreadable /proc falls back to the reference machine and says why in one line", async () => {
    const html = join(dir, "fallback.html");
    const r = await run(["report", "--json", "-o", html, "--no-scenarios"], { PHYR_PROC_ROOT: emptyProc });
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toBe(
      `phyr: ${emptyProc} is not readable here; showing the reference machine instead (a simulated server; --reference to choose it, --live to force this machine)\n`,
    );
    const a = JSON.parse(r.out) as MachineAnalysis;
    expect(a.origin).toBe("reference");
    expect(a.host.hostname).toBe("phyr-reference");
    expect(a.access.messages).toHaveLength(2);
    expect(a.access.messages[1]).toMatch(/is not readable here; showing the reference machine instead/);
    expect(a.buffers.map((b) => b.comm).sort()).toEqual([
      "java",
      "postgres",
      "python3",
      "qemu-system-x86",
      "systemd",
    ]);
    const page = readFileSync(html, "utf8");
    expect(page).toContain('"origin":"reference"');
    expect(page).toContain("phyr-reference");
  });

  it("the terminal summary names the reference machine in its first lines", async () => {
    const r = await run(["report", "--reference", "--no-html", "--no-scenarios"]);
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toBe("");
    const lines = r.out.split("\n");
    expect(lines[0]).toBe("phyr — phyr-reference (reference, kernel phyr-reference-machine-1, 4 KiB pages; kernel way: Linux 7.2)");
    expect(lines[1]).toMatch(/^! This is phyr's reference machine: a simulated 2-socket server/);
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

  it("hidden frame numbers (no CAP_SYS_ADMIN) fall back too, telling how to analyse this machine", async () => {
    // A /proc whose `self` is the vm-user fixture: pagemap frames read as 0.
    const proc = join(dir, "proc-user");
    mkdirSync(proc);
    const fixture = resolve(import.meta.dirname, "../linux/fixtures/vm-user/proc");
    symlinkSync(join(fixture, "9875"), join(proc, "self"));
    for (const f of ["iomem", "sys", "version"]) symlinkSync(join(fixture, f), join(proc, f));
    const r = await run(["topo", "--json"], { PHYR_PROC_ROOT: proc, PHYR_SYS_ROOT: join(fixture, "../sys") });
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toMatch(
      /^phyr: frame numbers are hidden without CAP_SYS_ADMIN: run as root to analyze this machine; showing the reference machine instead/,
    );
    expect(JSON.parse(r.out).origin).toBe("reference");
    // --live reads that machine anyway.
    const live = await run(["topo", "--live", "--json"], {
      PHYR_PROC_ROOT: proc,
      PHYR_SYS_ROOT: join(fixture, "../sys"),
    });
    expect(live.code).toBe(EXIT_OK);
    expect(live.err).toBe("");
    expect(JSON.parse(live.out).origin).toBe("live");
  });

  it("--live with no /proc is a failure naming the path", async () => {
    const r = await run(["topo", "--live"], { PHYR_PROC_ROOT: emptyProc });
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toBe(
      `phyr: error: cannot read a live Linux machine: ${emptyProc} is missing (phyr reads /proc and /sys)\n`,
    );
  });

  it.each([
    [["topo", "--reference", "--live"], "--reference and --live conflict: give one of them"],
    [
      ["report", "--snapshot", "s.ndjson", "--reference"],
      "--snapshot and --reference conflict: give one of them",
    ],
    [
      ["analyze", "--all", "--snapshot", "s.ndjson", "--live"],
      "--snapshot and --live conflict: give one of them",
    ],
  ])("%j is a usage error (exit 2): %s", async (argv, msg) => {
    const r = await run(argv);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toBe(`phyr: error: ${msg}\n`);
    expect(r.out).toBe("");
  });
});
