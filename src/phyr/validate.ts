/**
 * Input checks shared by every PhyrList entry point. Each returns nothing and throws before any
 * state changes, so a failed call leaves the list as it was.
 */
import { checkRange, hex } from "../core/index.js";
import { MAX_PROVIDER, PHYR_FLAG_MASK, PhyrFlag } from "./types.js";

/**
 * Checks entry flags: an integer within {@link PHYR_FLAG_MASK}, not both PINNED and REF.
 * @param what Names the value in the message.
 * @throws RangeError naming the value and the reason.
 */
export function checkFlags(what: string, flags: number): void {
  if (!Number.isInteger(flags) || flags < 0 || flags > PHYR_FLAG_MASK) {
    const shown = Number.isInteger(flags) && flags >= 0 ? hex(flags) : String(flags);
    throw new RangeError(
      `${what} ${shown} is invalid: expected an integer within mask ${hex(PHYR_FLAG_MASK)}`,
    );
  }
  if ((flags & PhyrFlag.PINNED) !== 0 && (flags & PhyrFlag.REF) !== 0) {
    throw new RangeError(`${what} ${hex(flags)} is invalid: PINNED and REF are exclusive`);
  }
}

/**
 * Checks a provider index: an integer in 0..{@link MAX_PROVIDER}.
 * @throws RangeError naming the value.
 */
export function checkProvider(what: string, provider: number): void {
  if (!Number.isInteger(provider) || provider < 0 || provider > MAX_PROVIDER) {
    throw new RangeError(`${what} ${String(provider)} is invalid: expected an integer in 0..${MAX_PROVIDER}`);
  }
}

/**
 * Checks one whole entry (range below 2^52, flags, provider).
 * @throws RangeError naming the failing value.
 */
export function checkEntry(addr: number, len: number, flags: number, provider: number): void {
  checkRange("entry", addr, len);
  checkFlags("entry flags", flags);
  checkProvider("entry provider", provider);
}

/**
 * Checks a chunk capacity option (integer >= 2, at most 2^24 so a chunk stays one allocation).
 * @throws RangeError naming the value.
 */
export function checkChunkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 2 || capacity > 2 ** 24) {
    throw new RangeError(
      `chunkCapacity ${String(capacity)} is invalid: expected an integer in 2..${2 ** 24}`,
    );
  }
}
