#!/usr/bin/env node
// npm run check-install [-- --expect native|wasm|auto] [--node PATH] [--emulator CMD]
//
// Checks the package as a user gets it: `npm pack` (its file list asserted), installed into
// a fresh project once with --ignore-scripts and once under npm's default script blocking,
// then scripts/install-smoke.mjs run there. Nothing may compile: the prebuild must load.
//   --expect   backend info() must report; auto (default): native when LD_LIBRARY_PATH or
//              X0TTA6BL4_LIBOQS_PATH offers a liboqs, else wasm
//   --node     the node that runs the smoke (default: this one); --emulator runs it, e.g.
//              qemu-aarch64 for an arm64 node (see check-install-arm64.sh)
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: options } = parseArgs({
  options: {
    expect: { type: 'string', default: 'auto' },
    node: { type: 'string', default: process.execPath },
    emulator: { type: 'string' },
  },
});

const PREBUILDS = ['linux-x64', 'linux-arm64'].map((t) => `prebuilds/${t}/x0tta6bl4-pqc.glibc.node`);
// csrc/ and binding.gyp ship for the local-build fallback (other platforms, musl, or
// `npm rebuild x0tta6bl4-pqc` where install scripts are allowed).
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
// What package.json points at must ship too: a dangling "bin" or "types" breaks users.
const declared = [manifest.main, manifest.types, ...Object.values(manifest.bin ?? {})]
  .filter(Boolean).map((p) => path.posix.normalize(p));
// The CLI's policy check reads policy/ from the package, and the example config names the rules.
const POLICY = ['production.policy.json', 'policy.schema.json', 'deployment.schema.json', 'examples/production.json']
  .map((f) => `policy/${f}`);
// The WebAssembly backend's worker threads load their entry as a file of its own.
const REQUIRED = [...new Set(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/wasm/wasm-worker.js',
  'binding.gyp', 'csrc/sources.gypi', ...PREBUILDS, ...POLICY, 'prometheus/pqc.rules.yml', ...declared])];
const FORBIDDEN = [
  /^build\//, /(^|\/)(test|tests|__tests__)\//, /\.(test|spec)\.[cm]?[jt]s$/, /vectors?/i,
  /\.map$/, /\.tsbuildinfo$/, /\.tgz$/, /(^|\/)node_modules\//,
  /\.(o|a|so(\.\d+)*|dylib|dll)$/, // objects, and never a bundled liboqs
  /^prebuilds\/(?!.*\.node$)/,
];

class CheckFailed extends Error {}
function fail(message) {
  throw new CheckFailed(message);
}

// Inherited npm_* variables (npm run sets dozens) would leak into the inner npm and into
// node-gyp-build, which honours npm_config_arch.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));

function npm(args, cwd) {
  const result = spawnSync('npm', args, { cwd, env: cleanEnv, encoding: 'utf8' });
  if (result.status !== 0) fail(`npm ${args.join(' ')} failed in ${cwd}:\n${result.stdout}${result.stderr}`);
  return result.stdout + result.stderr;
}

function hasLiboqs() {
  if (process.env.X0TTA6BL4_LIBOQS_PATH) return true;
  return (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean).some((dir) => {
    try {
      return fs.readdirSync(dir).some((name) => /^liboqs\.so/.test(name));
    } catch {
      return false;
    }
  });
}

function pack(into) {
  const [result] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', into],
    { cwd: root, env: cleanEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const files = result.files.map((f) => f.path);
  const missing = REQUIRED.filter((f) => !files.includes(f));
  const extra = files.filter((f) => FORBIDDEN.some((pattern) => pattern.test(f)));
  if (missing.length > 0) {
    fail(`tarball lacks ${missing.join(', ')} (dist/ comes from "npm run build:ts", prebuilds/ ` +
      'from "npm run build:prebuilds")');
  }
  if (extra.length > 0) fail(`tarball must not contain ${extra.join(', ')} (package.json "files")`);
  console.log(`packed ${result.filename}: ${files.length} files, ${result.size} bytes`);
  return path.join(into, result.filename);
}

function install(tarball, dir, scripts) {
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'),
    JSON.stringify({ name: 'install-check', private: true, type: 'module' }));
  const flags = scripts === 'ignored' ? ['--ignore-scripts'] : [];
  const output = npm(['install', tarball, '--no-audit', '--no-fund', ...flags], dir);
  // Under npm's default blocking our "install" script is listed as skipped, not run.
  if (scripts === 'blocked by default' && !/install-scripts +x0tta6bl4-pqc@\S+ \(install:/.test(output)) {
    const version = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
    fail(`npm ${version} did not report x0tta6bl4-pqc's install script as blocked ` +
      `(npm 11 blocks dependency install scripts by default):\n${output}`);
  }
  if (fs.existsSync(path.join(dir, 'node_modules', 'x0tta6bl4-pqc', 'build'))) {
    fail(`install compiled the addon (node_modules/x0tta6bl4-pqc/build exists) in ${dir}`);
  }
}

function smoke(dir, expected) {
  fs.copyFileSync(path.join(root, 'scripts', 'install-smoke.mjs'), path.join(dir, 'smoke.mjs'));
  const command = options.emulator ? [options.emulator, options.node] : [options.node];
  const result = spawnSync(command[0], [...command.slice(1), 'smoke.mjs'], {
    cwd: dir, env: { ...cleanEnv, PQC_CHECK_EXPECT: expected }, stdio: 'inherit',
  });
  if (result.status !== 0) fail(`smoke test failed (${command.join(' ')}) in ${dir}`);
}

if (!['native', 'wasm', 'auto'].includes(options.expect)) {
  console.error(`check-install: --expect must be native, wasm or auto, got ${options.expect}`);
  process.exit(2);
}
const expected = options.expect === 'auto' ? (hasLiboqs() ? 'native' : 'wasm') : options.expect;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'x0tta6bl4-pqc-install-'));
try {
  const tarball = pack(work);
  for (const [name, scripts] of [['ignore-scripts', 'ignored'], ['default', 'blocked by default']]) {
    console.log(`install with scripts ${scripts}, expecting backend ${expected}:`);
    const dir = path.join(work, name);
    install(tarball, dir, scripts);
    smoke(dir, expected);
  }
  fs.rmSync(work, { recursive: true, force: true });
} catch (error) {
  if (!(error instanceof CheckFailed)) throw error;
  // The temp projects stay for a look at what npm installed.
  console.error(`check-install: ${error.message}\n(left ${work})`);
  process.exitCode = 1;
}
