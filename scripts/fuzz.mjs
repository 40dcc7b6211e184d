#!/usr/bin/env node
// node scripts/fuzz.mjs [--seed N] [--write]   (npm run fuzz: written to docs/reliability.md)
//
// The fuzz properties run long: vitest over the parser targets (test/fuzz/parsers.test.ts), the
// public API with hostile arguments (test/hostile-arguments.test.ts) and the raw addon
// (test/native-addon-fuzz.test.ts) with PQC_FUZZ_LONG=1, each target's figures collected from
// PQC_FUZZ_REPORT. Prints executions per target and in total (at least 1,000,000, or it fails);
// new outcomes and any input that broke a property are added to test/fuzz/corpus/, which the
// default suite replays. --write puts the figures in the "## Fuzzing" section of
// docs/reliability.md and leaves the other sections alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { failer, progress } from './bench-support.mjs';
import { writeSection } from './reliability-file.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## Fuzzing';
const MINIMUM = 1_000_000;
const FILES = ['test/fuzz/parsers.test.ts', 'test/hostile-arguments.test.ts', 'test/native-addon-fuzz.test.ts'];
const fail = failer('fuzz');

const args = process.argv.slice(2);
const write = args.includes('--write');
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : Date.now() % 2 ** 31;
if (!Number.isInteger(seed)) fail('--seed needs an integer');

const { info, ready } = await import(pathToFileURL(path.join(root, 'dist', 'index.js')).href).catch(() => fail('build first: npm run build:ts'));
await ready();
const status = info();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'x0tta6bl4-pqc-fuzz-'));
const reportFile = path.join(scratch, 'figures.jsonl');
progress(`fuzz: seed ${seed} on the ${status.backend} backend${status.liboqs ? ` (liboqs ${status.liboqs.version})` : ''}`);
const started = performance.now();
const run = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...FILES], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, PQC_FUZZ_LONG: '1', PQC_FUZZ_SEED: String(seed), PQC_FUZZ_REPORT: reportFile },
});
const seconds = (performance.now() - started) / 1000;
let figures = [];
try {
  figures = readFileSync(reportFile, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
} catch {
  // no figures: vitest failed before any target ran; said below
}
rmSync(scratch, { recursive: true, force: true });

const total = figures.reduce((sum, f) => sum + f.runs, 0);
const group = (f) => (f.target.startsWith('public API') ? 'public API' : f.target.startsWith('raw addon') ? 'raw addon' : 'parsers');
const n = (x) => x.toLocaleString('en');
// The time per execution says where the budget goes (test/fuzz/targets.ts sets it by that cost).
const row = (name, runs, seconds, outcomes, added, holds) =>
  `| ${name} | ${n(runs)} | ${seconds.toFixed(1)} | ${runs ? ((1000 * seconds) / runs).toFixed(2) : ''} | ${outcomes} | ${added} | ${holds} |`;
const rows = figures.filter((f) => group(f) === 'parsers').map((f) => row(f.target, f.runs, f.seconds, f.outcomes, f.added, f.holds));
const boundary = ['public API', 'raw addon'].map((name) => {
  const of = figures.filter((f) => group(f) === name);
  const sum = (key) => of.reduce((total, f) => total + f[key], 0);
  return row(`${name} (${of.length} properties)`, sum('runs'), sum('seconds'), '', '', of[0]?.holds ?? '');
});
const passed = run.status === 0 && total >= MINIMUM;
const markdown = [
  SECTION,
  '',
  `\`npm run fuzz\` (scripts/fuzz.mjs) on the ${status.backend} backend${status.liboqs ? ` (liboqs ${status.liboqs.version})` : ''}, Node ${process.version}, ` +
    `${new Date().toISOString().slice(0, 10)}, seed ${seed}: **${n(total)} executions** in ${seconds.toFixed(0)} s, ${passed ? 'no property broken' : '**FAILED**'}.`,
  '',
  'Mutation-based (fast-check): each parser target changes valid messages made by real handshakes, channels, control planes and quorum',
  'certificates (bit flips, byte sets, truncation, extension, insertion, deletion, duplication, splices from the other valid messages)',
  'and checks what must hold; the boundary properties call every public Kem/Sig method and the raw addon with hostile arguments',
  '(wrong types, detached, resizable, shrunk, shared and offset buffers, argument counts, many async calls in flight).',
  'Every execution is also bounded in time (10 s: a hang fails). "outcomes" counts the distinct results reached (each refusal reason and',
  'message, numbers and quoted input elided); the first input of each new one (where several parsers read an input, a new result of any one)',
  'goes into test/fuzz/corpus/, at most 24 a target and run, and the default suite replays them.',
  'The executions go where they are cheap (the ms column): a bare parser takes a fraction of a millisecond, a handshake target runs a',
  'real handshake up to the changed message, a policy file compiles its two JSON schemas, a config file is written and read back.',
  '',
  '| target | executions | s | ms per execution | outcomes | new in corpus | what holds |',
  '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ...rows,
  ...boundary,
  '',
  'Coverage-guided fuzzing with Jazzer.js (`@jazzer.js/core`) does not run here: its only release that installs without network',
  '(4.0.0, whose fuzzer addon is a prebuild inside the package) needs glibc 2.38 (`__isoc23_strtol`, `__isoc23_strtoul`), and Debian 12',
  'has 2.36 (`ERR_DLOPEN_FAILED: version GLIBC_2.38 not found`); 1.x and 2.x download their prebuild from GitHub at install, or build',
  'it from a patched LLVM they download, and both need more network than the npm registry. The fuzzing above is the fall-back.',
].join('\n');
console.log(markdown);
if (write) {
  writeSection(SECTION, markdown);
  progress('fuzz: wrote the Fuzzing section of docs/reliability.md');
}
if (run.status !== 0) fail(`a fuzz property failed (vitest exit ${run.status ?? run.signal}); its input is in test/fuzz/corpus/ when it was a parser target`);
if (total < MINIMUM) fail(`only ${n(total)} executions, fewer than ${n(MINIMUM)}`);
