import { defineConfig } from 'vitest/config';

// GPU tests share one Dawn device per worker process; SwiftShader is CPU-bound on a 2-core
// machine, so a single fork keeps the run predictable.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
