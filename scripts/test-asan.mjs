// npm run test:asan: the native part of the suite (addon, KEM/SIG, batches, concurrency,
// hybrids, mesh handshakes) against the addon built by CMakeLists.txt with AddressSanitizer and
// UndefinedBehaviorSanitizer (-fno-sanitize-recover=all), LeakSanitizer on. Node is not
// instrumented, so the runtimes are preloaded into every process of the run; every report is
// written to a file (a child whose stderr a test ignores cannot lose one), and any report fails
// the run. docs/reliability.md has the one-time set-up and the figures.
//
// Without a liboqs only what the addon does without one is run (loading and refusing libraries,
// X25519, the calls that need no liboqs), and the rest is listed as skipped; PQC_REQUIRE_NATIVE=1
// makes a missing liboqs a failure instead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { failer, oneLine } from './bench-support.mjs';
import { childCpuSeconds, probe, root, run } from './sanitizer-run.mjs';

const fail = failer('test:asan');
const SETUP = 'one-time set-up: apt-get install cmake g++ (docs/reliability.md, "Sanitizers")';

// Everything that reaches the addon with a liboqs loaded, and the part of it that needs none.
const WITH_LIBOQS = [
  'test/native-addon.test.ts',
  'test/native-batch-secrets.test.ts',
  'test/native-concurrency.test.ts',
  'test/native-worker-termination.test.ts',
  'test/hostile-arguments.test.ts',
  'test/backend-selection.test.ts',
  'test/kem.test.ts',
  'test/sig.test.ts',
  'test/sig-schemes.test.ts',
  'test/vectors',
  'test/hybrid',
  'test/mesh',
];
const WITHOUT_LIBOQS = ['test/native-addon.test.ts', 'test/backend-selection.test.ts', 'test/hybrid/x25519.test.ts'];

const out = path.join(root, 'build-asan');
const reports = path.join(out, 'reports');
const addon = path.join(out, 'build', 'Debug', 'x0tta6bl4_pqc.node');

// The sanitizer runtimes of the compiler that builds the addon; it prints the bare name back
// when it has no such file.
const cxx = process.env.CXX || 'g++';
function runtime(name) {
  const found = spawnSync(cxx, [`-print-file-name=${name}`], { encoding: 'utf8' });
  const file = found.stdout?.trim();
  if (found.error || !file || !path.isAbsolute(file) || !existsSync(file)) {
    fail(`${cxx} has no ${name} (${found.error?.message ?? 'not installed'}); ${SETUP}`);
  }
  return file;
}
const runtimes = [runtime('libasan.so'), runtime('libubsan.so')];
if (spawnSync('cmake', ['--version']).error) fail(`cmake is not on PATH; ${SETUP}`);

// cmake-js takes Node's headers from npm's nodedir, else downloads them: this Node's own
// include/node (in every Node install) needs no network.
const nodeDir = process.env.npm_config_nodedir || path.resolve(path.dirname(process.execPath), '..');
if (!existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) {
  fail(`no Node headers in ${nodeDir}/include/node; set npm_config_nodedir to a Node install with them`);
}

const started = Date.now();
const cpuBefore = childCpuSeconds();
const built =
  run(process.execPath, [path.join(root, 'node_modules/cmake-js/bin/cmake-js'), 'compile', '--debug', '--CDSANITIZE=ON',
    '--out', path.join(out, 'build'), '--log-level', 'warn'], { env: { ...process.env, npm_config_nodedir: nodeDir } }) === 0 &&
  run('npm', ['run', '--silent', 'build:ts']) === 0;
if (!built || !existsSync(addon)) fail('the sanitizer build failed (output above)');

rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });
const env = {
  ...process.env,
  // ASan's runtime must come first; node-gyp-build reads X0TTA6BL4_PQC_PREBUILD (the package's
  // name) for the directory whose build/ holds the addon.
  LD_PRELOAD: [...runtimes, process.env.LD_PRELOAD].filter(Boolean).join(' '),
  X0TTA6BL4_PQC_PREBUILD: out,
  ASAN_OPTIONS: [`log_path=${reports}/asan`, 'detect_leaks=1', 'detect_stack_use_after_return=1',
    'check_initialization_order=1', 'strict_init_order=1'].join(':'),
  LSAN_OPTIONS: `suppressions=${path.join(root, 'scripts/lsan.supp')}:print_suppressions=0`,
  UBSAN_OPTIONS: `log_path=${reports}/ubsan:print_stacktrace=1:halt_on_error=1`,
  // The suite's global set-up would fetch Prometheus; no test run here needs it.
  PQC_INSTALL_PROMETHEUS: '0',
};

let status;
try {
  status = probe(env, /x0tta6bl4_pqc\.node$|libasan|libubsan/);
} catch (error) {
  fail(oneLine(error.message));
}
const missing = [addon, 'libasan', 'libubsan'].filter(
  (wanted) => !status.mapped.some((file) => file === wanted || path.basename(file).startsWith(`${wanted}.so`)),
);
if (missing.length > 0) {
  fail(`${missing.join(' and ')} not loaded in the package's process (mapped: ${status.mapped.join(', ') || 'none'})`);
}
const native = status.backend === 'native';
if (!native && process.env.PQC_REQUIRE_NATIVE === '1') {
  fail(`PQC_REQUIRE_NATIVE=1, but no liboqs loads (${status.why}); set LD_LIBRARY_PATH or X0TTA6BL4_LIBOQS_PATH`);
}
const files = native ? WITH_LIBOQS : WITHOUT_LIBOQS;
console.log(`test:asan: ${addon} (ASan + UBSan), ${native ? `liboqs ${status.liboqs}` : `no liboqs (${status.why})`}`);
if (!native) {
  console.log(
    'test:asan: SKIPPED, as it needs a liboqs: KEM/SIG, batches, concurrency, hybrids and mesh handshakes ' +
      `(${WITH_LIBOQS.filter((file) => !files.includes(file)).join(', ')}); running only the addon's own paths`,
  );
}

const results = path.join(out, 'vitest.json');
const tested = run(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...files,
  // Sanitized code runs several times slower, and the machine may be busy.
  '--testTimeout=180000', '--hookTimeout=180000', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`], { env });

const found = readdirSync(reports).sort();
for (const file of found) console.error(`\n==== ${file}\n${readFileSync(path.join(reports, file), 'utf8')}`);
const summary = existsSync(results) ? JSON.parse(readFileSync(results, 'utf8')) : {};
const figures = {
  liboqs: status.liboqs,
  files: files.length,
  passed: summary.numPassedTests,
  skipped: (summary.numPendingTests ?? 0) + (summary.numTodoTests ?? 0),
  failed: summary.numFailedTests,
  reports: found.length,
  wallSeconds: Math.round((Date.now() - started) / 1000),
  cpuSeconds: Math.round(childCpuSeconds() - cpuBefore),
};
console.log(`test:asan: ${JSON.stringify(figures)}`);
writeFileSync(path.join(out, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
if (found.length > 0) fail(`${found.length} sanitizer report(s), printed above (kept in ${reports})`);
if (tested !== 0) fail(`the tests failed (exit ${tested})`);
