/**
 * What `npm run test:mutation` mutates: each target is a folder (or a few files) of the
 * security-critical TypeScript and the test files that exercise it. Only those tests run for its
 * mutants, so a target's score says how well they pin its behaviour down.
 */
const MESH_TESTS = ['test/mesh/**/*.test.ts', 'test/fuzz/parsers.test.ts'];

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
  // lib/mesh/ in five runs (about 2,500 mutants together, hours on 2 cores), each with its own
  // report; the folder's score is theirs together.
  'mesh-records': {
    mutate: ['lib/mesh/{wire,messages,replay-window,record-layer,key-schedule,suites,limits,failure}.ts'],
    tests: MESH_TESTS,
  },
  'mesh-peers': {
    mutate: ['lib/mesh/{identity,trust-store,signatures}.ts'],
    tests: MESH_TESTS,
  },
  'mesh-handshake': {
    mutate: ['lib/mesh/handshake.ts'],
    tests: MESH_TESTS,
  },
  'mesh-channels': {
    mutate: ['lib/mesh/{secure-channel,frame-transport,index}.ts'],
    tests: MESH_TESTS,
  },
  'mesh-security': {
    mutate: ['lib/mesh/{mesh-security,connection}.ts'],
    tests: MESH_TESTS,
  },
  'control-plane': {
    mutate: ['lib/control-plane/**/*.ts'],
    tests: ['test/control-plane/**/*.test.ts', 'test/fuzz/parsers.test.ts'],
  },
};
