import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "lab/**/*.test.ts", "bench/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/.git/**", "lab/.cache/**"],
    reporters: ["default", "./test/summary-reporter.ts"],
    setupFiles: ["./test/kit/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
