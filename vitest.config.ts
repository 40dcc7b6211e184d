import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // libp2p's compliance suite has its own package and config (npm run test:libp2p).
    exclude: ['**/node_modules/**', 'test/libp2p-compliance/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/setup/prometheus.ts'],
  },
});
