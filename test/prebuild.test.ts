import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from './support/environment.js';

// scripts/prebuild.mjs (npm pack's prepack, and prepublishOnly) on a machine that lacks a
// compiler, simulated by a PATH of links to everything on this one's PATH but that compiler.
// Nothing here builds: the runs stop at the plan, or have no compiler at all.
const TRIPLES = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' } as const;
const supported = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
const host = process.arch as keyof typeof TRIPLES;
const cross = host === 'x64' ? 'arm64' : 'x64';
const missingCross = `${['gcc', 'g++', 'strip'].map((tool) => `${TRIPLES[cross]}-${tool}`).join(', ')} not found (Debian/Ubuntu: apt-get install g++-${TRIPLES[cross]})`;

const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(purpose: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `x0tta6bl4-pqc-${purpose}-`));
  temporary.push(dir);
  return dir;
}

function pathWithout(excluded: (name: string) => boolean) {
  const farm = tempDir('path');
  const linked = new Set<string>();
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (linked.has(name) || excluded(name)) continue;
      linked.add(name);
      fs.symlinkSync(path.join(dir, name), path.join(farm, name));
    }
  }
  return farm;
}

// npm run sets npm_* variables that would reconfigure the inner npm.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));

function run(command: string, args: string[], cwd: string, PATH: string) {
  const result = spawnSync(command, args, { cwd, env: { ...cleanEnv, PATH }, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The prebuilds/ tree with each file's modification time: what a run must leave alone. */
function snapshot(root: string) {
  const dir = path.join(root, 'prebuilds');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((entry) => `${entry} ${fs.statSync(path.join(dir, entry)).mtimeMs}`);
}

describe.skipIf(!supported)(`scripts/prebuild.mjs without the ${cross} cross compiler`, () => {
  const noCross = supported ? pathWithout((name) => name.startsWith(`${TRIPLES[cross]}-`)) : '';
  const hostTools = ['gcc', 'g++', 'strip'].every((tool) => fs.existsSync(path.join(noCross, tool)));

  it(`by default (npm pack) warns that it skips linux-${cross} and builds the host's`, () => {
    const before = snapshot(projectRoot);
    const { status, output } = run(process.execPath, ['scripts/prebuild.mjs', '--dry-run'], projectRoot, noCross);
    expect(status, output).toBe(0);
    expect(output).toContain(`prebuild: WARNING: skipping linux-${cross}: ${missingCross}.`);
    expect(output).toMatch(new RegExp(`lack prebuilds/linux-${cross}/[\\s\\S]*npm publish refuses`));
    expect(output).toContain(`prebuild: would build ${hostTools ? `linux-${host}` : 'nothing'}`);
    expect(snapshot(projectRoot)).toEqual(before);
  });

  it(`npm publish refuses before building anything (prepublishOnly)`, () => {
    const before = snapshot(projectRoot);
    const { status, output } = run('npm', ['run', 'prepublishOnly'], projectRoot, noCross);
    expect(status, output).not.toBe(0);
    expect(output).toContain(`prebuild: cannot build linux-${cross}, which was asked for: ${missingCross}`);
    expect(output).toContain('a published package holds every prebuild');
    expect(snapshot(projectRoot)).toEqual(before);
  });

  it('with no compiler at all it skips both, removes their stale binaries and succeeds', () => {
    // A copy of the script in a tree of its own, whose prebuilds/ it may remove.
    const root = tempDir('prebuild-root');
    fs.mkdirSync(path.join(root, 'scripts'));
    fs.copyFileSync(path.join(projectRoot, 'scripts', 'prebuild.mjs'), path.join(root, 'scripts', 'prebuild.mjs'));
    for (const arch of Object.keys(TRIPLES)) {
      fs.mkdirSync(path.join(root, 'prebuilds', `linux-${arch}`), { recursive: true });
      fs.writeFileSync(path.join(root, 'prebuilds', `linux-${arch}`, 'x0tta6bl4-pqc.glibc.node'), 'from an older build');
    }
    const noCompiler = pathWithout((name) => ['gcc', 'g++', 'strip'].includes(name) || Object.values(TRIPLES).some((triple) => name.startsWith(`${triple}-`)));
    const { status, output } = run(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs')], root, noCompiler);
    expect(status, output).toBe(0);
    expect(output).toContain(`prebuild: WARNING: skipping linux-${host}: gcc, g++, strip not found (Debian/Ubuntu: apt-get install g++-${TRIPLES[host]}).`);
    expect(output).toContain(`prebuild: WARNING: skipping linux-${cross}: ${missingCross}.`);
    expect(fs.readdirSync(path.join(root, 'prebuilds'))).toEqual([]);
  });
});
