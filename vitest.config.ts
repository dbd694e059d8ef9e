import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Tests create trees with root-only metadata (owners, devices, labels) in their own temp dirs;
    // files run in parallel on the two cores, tests inside a file in order.
    fileParallelism: true,
    // Removes each file's temp dirs after it (test/helpers/tree.ts tempDir).
    setupFiles: ['test/setup.ts'],
  },
});
