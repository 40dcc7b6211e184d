import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PqcError, ready, SecretBytes, Sig } from '../lib/index.js';
import { expectCode } from './support/errors.js';
import { environment, toHex } from './support/environment.js';

await ready();

// FIPS 204, table 2.
const ML_DSA = [
  { name: 'ML-DSA-44', publicKey: 1312, secretKey: 2560, signature: 2420 },
  { name: 'ML-DSA-65', publicKey: 1952, secretKey: 4032, signature: 3309 },
  { name: 'ML-DSA-87', publicKey: 2592, secretKey: 4896, signature: 4627 },
];

const text = (s: string) => new TextEncoder().encode(s);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PqcError);
    return (error as PqcError).code;
  }
  return undefined;
}

describe.each(ML_DSA)(`$name on the ${environment.backend} backend`, (params) => {
  const sig = new Sig(params.name);
  const { publicKey, secretKey } = sig.generateKeyPair();
  const message = text('control-plane gossip #1');

  it('reports the FIPS 204 sizes', () => {
    expect([sig.publicKeyLength, sig.secretKeyLength, sig.signatureLength]).toEqual([
      params.publicKey,
      params.secretKey,
      params.signature,
    ]);
    expect(secretKey).toBeInstanceOf(SecretBytes);
  });

  it('signs and verifies; any change to message, signature or key fails', () => {
    const signature = sig.sign(message, secretKey);
    expect(signature.length).toBe(params.signature);
    expect(sig.verify(message, signature, publicKey)).toBe(true);
    expect(sig.verify(text('control-plane gossip #2'), signature, publicKey)).toBe(false);
    expect(sig.verify(message, signature, sig.generateKeyPair().publicKey)).toBe(false);
    fc.assert(
      fc.property(fc.nat(signature.length - 1), fc.integer({ min: 1, max: 255 }), (index, flip) => {
        const forged = signature.slice();
        forged[index]! ^= flip;
        expect(sig.verify(message, forged, publicKey)).toBe(false);
      }),
      { numRuns: 20 },
    );
  });

  it('verifies signatures over arbitrary messages, including the empty one', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(sig.verify(bytes, sig.sign(bytes, secretKey), publicKey)).toBe(true);
      }),
      { numRuns: 10 },
    );
  });

  it('a signature of the wrong length is false, not an error', () => {
    const signature = sig.sign(message, secretKey);
    expect(sig.verify(message, signature.subarray(1), publicKey)).toBe(false);
    expect(sig.verify(message, new Uint8Array(0), publicKey)).toBe(false);
    const longer = new Uint8Array(signature.length + 1);
    longer.set(signature);
    expect(sig.verify(message, longer, publicKey)).toBe(false);
  });

  it('async and batch forms agree with the sync ones', async () => {
    const pair = await sig.generateKeyPairAsync();
    const signature = await sig.signAsync(message, pair.secretKey);
    expect(await sig.verifyAsync(message, signature, pair.publicKey)).toBe(true);
    expect(sig.verify(message, signature, pair.publicKey)).toBe(true);

    const messages = Array.from({ length: 5 }, (_, i) => text(`message ${i}`));
    const signatures = await sig.signMany(messages, pair.secretKey);
    signatures[3] = signatures[3]!.slice();
    signatures[3][0]! ^= 1;
    expect(await sig.verifyMany(messages, signatures, pair.publicKey)).toEqual([true, true, true, false, true]);
    const pairs = await sig.generateKeyPairMany(2);
    expect(toHex(pairs[0]!.publicKey)).not.toBe(toHex(pairs[1]!.publicKey));
  });

  it('rejects bad keys and inputs with ERR_PQC_INVALID_INPUT', async () => {
    const signature = sig.sign(message, secretKey);
    expect(codeOf(() => sig.sign('text' as unknown as Uint8Array, secretKey))).toBe('ERR_PQC_INVALID_INPUT');
    expect(codeOf(() => sig.sign(message, secretKey.subarray(1)))).toBe('ERR_PQC_INVALID_INPUT');
    expect(codeOf(() => sig.sign(message, publicKey))).toBe('ERR_PQC_INVALID_INPUT');
    expect(codeOf(() => sig.verify(message, signature, publicKey.subarray(1)))).toBe('ERR_PQC_INVALID_INPUT');
    expect(codeOf(() => sig.verify(message, [1, 2] as unknown as Uint8Array, publicKey))).toBe('ERR_PQC_INVALID_INPUT');
    expect(codeOf(() => sig.sign(message, secretKey, { context: new Uint8Array(256) }))).toBe('ERR_PQC_INVALID_INPUT');
    await expect(sig.verifyMany([message], [signature, signature], publicKey)).rejects.toHaveProperty(
      'code',
      'ERR_PQC_INVALID_INPUT',
    );
    await expect(sig.signMany([], secretKey)).rejects.toHaveProperty('code', 'ERR_PQC_INVALID_INPUT');
  });

  it.skipIf(!environment.capabilities.sigContext)(
    'binds the signature to its context string (needs the sigContext capability: native liboqs >= 0.12)',
    () => {
      const context = text('x0tta6bl4/gossip');
      const signature = sig.sign(message, secretKey, { context });
      expect(sig.verify(message, signature, publicKey, { context })).toBe(true);
      expect(sig.verify(message, signature, publicKey)).toBe(false);
      expect(sig.verify(message, signature, publicKey, { context: text('x0tta6bl4/other') })).toBe(false);
      expect(sig.verify(message, sig.sign(message, secretKey), publicKey, { context })).toBe(false);
    },
  );

  it.skipIf(environment.capabilities.sigContext)(
    'refuses a context string it cannot honour (the backend lacks the sigContext capability)',
    () => {
      expect(codeOf(() => sig.sign(message, secretKey, { context: text('ctx') }))).toBe('ERR_PQC_UNSUPPORTED_CAPABILITY');
      // An empty context is the default and always works.
      expect(sig.verify(message, sig.sign(message, secretKey, { context: new Uint8Array(0) }), publicKey)).toBe(true);
    },
  );
});

describe('Sig.contextSupported', () => {
  it('says per scheme whether a context string is taken: ML-DSA where the backend passes contexts, Falcon never', async () => {
    expect(new Sig('ML-DSA-65').contextSupported).toBe(environment.capabilities.sigContext);
    if (environment.sigs.includes('Falcon-512')) {
      const falcon = new Sig('Falcon-512');
      await falcon.ready();
      expect(falcon.contextSupported).toBe(false);
      const { secretKey } = falcon.generateKeyPair();
      expectCode(() => falcon.sign(new Uint8Array(3), secretKey, { context: new Uint8Array(1) }), 'ERR_PQC_UNSUPPORTED_CAPABILITY');
    }
  });
});
