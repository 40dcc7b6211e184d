import { afterEach, describe, expect, it } from 'vitest';
import { Op } from '../../lib/engine.js';
import { Kem } from '../../lib/kem.js';
import { PQCFallbackHandler } from '../../lib/policy/fallback-handler.js';
import { processPolicy } from '../../lib/policy/process-policy.js';
import { x25519, X25519_KEM_NAME, X25519KemEngine } from '../../lib/policy/x25519-kem.js';
import { hex, readVectors, toHex } from '../support/environment.js';
import { expectIntoCallsAgree } from '../support/kem-properties.js';
import { FakeClock } from './fake-clock.js';
import { captureLogger } from './support.js';

// RFC 9180 appendix A.1 (DHKEM(X25519, HKDF-SHA256), base mode) and A.2's recipient key.
const A1 = {
  ikmE: '7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234',
  pkEm: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  ikmR: '6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037',
  pkRm: '3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d',
  skRm: '4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8',
  sharedSecret: 'fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc',
};
const A2_RECIPIENT = {
  ikmR: '1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df',
  skRm: '8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb',
  pkRm: '4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a',
};

interface XdhVectors {
  testGroups: { tests: { tcId: number; public: string; private: string; shared: string; result: string; flags: string[] }[] }[];
}

const kem = () => new Kem(X25519_KEM_NAME);

afterEach(() => {
  delete process.env.X0TTA6BL4_PRODUCTION;
  processPolicy.fallback = null;
});

describe('X25519 (classical-only KEM, RFC 9180 DHKEM)', () => {
  it('is served by node:crypto with raw 32-byte keys, ciphertexts and secrets', () => {
    const k = kem();
    expect(k.backend).toBe('node:crypto');
    expect([k.publicKeyLength, k.secretKeyLength, k.ciphertextLength, k.sharedSecretLength]).toEqual([32, 32, 32, 32]);
  });

  it('derives the RFC 9180 A.1 and A.2 key pairs from their ikm', () => {
    for (const { ikmR, skRm, pkRm } of [A1, A2_RECIPIENT]) {
      const { publicKey, secretKey } = kem().generateKeyPair({ seed: hex(ikmR) });
      expect(toHex(secretKey)).toBe(skRm);
      expect(toHex(publicKey)).toBe(pkRm);
    }
  });

  it('encapsulates and decapsulates to the RFC 9180 A.1 shared secret', () => {
    const k = kem();
    const { ciphertext, sharedSecret } = k.encapsulate(hex(A1.pkRm), { seed: hex(A1.ikmE) });
    expect(toHex(ciphertext)).toBe(A1.pkEm);
    expect(toHex(sharedSecret)).toBe(A1.sharedSecret);
    expect(toHex(k.decapsulate(hex(A1.pkEm), hex(A1.skRm)))).toBe(A1.sharedSecret);
  });

  it('round-trips with fresh randomness, sync and batched', async () => {
    const k = kem();
    const a = k.generateKeyPair();
    const b = k.generateKeyPair();
    expect(toHex(a.publicKey)).not.toBe(toHex(b.publicKey));
    const { ciphertext, sharedSecret } = k.encapsulate(a.publicKey);
    expect(toHex(k.decapsulate(ciphertext, a.secretKey))).toBe(toHex(sharedSecret));
    expect(toHex(k.decapsulate(ciphertext, b.secretKey))).not.toBe(toHex(sharedSecret));

    const pairs = await k.generateKeyPairMany(3);
    const encs = await k.encapsulateMany(pairs.map((p) => p.publicKey));
    const secrets = await k.decapsulateMany(
      encs.map((e) => e.ciphertext),
      pairs.map((p) => p.secretKey),
    );
    expect(secrets.map(toHex)).toEqual(encs.map((e) => toHex(e.sharedSecret)));
  });

  it('computes X25519 as Wycheproof expects, and refuses every all-zero result', () => {
    const { testGroups } = readVectors<XdhVectors>('wycheproof/x25519_test.json');
    let zero = 0;
    for (const test of testGroups.flatMap((group) => group.tests)) {
      if (/^0+$/.test(test.shared)) {
        zero++;
        expect(() => x25519(hex(test.private), hex(test.public)), `tcId ${test.tcId}`).toThrow(
          expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }),
        );
      } else {
        expect(toHex(x25519(hex(test.private), hex(test.public))), `tcId ${test.tcId}`).toBe(test.shared);
      }
    }
    expect(zero).toBeGreaterThan(0);
  });

  it("writes into the caller's buffers with the …Into calls; a refused small-order key leaves them as they were", () => {
    const k = kem();
    expectIntoCallsAgree(k);
    const out = { ciphertext: new Uint8Array(32).fill(7), sharedSecret: new Uint8Array(32).fill(9) };
    expect(() => k.encapsulateInto(new Uint8Array(32), out)).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
    expect([toHex(out.ciphertext), toHex(out.sharedSecret)]).toEqual(['07'.repeat(32), '09'.repeat(32)]);
    const secret = new Uint8Array(32).fill(5);
    expect(() => k.decapsulateInto(new Uint8Array(32), k.generateKeyPair().secretKey, secret)).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }),
    );
    expect(toHex(secret)).toBe('05'.repeat(32));
  });

  it('rejects a small-order public key in encapsulation and a small-order ciphertext in decapsulation', () => {
    const k = kem();
    const lowOrder = new Uint8Array(32); // u = 0
    const { secretKey } = k.generateKeyPair();
    expect(() => k.encapsulate(lowOrder)).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
    expect(() => k.decapsulate(lowOrder, secretKey)).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
  });

  it('rejects keys, ciphertexts and seeds of the wrong length', () => {
    const k = kem();
    const { publicKey, secretKey } = k.generateKeyPair();
    const { ciphertext } = k.encapsulate(publicKey);
    const invalid = expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' });
    expect(() => k.encapsulate(publicKey.subarray(1))).toThrow(invalid);
    expect(() => k.decapsulate(ciphertext, secretKey.subarray(1))).toThrow(invalid);
    expect(() => k.decapsulate(new Uint8Array(33), secretKey)).toThrow(invalid);
    expect(() => k.generateKeyPair({ seed: new Uint8Array(31) })).toThrow(invalid);
    expect(() => k.encapsulate(publicKey, { seed: new Uint8Array(64) })).toThrow(invalid);
  });

  it('is not a liboqs algorithm: asking a liboqs backend for it fails', () => {
    expect(() => new Kem(X25519_KEM_NAME, { backend: 'wasm' })).toThrow(expect.objectContaining({ code: 'ERR_PQC_UNSUPPORTED_ALGORITHM' }));
  });
});

