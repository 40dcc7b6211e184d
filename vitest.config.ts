import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // libp2p's compliance suite has its own package and config (npm run test:libp2p).
    exclude: ['**/node_modules/**', 'test/libp2p-compliance/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Worker threads started by the code under test load lib/ from its TypeScript sources.
    execArgv: ['--import', new URL('./test/setup/typescript-in-workers.mjs', import.meta.url).href],
    globalSetup: ['test/setup/prometheus.ts'],
  },
});
