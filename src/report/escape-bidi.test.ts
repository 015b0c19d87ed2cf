/**
 * Bidi formatting characters in untrusted names (a U+202E in a process name shows "dhss" as
 * "sshd") are escaped on the terminal and in the HTML report's data, as control characters are;
 * and the summary says the physical map's size is unknown when /proc/iomem addresses were hidden.
 */
import { describe, expect, it } from "vitest";
import { analyzeMachine, type MachineInput } from "../analyze/index.js";
import { displaySafe, terminalSafe } from "./escape.js";
import { plainPaint } from "./index.js";
import { renderSummary } from "./summary.js";

describe("bidi and control characters", () => {
  it.each([
    ["\u202edhss", "\\u202edhss"],
    ["a\u2066b\u2069c", "a\\u2066b\\u2069c"],
    ["\u200f\u200e\u061c", "\\u200f\\u200e\\u061c"],
    ["\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"],
    ["\u001b[2Jx", "\\x1b[2Jx"],
    ["sshd: user@pts/0 — é", "sshd: user@pts/0 — é"],
  ])("terminalSafe(%j) is %j", (input, shown) => {
    expect(terminalSafe(input)).toBe(shown);
  });

  it("displaySafe escapes every string of a document and keeps its shape and numbers", () => {
    const doc = { buffers: [{ label: "1 \u202edhss", pages: 3 }], host: { hostname: "h\u0007" }, n: [1, 2] };
    expect(displaySafe(doc)).toEqual({
      buffers: [{ label: "1 \\u202edhss", pages: 3 }],
      host: { hostname: "h\\x07" },
      n: [1, 2],
    });
    expect(doc.buffers[0].label).toBe("1 \u202edhss"); // the input is not changed
  });
});

describe("summary of a physical map read without root", () => {
  const m = (iomem: boolean): MachineInput => ({
    origin: "live",
    hostname: "h",
    kernel: "6.18",
    pageSize: 4096,
    access: { pfns: true, iomem, messages: [] },
    iomem: [{ start: 0, end: 0, name: "System RAM", children: [] }],
    pci: [],
    iommus: [],
  });

  it("says the size is unknown instead of 1 B", () => {
    const hidden = renderSummary(analyzeMachine(m(false), []), { paint: plainPaint }).join("\n");
    expect(hidden).toMatch(
      /Physical map {3}System RAM size unknown \(\/proc\/iomem addresses read as 0 without root\), 1 regions/,
    );
    expect(hidden).not.toMatch(/1 B System RAM/);
    const known = renderSummary(analyzeMachine(m(true), []), { paint: plainPaint }).join("\n");
    expect(known).toMatch(/Physical map {3}1 B System RAM/);
  });
});
