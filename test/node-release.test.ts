import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../lib/native/addon.js';
import { environment, hex, native, projectRoot, toHex } from './support/environment.js';

// scripts/test-node-matrix.mjs runs the whole suite on each Node release with PREBUILDS_ONLY=1,
// so that one prebuild, not a build/Release made by that release's headers, is what every
// other test exercised; this is the check that it really was.
const matrix = process.env.PREBUILDS_ONLY === '1';
const WHY = 'skipped: only in the Node matrix (npm run test:node-matrix), where PREBUILDS_ONLY=1 makes node-gyp-build load the prebuild instead of build/Release';
if (!matrix) console.warn(`[x0tta6bl4-pqc] tests ${WHY}`);

describe.skipIf(!matrix)(`the linux-${process.arch} prebuild on Node ${process.versions.node}`, () => {
  it('is the addon that loads, and it answers', () => {
    const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as { resolve(dir: string): string };
    const file = nodeGypBuild.resolve(projectRoot);
    expect(path.relative(projectRoot, file)).toBe(path.join('prebuilds', `${process.platform}-${process.arch}`, 'x0tta6bl4-pqc.glibc.node'));
  });

  it("finds this Node's OpenSSL for X25519: RFC 7748 section 6.1's Alice", () => {
    // csrc/x25519.cc looks its OpenSSL functions up in the running node, so each release's
    // exports are what is under test here, whichever liboqs (if any) is loaded.
    const addon = loadAddon();
    expect(addon.x25519PublicKey).toBeTypeOf('function');
    const out = new Uint8Array(32);
    addon.x25519PublicKey!(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'), out);
    expect(toHex(out)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  });

  it.skipIf(!native)(`runs the liboqs the rest of the suite used${native ? '' : ' (skipped: no native liboqs loaded)'}`, () => {
    expect(loadAddon().status()?.version).toBe(environment.liboqs?.version);
  });
});
