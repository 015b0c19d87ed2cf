/**
 * `phyr` command line: `main(argv, io)` parses the arguments with commander, runs one command,
 * prints through `io`, and returns the exit code (0 ok, 1 failure, 2 usage). It never calls
 * process.exit and never lets a stack trace out unless `--debug` is given.
 */

import { Command, CommanderError, Option } from "commander";
import { ParseError } from "../core/index.js";
import { parsePid, parseSeed, parseSizeOption, parseVaRange } from "./args.js";
import { runBench } from "./cmd-bench.js";
import { runCapture } from "./cmd-capture.js";
import { runExplain } from "./cmd-explain.js";
import { runAnalyze, runReport, runTopo } from "./cmd-report.js";
import { runSimulate } from "./cmd-simulate.js";
import { addTraceCommand } from "./cmd-trace.js";
import { CliFailure, type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "./io.js";
import { checkSourceChoice, type SourceChoice } from "./source.js";

/** The command names (`help` prints the help of one). */
const COMMANDS = ["report", "analyze", "topo", "capture", "simulate", "bench", "explain", "trace", "help"];

/** Version printed by `phyr --version`. */
export const VERSION = "0.1.0";

/**
 * Runs the CLI.
 * @param argv arguments after the program name (process.argv.slice(2)).
 * @param io streams, environment and working directory.
 * @returns the exit code: 0 success, 1 failure, 2 usage error.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const debug = argv.includes("--debug");
  // `phyr` alone is `phyr report`, so commander would read an unknown command as report's
  // arguments; name it instead.
  const first = argv[0];
  if (first !== undefined && !first.startsWith("-") && !COMMANDS.includes(first)) {
    io.stderr.write(`phyr: error: unknown command '${first}': expected one of ${COMMANDS.join(", ")}\n`);
    return EXIT_USAGE;
  }
  let code = EXIT_OK;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every other commander error is a usage error (already printed).
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0
        ? EXIT_OK
        : EXIT_USAGE;
    }
    const err = e as Error;
    const usage = e instanceof UsageError;
    const known = usage || e instanceof CliFailure || e instanceof ParseError || e instanceof RangeError;
    const msg = oneLine(err?.message ?? String(e));
    io.stderr.write(`phyr: error: ${known ? msg : `${err?.name ?? "Error"}: ${msg}`}\n`);
    if (debug && err?.stack) io.stderr.write(`${err.stack}\n`);
    else if (!known) io.stderr.write("phyr: run with --debug for details\n");
    return usage ? EXIT_USAGE : EXIT_FAILURE;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

const REFERENCE_HELP = "analyse phyr's reference machine (a documented simulated server) instead of this one";
const LIVE_HELP =
  "analyse this machine even when its frame numbers are hidden (default: the reference machine then)";

/** Source flags shared by report, analyze and topo. */
interface SourceFlags {
  snapshot?: string;
  reference?: boolean;
  live?: boolean;
}

/** The flags as a source choice; conflicting flags are a usage error (exit 2). */
function sourceChoice(o: SourceFlags): SourceChoice {
  const c = { snapshot: o.snapshot, reference: o.reference === true, live: o.live === true };
  checkSourceChoice(c);
  return c;
}

function collect(parse: (v: string) => number) {
  return (value: string, prev: number[]) => [...prev, parse(value)];
}

function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  const program = new Command("phyr")
    .description("Physical range lists on this machine: what the phyr design saves against today's kernel")
    .version(VERSION)
    .addOption(new Option("--debug", "print stack traces on errors"))
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`phyr: ${oneLine(s)}\n`),
    });

  program
    .command("report", { isDefault: true })
    .description(
      "analyse every process of this machine (or, when its frame numbers cannot be read, of the reference machine); print a summary and write report.html",
    )
    .option("-o, --out <file>", "HTML report path", "report.html")
    .option("--no-html", "do not write the HTML report")
    .option(
      "--json",
      'print the analysis as JSON instead of the summary: { schema: "phyr-analysis/1", origin, host, access, physmap, pci, iommu, p2p, buffers, total, scenarios }',
    )
    .option("--snapshot <file>", "read a snapshot written by phyr capture instead of the live machine")
    .option("--reference", REFERENCE_HELP)
    .option("--live", LIVE_HELP)
    .option("--no-scenarios", "do not run the simulated consumer scenarios")
    .action(async (o: { out: string; html: boolean; json?: boolean; scenarios: boolean } & SourceFlags) => {
      setCode(
        await runReport(io, {
          out: o.out,
          html: o.html,
          json: o.json === true,
          scenarios: o.scenarios,
          ...sourceChoice(o),
        }),
      );
    });

  program
    .command("analyze")
    .description("analyse the memory of processes, or of one VA range of one process")
    .option("--pid <pid>", "process to analyse (repeatable)", collect(parsePid), [] as number[])
    .option("--all", "analyse every process")
    .option("--range <VA:LEN>", "only this virtual range of the one --pid (e.g. 0x7f0000000000:64M)")
    .option(
      "--json",
      'print the analysis as JSON: { schema: "phyr-analysis/1", origin, host, access, physmap, pci, iommu, p2p, buffers, total, scenarios }',
    )
    .option("--snapshot <file>", "read a snapshot written by phyr capture instead of the live machine")
    .option("--reference", REFERENCE_HELP)
    .option("--live", LIVE_HELP)
    .action(async (o: { pid: number[]; all?: boolean; range?: string; json?: boolean } & SourceFlags) => {
      const choice = sourceChoice(o);
      const all = o.all === true;
      if (all && o.pid.length > 0) throw new UsageError("--all and --pid conflict: give one of them");
      if (!all && o.pid.length === 0) throw new UsageError("analyze needs --pid N (repeatable) or --all");
      if (o.range !== undefined && (all || new Set(o.pid).size !== 1)) {
        throw new UsageError("--range needs exactly one --pid (and no --all)");
      }
      const range = o.range === undefined ? undefined : parseVaRange(o.range);
      const pids = [...new Set(o.pid)];
      setCode(await runAnalyze(io, { pids, all, range }, o.json === true, choice));
    });

  program
    .command("topo")
    .description("physical map, PCI tree, IOMMU presence and the P2P matrix")
    .option(
      "--json",
      'print as JSON: { schema: "phyr-topo/1", origin, host, access, physmap, pci, iommu, p2p }',
    )
    .option("--snapshot <file>", "read a snapshot written by phyr capture instead of the live machine")
    .option("--reference", REFERENCE_HELP)
    .option("--live", LIVE_HELP)
    .action(async (o: { json?: boolean } & SourceFlags) => {
      setCode(await runTopo(io, o.json === true, sourceChoice(o)));
    });

  program
    .command("capture")
    .description("write a snapshot of the live machine (processes' runs, iomem, PCI, IOMMU) for --snapshot")
    .requiredOption("-o, --out <file>", "snapshot file (gzip when it ends in .gz)")
    .option(
      "--pid <pid>",
      "process to capture (repeatable; default every process)",
      collect(parsePid),
      [] as number[],
    )
    .option("--all", "capture every process (the default)")
    .option("--anonymize", "replace process names, paths and the hostname")
    .option("--gzip", "gzip the file whatever its name")
    .option(
      "--json",
      'print what was written as JSON: { schema: "phyr-capture/1", file, records, processes, vmas, runs, vmaErrors, skippedProcesses, bytes }',
    )
    .action(
      async (o: {
        out: string;
        pid: number[];
        all?: boolean;
        anonymize?: boolean;
        gzip?: boolean;
        json?: boolean;
      }) => {
        if (o.all && o.pid.length > 0) throw new UsageError("--all and --pid conflict: give one of them");
        setCode(
          await runCapture(io, {
            out: o.out,
            pids: o.pid,
            anonymize: o.anonymize === true,
            gzip: o.gzip === true ? true : undefined,
            json: o.json === true,
          }),
        );
      },
    );

  program
    .command("simulate [scenario]")
    .description("run a consumer scenario on the simulated machine (no name: list the scenarios)")
    .option("--seed <n>", "seed of the simulated machine", parseSeed, 1)
    .option(
      "--size <bytes>",
      "buffer / guest-memory size (e.g. 64M, 2G); default: the scenario's small size",
      parseSizeOption,
    )
    .option(
      "--json",
      'print JSON: the list as { schema: "phyr-scenarios/1", scenarios }; a run as { schema: "phyr-scenario/1", name, description, seed, size, design, baseline, ratios, notes }',
    )
    .action(async (name: string | undefined, o: { seed: number; size?: number; json?: boolean }) => {
      setCode(await runSimulate(io, { name, seed: o.seed, size: o.size, json: o.json === true }));
    });

  program
    .command("bench")
    .description("run the benchmarks (dist/bench/main.js) in a child process")
    .option("--quick", "smaller sizes")
    .option("--only <name>", "only suites whose name contains this")
    .option("--json", 'print the rows as JSON: { schema: "phyr-bench/1", suites }')
    .action(async (o: { quick?: boolean; only?: string; json?: boolean }) => {
      setCode(await runBench(io, { quick: o.quick === true, only: o.only, json: o.json === true }));
    });

  program
    .command("explain [term]")
    .description(
      "explain a term phyr prints (congruent, IOTLB, MTT, a format name, ...), with its kernel source; no term: all of them",
    )
    .option("--json", 'print JSON: { schema: "phyr-glossary/1", terms: [{ term, aliases, text, source }] }')
    .action((term: string | undefined, o: { json?: boolean }) => {
      setCode(runExplain(io, { term, json: o.json === true }));
    });

  for (const c of program.commands) {
    c.exitOverride().configureOutput(program.configureOutput());
  }
  addTraceCommand(program, io, setCode);

  return program;
}
