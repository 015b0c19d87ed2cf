/**
 * `phyr` command line: `main(argv, io)` parses the arguments with commander, runs one command,
 * prints through `io`, and returns the exit code (0 ok, 1 failure, 2 usage). It never calls
 * process.exit and never lets a stack trace out unless `--debug` is given.
 */

import { Command, CommanderError, Option } from "commander";
import { LimitExceeded, ParseError } from "../core/index.js";
import { parsePidOrName, parseSeed, parseSizeOption, parseSort, parseTop, parseVaRange } from "./args.js";
import { runBench } from "./cmd-bench.js";
import { runCapture } from "./cmd-capture.js";
import { runExplain } from "./cmd-explain.js";
import { runAnalyze, runReport, runTopo } from "./cmd-report.js";
import { runSimulate } from "./cmd-simulate.js";
import { addTraceCommand } from "./cmd-trace.js";
import {
  CliFailure,
  type CliIo,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  LIMIT_NAMES,
  parseLimit,
  UsageError,
} from "./io.js";
import { checkSourceChoice, type SourceChoice } from "./source.js";
import { MAX_DEFAULT_WORKERS, parseWorkers } from "./workers.js";

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
  // The bare command (no command word) is `phyr report` that may show the reference machine.
  const bare = first === undefined || first.startsWith("-");
  // Each run gets its own limits object, filled by --limit while the arguments are parsed.
  const program = buildProgram({ ...io, limits: { ...io.limits } }, bare, (c) => {
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
    const known =
      usage ||
      e instanceof CliFailure ||
      e instanceof ParseError ||
      e instanceof RangeError ||
      e instanceof LimitExceeded;
    let msg = oneLine(err?.message ?? String(e));
    // A limit names the library option; on the command line it is raised with --limit.
    if (e instanceof LimitExceeded) msg = msg.replace(`the ${e.limit} option`, `--limit ${e.limit}=N`);
    io.stderr.write(`phyr: error: ${known ? msg : `${err?.name ?? "Error"}: ${msg}`}\n`);
    if (debug && err?.stack) io.stderr.write(`${err.stack}\n`);
    else if (!known) io.stderr.write("phyr: run with --debug for details\n");
    return usage ? EXIT_USAGE : EXIT_FAILURE;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

const SNAPSHOT_HELP =
  "read a snapshot written by phyr capture instead of the live machine (- for standard input; pipes and FIFOs are read once)";
const REFERENCE_HELP = "analyse phyr's reference machine (a documented simulated server) instead of this one";

/** Source flags shared by report, analyze and topo. */
interface SourceFlags {
  snapshot?: string;
  reference?: boolean;
}

/** The flags as a source choice; conflicting flags are a usage error (exit 2). */
function sourceChoice(o: SourceFlags, fallback = false): SourceChoice {
  const c = { snapshot: o.snapshot, reference: o.reference === true, fallback };
  checkSourceChoice(c);
  return c;
}

/** Flags of the terminal summary (report, analyze). */
interface SummaryOpts {
  top: number;
  sort: "pages" | "runs" | "name";
  wide?: boolean;
  workers?: number;
}

function summaryOptions(c: Command): Command {
  return c
    .option("--top <n>", "processes listed in the summary (the rest are counted)", parseTop, 10)
    .option("--sort <key>", "order of the process table: pages, runs or name", parseSort, "pages")
    .option("--wide", "full-width tables (default: fit COLUMNS, leaving out columns that do not fit)")
    .option(
      "--workers <n>",
      `worker threads reading processes (the live or reference machine; 1 = in this thread; same output for any N) (default: live, one per 4 GiB resident in the processes read, at most the CPUs available and ${MAX_DEFAULT_WORKERS}; otherwise 1)`,
      parseWorkers,
    );
}

/** Exit codes, printed at the end of every command's help. */
const EXIT_HELP = `
Exit codes:
  0  done; an empty or partial result says so in one line (JSON: completeness)
  1  failure: no such process, unreadable input, frame numbers hidden
  2  usage: bad or conflicting flags`;

function collectPids(value: string, prev: (number | string)[]): (number | string)[] {
  return [...prev, parsePidOrName(value)];
}

function buildProgram(io: CliIo, bare: boolean, setCode: (code: number) => void): Command {
  const program = new Command("phyr")
    .description(
      "Physical range lists on this machine: what the phyr design saves against today's kernel.\n`phyr` with no command runs `phyr report`; when this machine's frame numbers cannot be read (not root) it shows phyr's reference machine instead, saying so on its first line.",
    )
    .version(VERSION)
    .addOption(new Option("--debug", "print stack traces on errors"))
    .addOption(
      new Option(
        "--limit <NAME=N>",
        `raise or lower a limit on input work (repeatable): ${LIMIT_NAMES.join(", ")} (defaults: snapshot loader 16 MiB lines, 8 GiB input, 4,194,304 processes, 4,000,000 VMAs, 33,554,432 runs; 65,536 P2P matrix cells)`,
      ).argParser((v: string) => parseLimit(v, io.limits ?? {})),
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`phyr: ${oneLine(s)}\n`),
    });

  const report = program
    .command("report", { isDefault: true })
    .description(
      "analyse every process of this machine (needs its frame numbers: root); print a summary and write report.html. The default command: `phyr` alone runs it, and shows the reference machine when this one's frame numbers are hidden",
    )
    .option("-o, --out <file>", "HTML report path (default report.html; with --json only when given)")
    .option("--no-html", "do not write the HTML report")
    .option(
      "--json",
      'print the analysis as JSON instead of the summary (no report.html unless -o is given): { schema: "phyr-analysis/1", kernelModel, origin, host, access, physmap, pci, iommu, p2p, buffers, total, scenarios, whatIf, verdict, completeness }',
    )
    .option("--snapshot <file>", SNAPSHOT_HELP)
    .option("--reference", REFERENCE_HELP)
    .option(
      "--trace <file>",
      "add a section for a tracefs trace (as phyr trace --file reads it; - for stdin): kernel (traced) beside the phyr design (model); with --json, the member trace",
    )
    .option(
      "--scenarios",
      "also run the fixed model scenarios of phyr simulate (a simulated machine, not this one)",
    );
  summaryOptions(report)
    .addHelpText("after", EXIT_HELP)
    .action(
      async (
        o: {
          out?: string;
          html: boolean;
          json?: boolean;
          scenarios?: boolean;
          trace?: string;
        } & SourceFlags &
          SummaryOpts,
      ) => {
        if (!o.html && o.out !== undefined) {
          throw new UsageError("--no-html and -o/--out conflict: give one of them");
        }
        const json = o.json === true;
        setCode(
          await runReport(io, {
            out: o.out ?? "report.html",
            html: o.html && (!json || o.out !== undefined),
            json,
            scenarios: o.scenarios === true,
            trace: o.trace,
            top: o.top,
            sort: o.sort,
            wide: o.wide === true,
            workers: o.workers,
            ...sourceChoice(o, bare),
          }),
        );
      },
    );

  const analyze = program
    .command("analyze")
    .description(
      "analyse the memory of processes, or of one VA range of one process (needs frame numbers: root, or --snapshot/--reference)",
    )
    .option(
      "--pid <pid|name>",
      "process to analyse, by id or by exact name (every process of that name, like pgrep -x); repeatable",
      collectPids,
      [] as (number | string)[],
    )
    .option("--all", "analyse every process")
    .option("--range <VA:LEN>", "only this virtual range of the one --pid (e.g. 0x7f0000000000:64M)")
    .option(
      "--json",
      'print the analysis as JSON: { schema: "phyr-analysis/1", kernelModel, origin, host, access, physmap, pci, iommu, p2p, buffers, total, scenarios, whatIf, verdict, completeness }',
    )
    .option("--snapshot <file>", SNAPSHOT_HELP)
    .option("--reference", REFERENCE_HELP);
  summaryOptions(analyze)
    .addHelpText("after", EXIT_HELP)
    .action(
      async (
        o: { pid: (number | string)[]; all?: boolean; range?: string; json?: boolean } & SourceFlags &
          SummaryOpts,
      ) => {
        const choice = sourceChoice(o);
        const all = o.all === true;
        if (all && o.pid.length > 0) throw new UsageError("--all and --pid conflict: give one of them");
        if (!all && o.pid.length === 0)
          throw new UsageError("analyze needs --pid N or --pid NAME (repeatable) or --all");
        const pids = [...new Set(o.pid.filter((p): p is number => typeof p === "number"))];
        const names = [...new Set(o.pid.filter((p): p is string => typeof p === "string"))];
        if (o.range !== undefined && (all || names.length > 0 || pids.length !== 1)) {
          throw new UsageError("--range needs exactly one numeric --pid (and no --all)");
        }
        const range = o.range === undefined ? undefined : parseVaRange(o.range);
        setCode(
          await runAnalyze(io, { pids, names, all, range }, o.json === true, choice, {
            top: o.top,
            sort: o.sort,
            wide: o.wide === true,
            workers: o.workers,
          }),
        );
      },
    );

  program
    .command("topo")
    .description("physical map, PCI tree, IOMMU presence and the P2P matrix")
    .option(
      "--json",
      'print as JSON: { schema: "phyr-topo/1", origin, host, access, physmap, pci, iommu, p2p }',
    )
    .option("--snapshot <file>", SNAPSHOT_HELP)
    .option("--reference", REFERENCE_HELP)
    .option("--wide", "full-width tables (default: fit COLUMNS)")
    .addHelpText("after", EXIT_HELP)
    .action(async (o: { json?: boolean; wide?: boolean } & SourceFlags) => {
      setCode(await runTopo(io, o.json === true, sourceChoice(o), o.wide === true));
    });

  program
    .command("capture")
    .description("write a snapshot of the live machine (processes' runs, iomem, PCI, IOMMU) for --snapshot")
    .requiredOption("-o, --out <file>", "snapshot file (gzip when it ends in .gz)")
    .option(
      "--pid <pid|name>",
      "process to capture, by id or exact name (repeatable; default every process)",
      collectPids,
      [] as (number | string)[],
    )
    .option("--all", "capture every process (the default)")
    .option("--anonymize", "replace process names, paths and the hostname")
    .option("--gzip", "gzip the file whatever its name")
    .option(
      "--workers <n>",
      `worker threads reading processes (1 = in this thread; the same file for any N) (default: one per 4 GiB resident in the processes captured, at most the CPUs available and ${MAX_DEFAULT_WORKERS})`,
      parseWorkers,
    )
    .option(
      "--json",
      'print what was written as JSON: { schema: "phyr-capture/1", file, records, processes, vmas, runs, vmaErrors, skippedProcesses, skipped, truncated, bytes, warnings }',
    )
    .action(
      async (o: {
        out: string;
        pid: (number | string)[];
        all?: boolean;
        anonymize?: boolean;
        gzip?: boolean;
        json?: boolean;
        workers?: number;
      }) => {
        if (o.all && o.pid.length > 0) throw new UsageError("--all and --pid conflict: give one of them");
        setCode(
          await runCapture(io, {
            out: o.out,
            pids: o.pid,
            anonymize: o.anonymize === true,
            gzip: o.gzip === true ? true : undefined,
            json: o.json === true,
            workers: o.workers,
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
      'buffer / guest-memory size (e.g. 64M, 2G, or as the list prints it: "64 MiB"); default: the scenario\'s default size',
      (v: string) => parseSizeOption(v),
    )
    .option(
      "--max-memory <bytes>",
      "memory a run may use (default: 75% of the memory available now); a size whose estimate is above it is refused",
      (v: string) => parseSizeOption(v, "--max-memory"),
    )
    .option(
      "--json",
      'print JSON: the list as { schema: "phyr-scenarios/1", scenarios }; a run as { schema: "phyr-scenario/1", name, description, seed, size, design, baseline, ratios, notes, estimate, measured }',
    )
    .addHelpText("after", EXIT_HELP)
    .action(
      async (
        name: string | undefined,
        o: { seed: number; size?: number; maxMemory?: number; json?: boolean },
      ) => {
        setCode(
          await runSimulate(io, {
            name,
            seed: o.seed,
            size: o.size,
            maxMemory: o.maxMemory,
            json: o.json === true,
          }),
        );
      },
    );

  program
    .command("bench")
    .description("run the benchmarks (dist/bench/main.js) in a child process")
    .option("--quick", "smaller sizes")
    .option("--only <name>", "only suites whose name contains this")
    .option("--json", 'print the rows as JSON: { schema: "phyr-bench/1", suites }')
    .addHelpText(
      "after",
      "\nExit codes:\n  0  every target met\n  1  a target not met (the rows are still printed)\n  2  usage: bad flags, or --only matches no suite",
    )
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
