import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Tests create trees with root-only metadata (owners, devices, labels) in their own temp dirs;
    // files run in parallel, one per core, tests inside a file in order. Vitest's default is one
    // worker fewer than the cores: on CI's two, one file at a time (npm test 730-860 s; 430 s so).
    fileParallelism: true,
    maxWorkers: Math.max(2, availableParallelism()),
    // Removes each file's temp dirs after it (test/helpers/tree.ts tempDir).
    setupFiles: ['test/setup.ts'],
  },
});
