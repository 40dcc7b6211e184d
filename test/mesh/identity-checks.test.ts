import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ready, SecretBytes } from '../../lib/index.js';
import { generateIdentity, keyIdOf, parsePublicKeys, publicKeys, requireIdentity, requireNodeId } from '../../lib/mesh/identity.js';
import { toHex } from '../support/environment.js';
import { expectCode } from '../support/errors.js';

/**
 * The checks of lib/mesh/identity.ts on their own: node ids (README: 1–255 UTF-8 bytes, no
 * control characters), key ids (docs/protocol.md §5), public keys in both forms and a caller's
 * identity (FIPS 204 Table 2's key lengths), each refusal with its code and message.
 */
await ready();
const id65 = await generateIdentity();
const id44 = await generateIdentity('ML-DSA-44');

/** FIPS 204 Table 2: public and secret key lengths. */
const LENGTHS = { 'ML-DSA-44': [1312, 2560], 'ML-DSA-65': [1952, 4032], 'ML-DSA-87': [2592, 4896] } as const;
const ALGORITHMS_MESSAGE = 'the identity algorithm must be one of ML-DSA-44, ML-DSA-65, ML-DSA-87, got';

/** docs/protocol.md §5: the first 16 bytes of SHA-256("x0tta6bl4-pq/1 key id " ‖ algorithm ‖ 0x00 ‖ key), in hex. */
function specKeyId(algorithm: string, key: Uint8Array): string {
  const input = Buffer.concat([Buffer.from(`x0tta6bl4-pq/1 key id ${algorithm}`), Buffer.of(0), key]);
  return createHash('sha256').update(input).digest().subarray(0, 16).toString('hex');
}

function messageOf(fn: () => unknown, code = 'ERR_PQC_INVALID_INPUT'): string {
  return expectCode(fn, code).message;
}

describe('node ids', () => {
  const refusal = (name: string) => `${name} must be a string of 1 to 255 UTF-8 bytes without control characters`;

  it('takes 1 to 255 UTF-8 bytes, counted in bytes, not characters', () => {
    expect(requireNodeId('a')).toBe('a');
    expect(requireNodeId('a'.repeat(255))).toBe('a'.repeat(255));
    expect(requireNodeId('é'.repeat(127) + 'a')).toBe('é'.repeat(127) + 'a'); // 255 bytes
    for (const tooLong of ['a'.repeat(256), 'é'.repeat(128)]) expect(messageOf(() => requireNodeId(tooLong))).toBe(refusal('nodeId'));
    expect(messageOf(() => requireNodeId(''))).toBe(refusal('nodeId'));
  });

  it('refuses control characters (C0, DEL, C1), lone surrogates and non-strings', () => {
    for (const bad of ['a\nb', 'a\u0000', '\u001f', 'x\u007f', '\u0085', '\u009f', '\ud800', 7, undefined, null]) {
      expect(messageOf(() => requireNodeId(bad))).toBe(refusal('nodeId'));
    }
    expect(requireNodeId('\u00a0router')).toBe('\u00a0router'); // the first character after C1
  });

  it('names the field it checks', () => {
    expect(messageOf(() => requireNodeId('', 'peerId'))).toBe(refusal('peerId'));
    expect(messageOf(() => publicKeys('', 'ML-DSA-65', id65.publicKey))).toBe(refusal('nodeId'));
  });
});