describe('X25519 in production mode', () => {
  const refused = expect.objectContaining({ code: 'ERR_PQC_CLASSICAL_REQUIRES_FALLBACK' });

  function handler() {
    return new PQCFallbackHandler({ clock: new FakeClock(), logger: captureLogger().logger, shutdown: () => {}, ttlSeconds: 60 });
  }

  it('refuses every operation outside fallback mode', async () => {
    const k = kem();
    const { publicKey, secretKey } = k.generateKeyPair();
    const { ciphertext } = k.encapsulate(publicKey);
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    expect(() => k.generateKeyPair()).toThrow(refused);
    expect(() => k.encapsulate(publicKey)).toThrow(refused);
    expect(() => k.decapsulate(ciphertext, secretKey)).toThrow(refused);
    await expect(k.encapsulateAsync(publicKey)).rejects.toEqual(refused);
  });

  it("works while start-up's handler is in fallback mode, and stops when it is disabled", () => {
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    const fallback = (processPolicy.fallback = handler());
    const k = kem();
    expect(() => k.generateKeyPair()).toThrow(refused);
    fallback.enable('forced');
    const { publicKey, secretKey } = k.generateKeyPair();
    const { ciphertext, sharedSecret } = k.encapsulate(publicKey);
    expect(toHex(k.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));
    fallback.disable();
    expect(() => k.encapsulate(publicKey)).toThrow(refused);
  });

  it('consults the handler given in its options before the process one', () => {
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    processPolicy.fallback = handler();
    processPolicy.fallback.enable('forced');
    const own = handler();
    const k = new Kem(X25519_KEM_NAME, { fallback: own });
    expect(() => k.generateKeyPair()).toThrow(refused);
    own.enable('forced');
    expect(k.generateKeyPair().publicKey).toHaveLength(32);
  });

  it('stops when the fallback TTL has expired', () => {
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    const clock = new FakeClock();
    const fallback = new PQCFallbackHandler({ clock, ttlSeconds: 60, shutdown: () => {}, logger: captureLogger().logger });
    const k = new Kem(X25519_KEM_NAME, { fallback });
    fallback.enable('forced');
    expect(() => k.generateKeyPair()).not.toThrow();
    clock.advance(60_000);
    expect(() => k.generateKeyPair()).toThrow(refused);
  });
});

describe('X25519KemEngine on its own, and in words', () => {
  it('is ready at once, and refuses an operation that is not a KEM operation', () => {
    const engine = new X25519KemEngine();
    expect(engine.isReady()).toBe(true);
    expect(() => engine.run(Op.SigVerify)).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_UNSUPPORTED_CAPABILITY', message: `X25519: operation ${Op.SigVerify} is not a KEM operation` }),
    );
  });

  it('takes only a PQCFallbackHandler as its handler', () => {
    for (const fallback of [{}, { isEnabled: () => true }]) {
      expect(() => new Kem(X25519_KEM_NAME, { fallback: fallback as PQCFallbackHandler })).toThrow(
        expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT', message: 'fallback must be a PQCFallbackHandler, got object' }),
      );
    }
  });

  it('a small-order peer key: the refusal says why', () => {
    expect(() => kem().encapsulate(new Uint8Array(32))).toThrow(
      expect.objectContaining({
        code: 'ERR_PQC_INVALID_INPUT',
        message: 'X25519: the peer public key is a small-order point (the shared secret would be all zero)',
      }),
    );
  });

  it('in production outside fallback: the refusal says when it works and what to use instead', () => {
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    expect(() => kem().generateKeyPair()).toThrow(
      expect.objectContaining({
        code: 'ERR_PQC_CLASSICAL_REQUIRES_FALLBACK',
        message:
          'X25519 alone is not quantum-safe: in production mode (X0TTA6BL4_PRODUCTION=true) it works only while PQC fallback mode is enabled ' +
          '(X0TTA6BL4_DISABLE_PQC=true at start-up, or a fallback handler with onPqcFailure "fallback" after a PQC failure). Use ML-KEM or a hybrid KEM.',
      }),
    );
  });
});
