/**
 * fast-check settings for every property test, from one place. The seed and the scale of the run
 * counts come from the environment, with fixed defaults so `npm test` is repeatable:
 *
 * - `PHYR_FC_SEED`: the seed of every property (default 0x5eed). A failure prints the seed and
 *   path to replay it.
 * - `PHYR_FC_RUNS`: a factor on each property's run count (default 1; 10 for a long soak, 0.1 for
 *   a quick pass). Each property keeps its own base count, sized to what one run costs.
 */
import fc from "fast-check";

/** The seed every property runs with. */
export const FC_SEED = envNumber("PHYR_FC_SEED", 0x5eed, (v) => Number.isInteger(v));

/** The factor on run counts. */
export const FC_RUNS_SCALE = envNumber("PHYR_FC_RUNS", 1, (v) => v > 0);

function envNumber(name: string, dflt: number, ok: (v: number) => boolean): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || !ok(v)) throw new RangeError(`${name}=${raw} is invalid: expected a number`);
  return v;
}

/**
 * Parameters for `fc.assert`: the shared seed and `base` runs scaled by {@link FC_RUNS_SCALE}
 * (at least 1).
 * @param base the property's run count at scale 1
 */
export function fcRuns(base: number): fc.Parameters<unknown> {
  return { seed: FC_SEED, numRuns: Math.max(1, Math.round(base * FC_RUNS_SCALE)) };
}

/** Sets fast-check's global defaults (for properties that pass no parameters). */
export function configureFastCheck(): void {
  fc.configureGlobal({ seed: FC_SEED, numRuns: Math.max(1, Math.round(100 * FC_RUNS_SCALE)) });
}
