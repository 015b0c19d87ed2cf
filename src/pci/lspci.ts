/**
 * `lspci -tv` output, produced with the algorithm of pciutils ls-tree.c (show_tree_bridge,
 * show_tree_bus, show_tree_dev, print_it): a line buffer whose characters turn into '|' or ' '
 * after each printed line so later lines continue the branches.
 */
import type { PciTopology } from "./topology.js";
import type { PciDev } from "./types.js";

interface Bus {
  domain: number;
  number: number;
  devs: PciDev[];
}

class Printer {
  line: string[] = [];
  out: string[] = [];
  /** tree_printf: writes at `p`, returns the new end. */
  put(p: number, s: string): number {
    this.line.length = p;
    for (const ch of s) this.line.push(ch);
    return this.line.length;
  }
  /** print_it: emits the line up to `p`, then keeps only the branch marks. */
  print(p: number): void {
    this.line.length = p;
    this.out.push(this.line.join(""));
    for (let i = 0; i < p; i++) this.line[i] = this.line[i] === "+" || this.line[i] === "|" ? "|" : " ";
  }
}

const h2 = (n: number): string => n.toString(16).padStart(2, "0");
const h4 = (n: number): string => n.toString(16).padStart(4, "0");

/**
 * The topology as `lspci -tv` prints it (names from each function's `name`).
 * Cost: O(devices log devices).
 */
export function lspciTree(t: PciTopology): string {
  const buses = new Map<string, Bus>();
  const busOf = (domain: number, number: number): Bus => {
    const k = `${domain}:${number}`;
    let b = buses.get(k);
    if (b === undefined) {
      b = { domain, number, devs: [] };
      buses.set(k, b);
    }
    return b;
  };
  for (const d of t.devices) busOf(d.domain, d.bus).devs.push(d);
  for (const d of t.devices) if (d.secondary >= 0) busOf(d.domain, d.secondary);
  for (const b of buses.values()) b.devs.sort((x, y) => x.dev * 8 + x.fn - (y.dev * 8 + y.fn));
  const roots = t.hostBridges
    .map((h) => busOf(h.domain, h.bus))
    .sort((x, y) => x.domain - y.domain || x.number - y.number);
  const pr = new Printer();

  const showDev = (d: PciDev, p: number): void => {
    p = pr.put(p, `${h2(d.dev)}.${d.fn}`);
    if (d.secondary >= 0) {
      const sub = t.subordinate(d.index);
      p = pr.put(p, d.secondary === sub ? `-[${h2(d.secondary)}]-` : `-[${h2(d.secondary)}-${h2(sub)}]-`);
      p = pr.put(p, "-");
      showBus(busOf(d.domain, d.secondary), p);
      return;
    }
    p = pr.put(p, `  ${d.name}`);
    pr.print(p);
  };
  const showBus = (b: Bus, p: number): void => {
    if (b.devs.length === 0) pr.print(p);
    else if (b.devs.length === 1) showDev(b.devs[0], pr.put(p, "--"));
    else {
      for (let i = 0; i < b.devs.length - 1; i++) showDev(b.devs[i], pr.put(p, "+-"));
      showDev(b.devs[b.devs.length - 1], pr.put(p, "\\-"));
    }
  };
  // show_tree_bridge(&host_bridge, ...)
  let p = pr.put(0, "-");
  if (roots.length === 1) {
    p = pr.put(p, `[${h4(roots[0].domain)}:${h2(roots[0].number)}]-`);
    showBus(roots[0], p);
  } else if (roots.length > 1) {
    for (let i = 0; i < roots.length - 1; i++)
      showBus(roots[i], pr.put(p, `+-[${h4(roots[i].domain)}:${h2(roots[i].number)}]-`));
    const u = roots[roots.length - 1];
    showBus(u, pr.put(p, `\\-[${h4(u.domain)}:${h2(u.number)}]-`));
  }
  return pr.out.length === 0 ? "" : `${pr.out.join("\n")}\n`;
}
