import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The compliance suite is written for mocha (aegir): `describe`/`it` as globals and
// `before`/`after` hooks, which setup.ts maps onto vitest's.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/libp2p-compliance/*.test.ts'],
    globals: true,
    setupFiles: ['test/libp2p-compliance/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Worker threads started by the code under test (the WebAssembly pool) load lib/ from its
    // TypeScript sources, as in the main config.
    execArgv: ['--import', new URL('../setup/typescript-in-workers.mjs', import.meta.url).href],
  },
});
