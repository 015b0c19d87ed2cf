/**
 * `phyr explain [TERM]`: the glossary (src/analyze/glossary.ts), one term or all of them, each
 * with the kernel source it comes from.
 */

import { findGlossaryEntry, GLOSSARY, type GlossaryEntry } from "../analyze/index.js";
import { type CliIo, EXIT_OK, paintFor, UsageError } from "./io.js";
import { jsonDocument } from "./json.js";

/** Schema id of `phyr explain --json`. */
export const GLOSSARY_SCHEMA = "phyr-glossary/1";

/**
 * Prints one glossary entry, or every entry when `term` is undefined. O(entries).
 * @param io streams.
 * @param o the term (any alias, case-insensitive) and JSON output.
 * @returns exit code 0.
 * @throws UsageError for a term the glossary does not have, listing the known terms.
 */
export function runExplain(io: CliIo, o: { term?: string; json: boolean }): number {
  let entries: readonly GlossaryEntry[] = GLOSSARY;
  if (o.term !== undefined) {
    const e = findGlossaryEntry(o.term);
    if (!e) {
      throw new UsageError(
        `term ${JSON.stringify(o.term)} is invalid: expected one of ${GLOSSARY.map((x) => x.term).join(", ")}`,
      );
    }
    entries = [e];
  }
  if (o.json) {
    io.stdout.write(jsonDocument({ schema: GLOSSARY_SCHEMA, terms: entries }));
    return EXIT_OK;
  }
  const paint = paintFor(io.stdout, io.env);
  const out: string[] = [];
  for (const e of entries) {
    out.push(paint.bold(e.term), `  ${e.text}`, paint.dim(`  source: ${e.source}`), "");
  }
  io.stdout.write(out.join("\n"));
  return EXIT_OK;
}
