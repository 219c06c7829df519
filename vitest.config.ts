import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Helm and the kernel testbed are CPU-bound; two workers fill the two cores of CI.
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", "./tests/lib/summary-reporter.ts"],
    // EDGE_CPU_LOAD=N runs N busy processes alongside the tests (tests/testbed/under-load.sh).
    globalSetup: ["./tests/lib/cpu-load.ts"],
  },
});
