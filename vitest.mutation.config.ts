import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';
import { MUTATION_TARGETS } from './scripts/mutation-targets.mjs';

// The suite as StrykerJS runs it for one target (stryker.config.mjs): only the target's test
// files, and without the global set-up that installs Prometheus (no mutated code needs it). The
// files are chosen here rather than with Stryker's `testFiles`, which activates static mutants
// (module-level values) only after their module has loaded, so that they seem to survive
// (stryker-js issue 6144, 9.6.1).
const target = MUTATION_TARGETS[process.env.PQC_MUTATION_TARGET ?? ''];
if (!target) throw new Error('PQC_MUTATION_TARGET names no target of scripts/mutation-targets.mjs');

export default defineConfig({ test: { ...base.test, include: target.tests, globalSetup: [] } });
