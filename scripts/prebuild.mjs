#!/usr/bin/env node
// npm run build:prebuilds [-- [--dry-run] [x64] [arm64]]
//
// Builds prebuilds/linux-<arch>/x0tta6bl4-pqc.glibc.node with prebuildify, cross-compiling
// for whichever architecture is not the host's (Debian: g++-aarch64-linux-gnu), then checks
// that each binary needs no liboqs and no glibc newer than Node 20 itself needs.
//
// With no architecture named (as prepack runs it) it builds those whose compilers this machine
// has and warns about the rest; an architecture named must build. --dry-run says which would be
// built and touches nothing: prepublishOnly runs it naming both, so that npm publish refuses a
// machine that would pack an incomplete package.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compat = path.join(root, 'scripts', 'glibc-compat');

// Node 20's official Linux binaries need glibc 2.28: a prebuild needing more would refuse
// to load on hosts where Node itself runs (RHEL 8, Debian 10/11, Ubuntu 20.04).
const GLIBC_CEILING = '2.28';

const ARCHES = {
  x64: { triple: 'x86_64-linux-gnu', machine: 'X86-64' },
  arm64: { triple: 'aarch64-linux-gnu', machine: 'AArch64' },
};

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

// The compilers for `arch`, or which of them are missing with how to get them.
function toolchain(arch) {
  const prefix = arch === process.arch ? '' : `${ARCHES[arch].triple}-`;
  const tools = { CC: `${prefix}gcc`, CXX: `${prefix}g++`, STRIP: `${prefix}strip` };
  const missing = Object.values(tools).filter((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return { tools };
  return { missing: `${missing.join(', ')} not found (Debian/Ubuntu: apt-get install g++-${ARCHES[arch].triple})` };
}

// node-gyp would download headers; the ones installed beside this node serve any arch
// (Node-API headers have no arch-specific content).
function nodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function build(arch, tools) {
  // A staging copy keeps the developer's build/ intact, and a cross-built .node can never
  // land in build/Release, where node-gyp-build would pick it before any prebuild.
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), `x0tta6bl4-pqc-prebuild-${arch}-`));
  try {
    for (const entry of ['package.json', 'binding.gyp', 'csrc']) {
      fs.cpSync(path.join(root, entry), path.join(stage, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'));
    fs.rmSync(path.join(root, 'prebuilds', `linux-${arch}`), { recursive: true, force: true });

    const env = {
      ...process.env,
      CC: tools.CC,
      CXX: tools.CXX,
      LINK: tools.CXX,
      CPPFLAGS: `-I${compat} -include ${path.join(compat, 'glibc-compat.h')}`,
      PREBUILD_STRIP_BIN: tools.STRIP,
    };
    const dir = nodedir();
    if (dir) env.npm_config_nodedir = dir;

    const args = [
      path.join(root, 'node_modules', 'prebuildify', 'bin.js'),
      '--napi', '--strip', '--tag-libc',
      `--arch=${arch}`, `--target=node@${process.versions.node}`,
      `--out=${root}`, stage,
    ];
    // Build logs go to stderr: `npm pack --json` runs this as prepack and parses stdout.
    const result = spawnSync(process.execPath, args, { cwd: stage, env, stdio: ['ignore', 2, 2] });
    if (result.status !== 0) fail(`prebuildify for ${arch} exited with ${result.status}`);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

const readelf = (...args) => execFileSync('readelf', ['-W', ...args], { encoding: 'utf8' });

const newest = (versions) =>
  versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);

// readelf reads any architecture's ELF, unlike the host's objdump.
function inspect(arch) {
  const dir = path.join(root, 'prebuilds', `linux-${arch}`);
  const files = fs.readdirSync(dir);
  if (files.length !== 1) fail(`${dir} should hold exactly one binary, has: ${files.join(', ')}`);
  const file = path.join(dir, files[0]);

  const machine = /Machine:\s+(.*)/.exec(readelf('-h', file))[1];
  if (!machine.includes(ARCHES[arch].machine)) fail(`${file} is built for ${machine}`);

  const needed = [...readelf('-d', file).matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]);
  if (needed.some((lib) => lib.includes('oqs'))) fail(`${file} links liboqs: ${needed}`);

  // Version needs: the symbol versions this binary asks its libraries for.
  const versions = [...readelf('-V', file).matchAll(/Name: (\S+)/g)].map((m) => m[1]);
  const glibc = newest(versions.filter((v) => v.startsWith('GLIBC_')).map((v) => v.slice(6)));
  const glibcxx = newest(versions.filter((v) => v.startsWith('GLIBCXX_')).map((v) => v.slice(8)));
  if (newest([glibc, GLIBC_CEILING]) !== GLIBC_CEILING) {
    fail(`${file} needs glibc ${glibc}, above ${GLIBC_CEILING}; see scripts/glibc-compat/`);
  }
  const size = fs.statSync(file).size;
  return { file: path.relative(root, file), size, needed: needed.join(' '), glibc, glibcxx };
}

const args = process.argv.slice(2);
const dryRun = args.includes('--dry-run');
const requested = args.filter((arg) => arg !== '--dry-run');
for (const arch of requested) {
  if (!(arch in ARCHES)) fail(`unknown arch ${arch}; expected --dry-run or any of ${Object.keys(ARCHES)}`);
}
const arches = requested.length > 0 ? requested : Object.keys(ARCHES);
// Every toolchain is looked for before anything is built or removed: a refusal costs nothing.
const plan = arches.map((arch) => ({ arch, ...toolchain(arch) }));
const unbuildable = plan.filter((step) => step.missing);
if (requested.length > 0 && unbuildable.length > 0) {
  fail(unbuildable.map(({ arch, missing }) => `cannot build linux-${arch}, which was asked for: ${missing}`).join('\n') +
    `\n(npm publish runs this naming every architecture: a published package holds every prebuild.)`);
}
for (const { arch, missing } of unbuildable) {
  const dir = path.join('prebuilds', `linux-${arch}`);
  console.error(`prebuild: WARNING: skipping linux-${arch}: ${missing}.\n` +
    `  This package will lack ${dir}/ (on linux-${arch} it then compiles csrc/ at install where scripts are\n` +
    '  allowed, or uses the WebAssembly liboqs), and npm publish refuses to run on this machine.');
  // A binary left from an earlier build would ship beside code it was not built from.
  if (!dryRun) fs.rmSync(path.join(root, dir), { recursive: true, force: true });
}
const buildable = plan.filter((step) => step.tools);
if (dryRun) {
  console.error(`prebuild: would build ${buildable.map(({ arch }) => `linux-${arch}`).join(', ') || 'nothing'}`);
} else {
  for (const { arch, tools } of buildable) build(arch, tools);
  // stderr, like the build logs: stdout belongs to `npm pack --json` when this runs as prepack.
  new console.Console(process.stderr).table(buildable.map(({ arch }) => inspect(arch)));
}
