// @ts-check
/**
 * StrykerJS over the security-critical TypeScript, one target (a folder or a few files and the
 * test files that exercise them) per run: scripts/mutation.mjs picks the target and passes it in
 * PQC_MUTATION_TARGET. Each target keeps its own incremental file and report under reports/.
 */
import { MUTATION_TARGETS } from './scripts/mutation-targets.mjs';

const name = process.env.PQC_MUTATION_TARGET ?? '';
const target = MUTATION_TARGETS[name];
if (!target) throw new Error(`unknown mutation target ${name}: one of ${Object.keys(MUTATION_TARGETS).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // The runner's own "related" search would run every test for lib/bytes.ts (everything imports
  // it); vitest.mutation.config.ts runs the target's tests instead.
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: target.mutate,
  // Each mutant runs only the tests that reached it in the dry run.
  coverageAnalysis: 'perTest',
  // A static mutant (a module-level value, evaluated once on import) reruns every test of the
  // target: in lib/policy/ 15 % of the mutants took 94 % of the time, and their results were
  // unreliable both ways (docs/reliability.md). They are left out of the score, and counted.
  ignoreStatic: true,
  // The machine has 2 cores.
  concurrency: 2,
  // Generous: the machine is shared, and a mutant that loops is still caught.
  timeoutMS: 30_000,
  timeoutFactor: 2.5,
  dryRunTimeoutMinutes: 30,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  clearTextReporter: { allowColor: false, logTests: false },
  incremental: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  thresholds: { high: 90, low: 85, break: null },
  // Stryker would rewrite tsconfig.json's paths out of the sandbox with TypeScript's JS API, which
  // TypeScript 7 (this package's compiler) no longer has; ours names nothing outside the project,
  // so a file that does not exist turns that step off.
  tsconfigFile: 'no-tsconfig-rewrite.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
