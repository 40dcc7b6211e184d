import { describe, expect, it, vi } from 'vitest';

/**
 * The X25519 KEM's key schedule (RFC 9180 DHKEM) runs through node:crypto's hkdfSync, whose
 * output is copied into the caller's secret key or shared secret: the copy source must be wiped.
 * A stand-in hkdfSync records every buffer it hands out, as test/native-batch-parts.test.ts does
 * for the addon's.
 */
const handedOut = vi.hoisted(() => [] as ArrayBuffer[]);
/** What else the key schedule holds of a secret: HKDF's input keying material, the DH outputs, the fresh ikm. */
const held = vi.hoisted(() => ({ hkdfInputs: [] as Uint8Array[], dhOutputs: [] as Uint8Array[], randomOutputs: [] as Uint8Array[] }));

vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    hkdfSync: (...args: Parameters<typeof crypto.hkdfSync>) => {
      held.hkdfInputs.push(args[1] as Uint8Array);
      const output = crypto.hkdfSync(...args);
      handedOut.push(output);
      return output;
    },
    diffieHellman: (...args: Parameters<typeof crypto.diffieHellman>) => {
      const output = crypto.diffieHellman(...args);
      held.dhOutputs.push(output);
      return output;
    },
    randomBytes: (size: number) => {
      const output = crypto.randomBytes(size);
      held.randomOutputs.push(output);
      return output;
    },
  };
});

const { Kem, X25519_KEM_NAME, SecretBytes } = await import('../../lib/index.js');
const { x25519 } = await import('../../lib/policy/x25519-kem.js');

describe('X25519 KEM: every HKDF output is wiped once copied', () => {
  const kem = new Kem(X25519_KEM_NAME);
  const wiped = () => handedOut.every((output) => new Uint8Array(output).every((byte) => byte === 0));

  it('key generation, encapsulation, decapsulation, sync and batched', async () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { ciphertext } = kem.encapsulate(publicKey);
    kem.decapsulate(ciphertext, secretKey);
    const pairs = await kem.generateKeyPairMany(2);
    const encapsulations = await kem.encapsulateMany(pairs.map((pair) => pair.publicKey));
    await kem.decapsulateMany(
      encapsulations.map((e) => e.ciphertext),
      pairs.map((pair) => pair.secretKey),
    );
    // One per key pair (DeriveKeyPair), two per encapsulation (the ephemeral key and the secret), one per decapsulation.
    expect(handedOut.length).toBe(3 * 1 + 3 * 2 + 3 * 1);
    expect(wiped()).toBe(true);
  });
});

describe('X25519 KEM: every other copy of a secret is wiped once used', () => {
  const kem = new Kem(X25519_KEM_NAME);
  const zero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);
  const clear = () => Object.values(held).forEach((list) => (list.length = 0));

  it('the labeled HKDF inputs (seed or DH output), the DH outputs and the fresh ikm, sync and batched', async () => {
    clear();
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { ciphertext } = kem.encapsulate(publicKey);
    kem.decapsulate(ciphertext, secretKey);
    kem.generateKeyPair({ seed: new Uint8Array(32).fill(1) });
    kem.encapsulate(publicKey, { seed: new Uint8Array(32).fill(2) });
    await kem.encapsulateMany([publicKey, publicKey]);
    // HKDF: one per key pair (2), two per encapsulation (4), one per decapsulation (1). DH: one per
    // encapsulation and decapsulation. Fresh ikm: the unseeded key pair and the 3 unseeded encapsulations.
    expect([held.hkdfInputs.length, held.dhOutputs.length, held.randomOutputs.length]).toEqual([2 + 4 * 2 + 1, 4 + 1, 1 + 3]);
    expect([held.hkdfInputs.every(zero), held.dhOutputs.every(zero), held.randomOutputs.every(zero)]).toEqual([true, true, true]);
  });

  it('the ephemeral secret key of an encapsulation, with fresh or given randomness', () => {
    const { publicKey } = kem.generateKeyPair();
    const alloc = vi.spyOn(SecretBytes, 'alloc');
    try {
      const results = [kem.encapsulate(publicKey), kem.encapsulate(publicKey, { seed: new Uint8Array(32).fill(3) })];
      const returned = new Set<unknown>(results.map((r) => r.sharedSecret));
      const ephemeral = alloc.mock.results.map((r) => r.value as Uint8Array).filter((bytes) => !returned.has(bytes));
      expect(ephemeral).toHaveLength(2);
      expect(ephemeral.every(zero)).toBe(true);
      expect(results.every((r) => !zero(r.sharedSecret))).toBe(true);
    } finally {
      alloc.mockRestore();
    }
  });
});

describe('X25519 KEM: every X25519 key object it makes is wiped once used', () => {
  it('key generation (fresh and seeded), encapsulation and decapsulation, also when the peer key is refused', async () => {
    const { X25519Key } = await import('../../lib/x25519/index.js');
    const kem = new Kem(X25519_KEM_NAME);
    const made: { wiped: boolean }[] = [];
    const fromScalar = X25519Key.fromScalar.bind(X25519Key);
    const spy = vi.spyOn(X25519Key, 'fromScalar').mockImplementation((scalar) => {
      const key = fromScalar(scalar);
      const record = { wiped: false };
      made.push(record);
      return { publicKey: () => key.publicKey(), sharedSecret: (peer) => key.sharedSecret(peer), wipe: () => ((record.wiped = true), key.wipe()) };
    });
    try {
      const { publicKey, secretKey } = kem.generateKeyPair();
      kem.generateKeyPair({ seed: new Uint8Array(32).fill(4) });
      const { ciphertext } = kem.encapsulate(publicKey);
      kem.decapsulate(ciphertext, secretKey);
      // A small-order peer key (u = 0) is refused after the ephemeral key was made.
      expect(() => kem.encapsulate(new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
      // The raw function too, when it answers and when it refuses.
      x25519(secretKey, publicKey);
      expect(() => x25519(secretKey, new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
      expect(made).toHaveLength(7);
      expect(made.map((record) => record.wiped)).toEqual([true, true, true, true, true, true, true]);
    } finally {
      spy.mockRestore();
    }
  });
});
