/**
 * What `npm run test:mutation` mutates: each target is a folder (or a few files) of the
 * security-critical TypeScript and the test files that exercise it. Only those tests run for its
 * mutants, so a target's score says how well they pin its behaviour down.
 */
export const MUTATION_TARGETS = {
  hybrid: {
    mutate: ['lib/hybrid/**/*.ts'],
    tests: ['test/hybrid/**/*.test.ts', 'test/hostile-arguments.test.ts', 'test/algorithm-names.test.ts'],
  },
  'input-checks': {
    mutate: ['lib/ml-kem-input-checks.ts', 'lib/ml-dsa-input-checks.ts'],
    tests: ['test/vectors/**/*.test.ts', 'test/kem.test.ts', 'test/sig.test.ts', 'test/hybrid/hybrid-kem.test.ts'],
  },
  bytes: {
    mutate: ['lib/bytes.ts'],
    tests: ['test/bytes-checks.test.ts', 'test/secret-bytes.test.ts', 'test/hostile-arguments.test.ts', 'test/kem.test.ts', 'test/sig.test.ts'],
  },
  policy: {
    mutate: ['lib/policy/**/*.ts'],
    tests: ['test/policy/**/*.test.ts', 'test/fuzz/parsers.test.ts'],
  },
  mesh: {
    mutate: ['lib/mesh/**/*.ts'],
    tests: ['test/mesh/**/*.test.ts', 'test/fuzz/parsers.test.ts'],
  },
  'control-plane': {
    mutate: ['lib/control-plane/**/*.ts'],
    tests: ['test/control-plane/**/*.test.ts', 'test/fuzz/parsers.test.ts'],
  },
};
