import { describe, expect, it } from "vitest";
import { FORMATS } from "../formats/index.js";
import { findGlossaryEntry, GLOSSARY } from "./glossary.js";

describe("glossary", () => {
  it("has an entry with a kernel or design source for every term the summary prints", () => {
    for (const t of [
      "congruent",
      "kernel IOVA",
      "tables",
      "IOTLB",
      "BUS_ADDR",
      "other",
      "buffer",
      "leaves",
      "PRP",
      "SGL",
      "MTT",
      "pin ops",
      "run",
      "THP",
      "hugetlb",
      "model",
    ]) {
      const e = findGlossaryEntry(t);
      expect(e, t).toBeDefined();
      expect(e?.source).toMatch(/(\.[ch]\b|phyr design)/);
      expect(e?.text.length).toBeGreaterThan(20);
    }
  });

  it("explains every format name with the file its layout follows", () => {
    for (const f of FORMATS) {
      const e = findGlossaryEntry(f.name);
      expect(e?.term).toBe(f.name);
      expect(e?.source).toBe(f.kernelSource);
      expect(e?.text).not.toMatch(/^The \S+ representation of a page list\.$/);
    }
  });

  it("finds a term by alias whatever the case and separators", () => {
    expect(findGlossaryEntry("bus-address")?.term).toBe("bus_addr");
    expect(findGlossaryEntry("  Kernel_IOVA ")?.term).toBe("kernel iova");
    expect(findGlossaryEntry("iotlb entries")?.term).toBe("iotlb");
    expect(findGlossaryEntry("nosuchterm")).toBeUndefined();
  });

  it("has no two entries answering to the same word", () => {
    const seen = new Map<string, string>();
    for (const e of GLOSSARY) {
      for (const w of [e.term, ...e.aliases]) {
        const k = w.toLowerCase().replace(/[\s_-]+/g, " ");
        expect(seen.get(k), `${w} in ${e.term} and ${seen.get(k)}`).toBeUndefined();
        seen.set(k, e.term);
      }
    }
  });
});
