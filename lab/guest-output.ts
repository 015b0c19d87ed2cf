/**
 * Parses what the guest's init (guest/init.sh) wrote to its second serial port: sections between
 * "=====phyr-lab begin NAME" and "=====phyr-lab end NAME", closed by "=====phyr-lab done", or a
 * "=====phyr-lab failed REASON" line. Every parser here is O(text).
 */
import type { LabBuffer, LabOp, LabRunKind } from "./record.js";

/** The guest stopped before it finished, or wrote something the host cannot read. */
export class LabGuestError extends Error {
  readonly code = "LAB_GUEST";
  constructor(
    message: string,
    /** The last lines of the guest console, for the reader. */
    readonly consoleTail: string,
  ) {
    super(consoleTail ? `${message}\n--- guest console (last lines) ---\n${consoleTail}` : message);
    this.name = "LabGuestError";
  }
}

/** The sections of the guest's output by name, and whether it finished. */
export interface GuestSections {
  sections: Map<string, string>;
  done: boolean;
  /** The guest's own failure reason, if it reported one. */
  failed: string | null;
}

/** Splits the serial output into its sections. */
export function splitSections(text: string): GuestSections {
  const sections = new Map<string, string>();
  let name: string | null = null;
  let body: string[] = [];
  let done = false;
  let failed: string | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const m = line.match(/^=====phyr-lab (begin|end|done|failed)\s*(.*)$/);
    if (!m) {
      if (name !== null) body.push(line);
      continue;
    }
    if (m[1] === "begin") {
      name = m[2];
      body = [];
    } else if (m[1] === "end" && name === m[2]) {
      sections.set(name, body.length ? `${body.join("\n")}\n` : "");
      name = null;
    } else if (m[1] === "done") done = true;
    else if (m[1] === "failed") failed = m[2];
  }
  return { sections, done, failed };
}

const hex = (s: string) => `0x${BigInt(`0x${s}`).toString(16)}`;
const num = (s: string) => Number.parseInt(s, 16);

/** The workload's BUF/RUN/OP lines (guest/workload.c) as record buffers and ops. */
export function parseWorkload(text: string): { buffers: LabBuffer[]; ops: LabOp[] } {
  const buffers: LabBuffer[] = [];
  const ops: LabOp[] = [];
  for (const line of text.split("\n")) {
    const f = line.split("\t");
    if (f[0] === "BUF" && f.length === 5) {
      buffers.push({
        id: Number(f[1]),
        backing: f[2] as LabBuffer["backing"],
        va: hex(f[3]),
        length: num(f[4]),
        runs: [],
      });
    } else if (f[0] === "RUN" && f.length === 6) {
      const b = buffers.find((x) => x.id === Number(f[1]));
      if (!b) throw new SyntaxError(`workload output: RUN for unknown buffer ${f[1]}`);
      b.runs.push({ va: hex(f[2]), pfn: hex(f[3]), pages: num(f[4]), kind: f[5] as LabRunKind });
    } else if (f[0] === "OP" && f.length === 9) {
      ops.push({
        index: Number(f[1]),
        buffer: Number(f[2]),
        offset: num(f[3]),
        length: num(f[4]),
        dir: f[5] === "write" ? "write" : "read",
        devOffset: num(f[6]),
        marker: f[7],
        result: Number(f[8]),
      });
    } else if (line.trim() !== "") {
      throw new SyntaxError(`workload output: unexpected line ${JSON.stringify(line.slice(0, 120))}`);
    }
  }
  return { buffers, ops };
}

/** `key=value` lines; with `numbers`, a value that is one decimal integer becomes a number. */
export function parseKeyValues(text: string, numbers: true): Record<string, number | string>;
export function parseKeyValues(text: string, numbers?: false): Record<string, string>;
export function parseKeyValues(text: string, numbers = false): Record<string, number | string> {
  const out: Record<string, number | string> = Object.create(null);
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i <= 0) continue;
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    out[k] = numbers && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : v;
  }
  return { ...out };
}

/** `key: value` lines (tracefs per_cpu stats). */
export function parseColonValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** One PCI function from the init script's `fn=... ` line and its `res=` lines. */
export interface GuestPciFunction {
  bdf: string;
  vendor: string;
  device: string;
  class: string;
  iommuGroup: number;
  driver: string;
  path: string;
  resources: { start: string; end: string; flags: string }[];
}

/** The PCI section: one `fn=` line per function, then its `resource` file as `res=` lines. */
export function parsePci(text: string): GuestPciFunction[] {
  const out: GuestPciFunction[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("fn=")) {
      const kv = Object.fromEntries(
        line
          .split(" ")
          .map((w) => w.split("="))
          .map(([k, ...v]) => [k, v.join("=")]),
      );
      out.push({
        bdf: kv.fn,
        vendor: hex(kv.vendor.replace(/^0x/, "")),
        device: hex(kv.device.replace(/^0x/, "")),
        class: hex(kv.class.replace(/^0x/, "")),
        iommuGroup: kv.iommu_group === "" ? -1 : Number(kv.iommu_group),
        driver: kv.driver ?? "",
        path: kv.path ?? "",
        resources: [],
      });
    } else if (line.startsWith("res=") && out.length > 0) {
      const [start, end, flags] = line.slice(4).trim().split(/\s+/);
      out[out.length - 1].resources.push({
        start: hex(start.replace(/^0x/, "")),
        end: hex(end.replace(/^0x/, "")),
        flags: hex(flags.replace(/^0x/, "")),
      });
    }
  }
  return out;
}

/** Guest uptime seconds when /init started (first field of /proc/uptime), or null when unreadable. */
export function initUptime(text: string): number | null {
  const v = Number(text.trim());
  return text.trim() !== "" && Number.isFinite(v) ? v : null;
}

/** The last `lines` lines of a text. */
export function tail(text: string, lines: number): string {
  const all = text.replace(/\r/g, "").split("\n");
  return all.slice(Math.max(0, all.length - lines)).join("\n");
}
