/**
 * `phyr simulate <scenario>`: runs one named consumer scenario of subsys/ (the range-list design
 * and today's kernel on the same simulated workload) and prints its metrics side by side.
 */

import type { ScenarioSummary } from "../analyze/index.js";
import { formatBytes } from "../core/index.js";
import { formatTable } from "../report/index.js";
import { runScenario, SCENARIOS, ScenarioSizeError } from "../subsys/index.js";
import { type CliIo, EXIT_OK, paintFor, UsageError } from "./io.js";
import {
  jsonDocument,
  SCENARIO_LIST_SCHEMA,
  SCENARIO_SCHEMA,
  type ScenarioJson,
  type ScenarioListJson,
} from "./json.js";

/**
 * Runs every scenario at its small default size (the report's scenario section).
 * @param seed seed of every run.
 * @returns one summary per scenario, in {@link SCENARIOS} order.
 */
export function runAllScenarios(seed: number): ScenarioSummary[] {
  return SCENARIOS.map((s) => runScenario(s.name, { seed }));
}

/**
 * Prints the scenario list, or runs one scenario.
 * @param io streams.
 * @param o scenario name (undefined: list them), seed, size, JSON output.
 * @returns exit code 0.
 * @throws UsageError for an unknown scenario name (listing the known ones) or a size the scenario
 *   cannot take.
 */
export async function runSimulate(
  io: CliIo,
  o: { name?: string; seed: number; size?: number; json: boolean },
): Promise<number> {
  if (o.name === undefined) {
    if (o.json) {
      const doc: ScenarioListJson = {
        schema: SCENARIO_LIST_SCHEMA,
        scenarios: SCENARIOS.map((x) => ({ name: x.name, description: x.description, fullSize: x.fullSize })),
      };
      io.stdout.write(jsonDocument(doc));
    } else
      io.stdout.write(
        `${formatTable(
          ["scenario", "full size", "description"],
          SCENARIOS.map((s) => [s.name, formatBytes(s.fullSize), s.description]),
          { maxWidth: 200 },
        ).join("\n")}\n`,
      );
    return EXIT_OK;
  }
  if (!SCENARIOS.some((s) => s.name === o.name)) {
    throw new UsageError(
      `scenario ${JSON.stringify(o.name)} is invalid: expected one of ${SCENARIOS.map((s) => s.name).join(", ")}`,
    );
  }
  let r: ReturnType<typeof runScenario>;
  try {
    r = runScenario(o.name, { seed: o.seed, size: o.size });
  } catch (e) {
    // A size the scenario cannot take is bad command-line input (exit 2), said about --size.
    if (o.size !== undefined && e instanceof ScenarioSizeError) {
      throw new UsageError(`--size for ${o.name}: ${e.message}`);
    }
    throw e;
  }
  if (o.json) {
    const doc: ScenarioJson = { schema: SCENARIO_SCHEMA, ...r };
    io.stdout.write(jsonDocument(doc));
    return EXIT_OK;
  }
  const paint = paintFor(io.stdout, io.env);
  const keys = [...new Set([...Object.keys(r.design), ...Object.keys(r.baseline)])];
  const lines = [
    paint.bold(`${r.name} (seed ${r.seed}, size ${formatBytes(r.size)})`),
    r.description,
    "",
    ...formatTable(
      ["metric", "design", "baseline", "baseline / design"],
      keys.map((k) => [
        k,
        r.design[k] ?? "-",
        r.baseline[k] ?? "-",
        k in r.ratios ? `${fmtRatio(r.ratios[k])}x` : "-",
      ]),
      { paint, align: ["left", "right", "right", "right"] },
    ),
    ...r.notes.map((n) => paint.dim(`note: ${n}`)),
  ];
  io.stdout.write(`${lines.join("\n")}\n`);
  return EXIT_OK;
}

function fmtRatio(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(2);
}
