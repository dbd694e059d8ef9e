import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Files that measure a child process's peak RSS against 100 MiB. They run after the others, one
 * at a time: with other files busy on both cores, V8's concurrent GC threads fall behind and the
 * same commands peaked at 107-108 MiB (CI of 4009f78), not the 81-96 they take alone. The
 * manifest index's and the verify records' tests measure their own heap after a full GC: beside
 * other files, one measured 32 MB against its 24 MiB bound (Node 24, fresh-clone CI), ~14 alone.
 */
const MEASURING = ['test/memory.test.ts', 'test/recovery.test.ts', 'test/verify.test.ts', 'test/manifest-index.test.ts', 'test/seen-table.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Removes each file's temp dirs after it (test/helpers/tree.ts tempDir).
    setupFiles: ['test/setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['test/**/*.test.ts'],
          exclude: MEASURING,
          // Tests create trees with root-only metadata (owners, devices, labels) in their own temp
          // dirs; files run in parallel, one per core, tests inside a file in order. Vitest's
          // default is one worker fewer than the cores: on CI's two, one file at a time (npm test
          // 730-860 s; about 450 s so).
          fileParallelism: true,
          maxWorkers: Math.max(2, availableParallelism()),
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'measuring', include: MEASURING, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
