/**
 * PCI addresses: domain:bus:device.function ("0000:03:00.0"), parsed and printed like lspci -D.
 */

/** A parsed PCI address. */
export interface Bdf {
  domain: number;
  bus: number;
  dev: number;
  fn: number;
}

/**
 * Parses "DDDD:BB:DD.F" or "BB:DD.F" (domain 0), hex fields.
 * @throws RangeError naming the text when malformed or a field is out of range
 *   (domain <= 0xffff, bus <= 0xff, device <= 0x1f, function <= 7).
 * Cost: O(1).
 */
export function parseBdf(text: string): Bdf {
  const m = /^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/.exec(text);
  if (m === null)
    throw new RangeError(`PCI address ${JSON.stringify(text)} is invalid: expected DDDD:BB:DD.F`);
  const dev = Number.parseInt(m[3], 16);
  if (dev > 0x1f)
    throw new RangeError(`PCI address ${JSON.stringify(text)} is invalid: device number above 0x1f`);
  return {
    domain: m[1] === undefined ? 0 : Number.parseInt(m[1], 16),
    bus: Number.parseInt(m[2], 16),
    dev,
    fn: Number(m[4]),
  };
}

/** Formats as "DDDD:BB:DD.F". O(1). */
export function formatBdf(b: Bdf): string {
  return `${hex2(b.domain, 4)}:${hex2(b.bus, 2)}:${hex2(b.dev, 2)}.${b.fn}`;
}

function hex2(n: number, w: number): string {
  return n.toString(16).padStart(w, "0");
}