describe('key ids', () => {
  it('are the 32 hex digits of SHA-256 over the label, the algorithm and the key (docs/protocol.md §5)', () => {
    expect(keyIdOf('ML-DSA-65', id65.publicKey)).toBe(specKeyId('ML-DSA-65', id65.publicKey));
    expect(publicKeys('n', 'ML-DSA-65', id65.publicKey).keyId).toBe(specKeyId('ML-DSA-65', id65.publicKey));
    expect(publicKeys('n', 'ML-DSA-44', id44.publicKey).keyId).toBe(specKeyId('ML-DSA-44', id44.publicKey));
    expect(publicKeys('n', 'ML-DSA-65', id65.publicKey).keyId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('public keys', () => {
  it('are frozen, hold a copy of the key, and give the hex form as JSON', () => {
    const key = Uint8Array.from(id65.publicKey);
    const keys = publicKeys('router-7', 'ML-DSA-65', key);
    key[0] ^= 1;
    expect(toHex(keys.sigPublicKey)).toBe(toHex(id65.publicKey));
    expect(Object.isFrozen(keys)).toBe(true);
    expect(JSON.parse(JSON.stringify(keys))).toEqual({
      nodeId: 'router-7',
      sigAlgorithm: 'ML-DSA-65',
      sigPublicKey: toHex(id65.publicKey),
      keyId: specKeyId('ML-DSA-65', id65.publicKey),
    });
  });

  it('refuse an algorithm that is not an ML-DSA identity algorithm, naming the ones taken', () => {
    expect(messageOf(() => publicKeys('n', 'RSA', id65.publicKey))).toBe(`${ALGORITHMS_MESSAGE} RSA`);
    expect(messageOf(() => publicKeys('n', 65 as unknown as string, id65.publicKey))).toBe(`${ALGORITHMS_MESSAGE} 65`);
    expect(messageOf(() => publicKeys('n', 'ml-dsa-65', id65.publicKey))).toBe(`${ALGORITHMS_MESSAGE} ml-dsa-65`);
  });

  it("refuse a key that is not a Uint8Array of the algorithm's public key length", () => {
    const refusal = (algorithm: keyof typeof LENGTHS) => `sigPublicKey must be a ${algorithm} public key of ${LENGTHS[algorithm][0]} bytes`;
    expect(messageOf(() => publicKeys('n', 'ML-DSA-65', Array.from(id65.publicKey) as unknown as Uint8Array))).toBe(refusal('ML-DSA-65'));
    expect(messageOf(() => publicKeys('n', 'ML-DSA-65', id65.publicKey.subarray(1)))).toBe(refusal('ML-DSA-65'));
    expect(messageOf(() => publicKeys('n', 'ML-DSA-44', id65.publicKey))).toBe(refusal('ML-DSA-44'));
    expect(messageOf(() => publicKeys('n', 'ML-DSA-87', id65.publicKey))).toBe(refusal('ML-DSA-87'));
  });
});

describe('parsePublicKeys', () => {
  const json = () => JSON.parse(JSON.stringify(publicKeys('router-7', 'ML-DSA-65', id65.publicKey))) as Record<string, unknown>;
  const hexRefusal = 'sigPublicKey must be hex or a Uint8Array';

  it('takes the bytes form, the hex form in either case, with or without a keyId', () => {
    const expected = specKeyId('ML-DSA-65', id65.publicKey);
    const { keyId: _dropped, ...withoutKeyId } = json();
    for (const given of [json(), withoutKeyId, { ...json(), sigPublicKey: toHex(id65.publicKey).toUpperCase() }, { nodeId: 'router-7', sigAlgorithm: 'ML-DSA-65', sigPublicKey: id65.publicKey }]) {
      const keys = parsePublicKeys(given);
      expect(keys.keyId).toBe(expected);
      expect(keys.nodeId).toBe('router-7');
      expect(toHex(keys.sigPublicKey)).toBe(toHex(id65.publicKey));
    }
  });

  it('refuses a keyId that does not match the key, showing both', () => {
    const wrong = '00'.repeat(16);
    expect(messageOf(() => parsePublicKeys({ ...json(), keyId: wrong }))).toBe(`keyId ${wrong} does not match the key (${specKeyId('ML-DSA-65', id65.publicKey)})`);
  });

  it('refuses a key string that is not whole hex bytes, wherever the stray characters are', () => {
    const key = toHex(id65.publicKey);
    for (const bad of ['zz', `zz${key}`, `${key}zz`, `${key}a`, `${key.slice(1)}`, '']) {
      expect(messageOf(() => parsePublicKeys({ ...json(), sigPublicKey: bad }))).toBe(hexRefusal);
    }
  });

  it('refuses what is not an object', () => {
    for (const bad of [null, undefined, 'router-7', 7]) {
      expect(messageOf(() => parsePublicKeys(bad))).toBe('public keys must be an object { nodeId, sigAlgorithm, sigPublicKey }');
    }
  });
});

describe('requireIdentity', () => {
  it("takes a known algorithm (ML-DSA-65 when none is given) and copies the caller's keys", () => {
    const { publicKey, secretKey } = id65;
    const checked = requireIdentity({ publicKey, secretKey });
    expect(checked.algorithm).toBe('ML-DSA-65');
    expect(checked.secretKey).toBeInstanceOf(SecretBytes);
    expect(checked.secretKey).not.toBe(secretKey);
    expect(checked.publicKey).not.toBe(publicKey);
    expect(toHex(checked.secretKey)).toBe(toHex(secretKey));
    expect(toHex(checked.publicKey)).toBe(toHex(publicKey));
    expect(requireIdentity(id44).algorithm).toBe('ML-DSA-44');
  });

  it('refuses what is not an object, and an unknown algorithm', () => {
    for (const bad of [null, undefined, 'ML-DSA-65', 7]) {
      expect(messageOf(() => requireIdentity(bad))).toBe('identity must be { algorithm, publicKey, secretKey }');
    }
    expect(messageOf(() => requireIdentity({ ...id65, algorithm: 'Falcon-512' }))).toBe(`${ALGORITHMS_MESSAGE} Falcon-512`);
  });

  it("refuses keys that are not Uint8Arrays of the algorithm's lengths", () => {
    const publicRefusal = (algorithm: keyof typeof LENGTHS) => `identity.publicKey must be a ${algorithm} public key of ${LENGTHS[algorithm][0]} bytes`;
    const secretRefusal = (algorithm: keyof typeof LENGTHS) => `identity.secretKey must be a ${algorithm} secret key of ${LENGTHS[algorithm][1]} bytes`;
    const { publicKey, secretKey } = id65;
    expect(messageOf(() => requireIdentity({ algorithm: 'ML-DSA-65', publicKey: Array.from(publicKey), secretKey }))).toBe(publicRefusal('ML-DSA-65'));
    expect(messageOf(() => requireIdentity({ algorithm: 'ML-DSA-65', publicKey: publicKey.subarray(1), secretKey }))).toBe(publicRefusal('ML-DSA-65'));
    expect(messageOf(() => requireIdentity({ algorithm: 'ML-DSA-44', publicKey, secretKey }))).toBe(publicRefusal('ML-DSA-44'));
    expect(messageOf(() => requireIdentity({ algorithm: 'ML-DSA-65', publicKey, secretKey: Array.from(secretKey) }))).toBe(secretRefusal('ML-DSA-65'));
    expect(messageOf(() => requireIdentity({ algorithm: 'ML-DSA-65', publicKey, secretKey: secretKey.subarray(1) }))).toBe(secretRefusal('ML-DSA-65'));
    expect(messageOf(() => requireIdentity({ algorithm: 'ML-DSA-65', publicKey }))).toBe(secretRefusal('ML-DSA-65'));
    expect(messageOf(() => requireIdentity({ algorithm: 'ML-DSA-44', publicKey: id44.publicKey, secretKey }))).toBe(secretRefusal('ML-DSA-44'));
  });

  it('shows an identity as its algorithm and key id, in toString, JSON and inspect', () => {
    const shown = `[MeshIdentity ML-DSA-65 ${specKeyId('ML-DSA-65', id65.publicKey)}]`;
    for (const identity of [id65, requireIdentity(id65)]) {
      expect(String(identity)).toBe(shown);
      expect(JSON.stringify(identity)).toBe(JSON.stringify(shown));
      expect(inspect(identity)).toBe(shown);
    }
    expect(String(id44)).toBe(`[MeshIdentity ML-DSA-44 ${specKeyId('ML-DSA-44', id44.publicKey)}]`);
  });
});
