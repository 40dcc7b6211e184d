import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { generateIdentity, loadIdentity, parsePublicKeys, PQMeshSecurity, saveIdentity } from '../../lib/mesh/index.js';
import { toHex } from '../support/environment.js';
import { expectCode, expectRejectCode } from '../support/errors.js';
import { silentLogger } from './support.js';

await ready();
const dir = await mkdtemp(join(tmpdir(), 'x0tta6bl4-identity-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('node identities', () => {
  it('saves with mode 0600 and loads back the same key pair', async () => {
    const identity = await generateIdentity();
    const path = join(dir, 'node.key');
    await saveIdentity(path, identity);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const loaded = await loadIdentity(path);
    expect(loaded.algorithm).toBe('ML-DSA-65');
    expect(toHex(loaded.publicKey)).toBe(toHex(identity.publicKey));
    expect(toHex(loaded.secretKey)).toBe(toHex(identity.secretKey));
    // The loaded identity signs for the node.
    const node = await PQMeshSecurity.create({ nodeId: 'n', identity: loaded, logger: silentLogger });
    expect(toHex(node.getPublicKeys().sigPublicKey)).toBe(toHex(identity.publicKey));
    await node.close();
    // The node signed with its own copy, wiped at close; the caller's identity is untouched.
    expect(() => node.signBeacon(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'ERR_PQC_CHANNEL_CLOSED' }));
    expect(toHex(loaded.secretKey)).toBe(toHex(identity.secretKey));
  });

  it('refuses a key file others may read, and files that are not identities', async () => {
    const path = join(dir, 'open.key');
    await saveIdentity(path, await generateIdentity());
    await chmod(path, 0o644);
    await expectRejectCode(loadIdentity(path), 'ERR_PQC_INSECURE_KEY_FILE');
    await chmod(path, 0o640);
    await expectRejectCode(loadIdentity(path), 'ERR_PQC_INSECURE_KEY_FILE');
    const garbage = join(dir, 'garbage.key');
    await writeFile(garbage, 'not a key', { mode: 0o600 });
    await expectRejectCode(loadIdentity(garbage), 'ERR_PQC_INVALID_CONFIGURATION');
    const truncated = join(dir, 'truncated.key');
    await chmod(path, 0o600);
    await writeFile(truncated, (await readFile(path)).subarray(0, 100), { mode: 0o600 });
    await expectRejectCode(loadIdentity(truncated), 'ERR_PQC_INVALID_CONFIGURATION');
    await expectRejectCode(loadIdentity(join(dir, 'missing.key')), 'ERR_PQC_INVALID_CONFIGURATION');
  });

  it('keeps the secret key out of inspect, toString and JSON', async () => {
    const identity = await generateIdentity();
    const secretHex = toHex(identity.secretKey).slice(0, 32);
    for (const shown of [inspect(identity), String(identity), JSON.stringify(identity), inspect(identity.secretKey), JSON.stringify({ identity })]) {
      expect(shown).not.toContain(secretHex);
      expect(shown).not.toMatch(/\d+, \d+, \d+/);
    }
  });

  it('parses public keys in both forms and refuses a keyId that does not match the key', async () => {
    const identity = await generateIdentity();
    const node = await PQMeshSecurity.create({ nodeId: 'n', identity, logger: silentLogger });
    const keys = node.getPublicKeys();
    const json = JSON.parse(JSON.stringify(keys));
    expect(parsePublicKeys(json).keyId).toBe(keys.keyId);
    expectCode(() => parsePublicKeys({ ...json, keyId: '00'.repeat(16) }), 'ERR_PQC_INVALID_INPUT');
    expectCode(() => parsePublicKeys({ ...json, sigPublicKey: 'zz' }), 'ERR_PQC_INVALID_INPUT');
    expectCode(() => parsePublicKeys({ ...json, sigPublicKey: json.sigPublicKey.slice(2) }), 'ERR_PQC_INVALID_INPUT');
    expectCode(() => parsePublicKeys(null), 'ERR_PQC_INVALID_INPUT');
    expectCode(() => node.trustPeer({ ...json, sigAlgorithm: 'RSA' }), 'ERR_PQC_INVALID_INPUT');
    await node.close();
  });
});
