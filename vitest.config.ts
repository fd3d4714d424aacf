import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Servers started inside tests log only what would need attention.
    env: { LOG_LEVEL: 'warn' },
  },
});
