#!/usr/bin/env node
/**
 * `npm run lab -- <scenario|all> [-o PATH] [--kernel unstable|stable]`, `npm run lab -- --list`:
 * boots Debian's kernel under QEMU for each scenario, prints the kernel version, the scenario, what
 * the kernel did and the replay's agreement, and writes the `phyr-lab/1` record.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { replayLabRecord } from "../src/trace/index.js";
import type { KernelSuite } from "./apt.js";
import { prepareLab, runScenario } from "./run.js";
import { findScenario, SCENARIOS, type Scenario } from "./scenarios.js";
import { writeLabSnapshot } from "./snapshot.js";
import { countTrace, formatSizes } from "./summary.js";

function parseSuite(v: string): KernelSuite {
  if (v === "unstable" || v === "stable") return v;
  throw new InvalidArgumentError(
    `expected "unstable" (newest Debian kernel) or "stable", got ${JSON.stringify(v)}`,
  );
}

async function main(argv: string[]): Promise<number> {
  const program = new Command("lab")
    .description(
      "Boot Debian's kernel under QEMU with VT-d and NVMe, trace a workload's DMA, write the record",
    )
    .argument("[scenario]", 'scenario name, or "all"')
    .option("--list", "list the scenarios")
    .option(
      "--prepare",
      "install the host packages, fetch the kernel and build the workload, without booting",
    )
    .option("-o, --out <path>", "record file (one scenario) or directory (all); default lab-<scenario>.json")
    .option(
      "--kernel <suite>",
      "Debian suite whose newest kernel boots: unstable or stable",
      parseSuite,
      "unstable",
    )
    .option("--timeout <seconds>", "kill a guest after this many seconds", (v) => Number(v), 180)
    .option("--json", "print the records' summaries as JSON")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode ?? 2;
    return code === 0 ? 0 : 2;
  }
  const opts = program.opts<{
    list?: boolean;
    prepare?: boolean;
    out?: string;
    kernel: KernelSuite;
    timeout: number;
    json?: boolean;
  }>();
  if (opts.list) {
    const w = Math.max(...SCENARIOS.map((s) => s.name.length));
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(w)}  ${s.description}\n`);
    return 0;
  }
  if (opts.prepare) {
    const t0 = performance.now();
    const p = prepareLab({ suite: opts.kernel, log: (s) => process.stderr.write(`lab: ${s}\n`) });
    process.stdout.write(
      `lab ready: kernel ${p.kernel.release} (Debian ${p.kernel.suite}: ${p.kernel.packages.map((x) => `${x.name} ${x.version}`).join(", ")}), ${(p.kernel.downloadedBytes / 2 ** 20).toFixed(1)} MiB downloaded, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    return 0;
  }
  const name = program.args[0];
  if (!name) {
    process.stderr.write('lab: name a scenario (see --list) or "all"\n');
    return 2;
  }
  let scenarios: Scenario[];
  try {
    scenarios = name === "all" ? [...SCENARIOS] : [findScenario(name)];
  } catch (e) {
    process.stderr.write(`lab: ${(e as Error).message}\n`);
    return 2;
  }
  const log = (s: string) => process.stderr.write(`lab: ${s}\n`);
  const summaries: object[] = [];
  let disagreed = 0;
  for (const s of scenarios) {
    const { record, seconds } = await runScenario(s, {
      suite: opts.kernel,
      timeoutMs: opts.timeout * 1000,
      log,
    });
    const c = countTrace(record);
    const path =
      scenarios.length > 1 ? join(opts.out ?? ".", `lab-${s.name}.json`) : (opts.out ?? `lab-${s.name}.json`);
    mkdirSync(dirname(path), { recursive: true });
    const text = `${JSON.stringify(record)}\n`;
    writeFileSync(path, text);
    const snapshotPath = `${path.replace(/\.json$/, "")}.snapshot.jsonl`;
    await writeLabSnapshot(record, snapshotPath);
    const replay = replayLabRecord(record);
    if (replay.reproduced !== replay.requests || replay.requests === 0) disagreed++;
    const summary = {
      scenario: s.name,
      kernel: record.kernel.release,
      suite: record.kernel.suite,
      requests: c.requests,
      dmaMapSg: c.dmaMapSg,
      dmaMapSingle: c.dmaMapSingle,
      iommuMapBySize: Object.fromEntries(c.iommuMapBySize),
      bounces: c.bounces,
      replay: {
        model: replay.release,
        requests: replay.requests,
        reproduced: replay.reproduced,
        mismatches: replay.mismatches,
        departures: replay.departures,
      },
      qemuSeconds: record.timing.qemuSeconds,
      seconds,
      record: path,
      snapshot: snapshotPath,
      recordBytes: Buffer.byteLength(text),
    };
    summaries.push(summary);
    if (!opts.json) {
      process.stdout.write(
        [
          `kernel    ${record.kernel.release} (Debian ${record.kernel.suite}, traced in the guest)`,
          `scenario  ${s.name}: ${s.description}`,
          `          kernel command line: ${record.scenario.cmdline}`,
          `traced    ${c.requests} block requests, ${c.dmaMapSg} dma_map_sg + ${c.dmaMapSingle} dma_map_phys (6.x: dma_map_page) calls, ${c.bounces} swiotlb bounces`,
          `          iommu_map calls by size: ${formatSizes(c.iommuMapBySize)}`,
          `replay    ${replay.reproduced}/${replay.requests} requests reproduced by phyr's model of Linux ${replay.release} (same runs, same queue limits)`,
          ...replay.mismatches
            .slice(0, 10)
            .map(
              (m) =>
                `          mismatch op ${m.op} sector ${m.request} ${m.what}: kernel ${m.kernel}, model ${m.model}`,
            ),
          `time      guest ${record.timing.qemuSeconds.toFixed(1)} s (kernel at /init after ${record.timing.initAtSeconds ?? "?"} s guest clock), run ${seconds.toFixed(1)} s`,
          `record    ${path} (${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB); snapshot ${snapshotPath} (for phyr analyze --snapshot)`,
          "",
        ].join("\n"),
      );
    }
  }
  if (opts.json)
    process.stdout.write(`${JSON.stringify({ schema: "phyr-lab-summary/1", runs: summaries }, null, 2)}\n`);
  if (disagreed > 0) {
    process.stderr.write(
      `lab: ${disagreed} of ${scenarios.length} run(s) not fully reproduced by the model (or no request traced): see the mismatches above\n`,
    );
    return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`lab: ${e.message}\n`);
    process.exitCode = 1;
  },
);
