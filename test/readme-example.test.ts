/**
 * The README's library example runs as written: the ```ts block under "## Library" is copied
 * into a module (importing the source instead of the built package) and executed; what it prints
 * must be what the design promises.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it, vi } from "vitest";
import { ROOT } from "./kit/files.js";

it("the README's library example runs and prints what the design promises", async () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const library = readme.slice(readme.indexOf("\n## Library"));
  const block = /```ts\n([\s\S]*?)```/.exec(library);
  expect(block, "a ```ts block under ## Library").not.toBeNull();
  const src = block![1].replace(/from "phyr"/g, `from ${JSON.stringify(join(ROOT, "src/index.js"))}`);
  const dir = mkdtempSync(join(ROOT, "test/.readme-"));
  const file = join(dir, "example.ts");
  writeFileSync(file, src);
  const lines: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => {
    lines.push(a.join(" "));
  });
  try {
    await import(file);
  } finally {
    log.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
  expect(lines[0]).toMatch(/^pinned 4 GiB as [1-4] entries$/);
  expect(lines).toContain("no IOMMU: same list true");
  expect(lines.find((l) => l.startsWith("IOMMU:"))).toMatch(/^IOMMU: 1 entry of 4 GiB at IOVA 0x[0-9a-f]+$/);
  // 4 GiB of 4 KiB pages as a struct page array: 1,048,576 pointers of 8 bytes.
  expect(lines).toContain("pages: 8388608 B");
});
