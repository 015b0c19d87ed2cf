import { expect, it } from "vitest";
import { Rng } from "./rng.js";

it("the same seed gives the same sequence; different seeds differ", () => {
  const draw = (seed: number) => {
    const r = new Rng(seed);
    return Array.from({ length: 64 }, () => r.u32());
  };
  expect(draw(1)).toEqual(draw(1));
  expect(draw(1)).not.toEqual(draw(2));
});

it("int, range and float stay in bounds and reach both ends", () => {
  const r = new Rng(9);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r.range(3, 7);
    expect(v).toBeGreaterThanOrEqual(3);
    expect(v).toBeLessThanOrEqual(7);
    seen.add(v);
    const f = r.float();
    expect(f >= 0 && f < 1).toBe(true);
    const big = r.int(2 ** 52);
    expect(Number.isInteger(big) && big >= 0 && big < 2 ** 52).toBe(true);
  }
  expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
});
