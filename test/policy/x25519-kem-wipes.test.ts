import { describe, expect, it, vi } from 'vitest';

/**
 * The X25519 KEM's key schedule (RFC 9180 DHKEM) runs through node:crypto's hkdfSync, whose
 * output is copied into the caller's secret key or shared secret: the copy source must be wiped.
 * A stand-in hkdfSync records every buffer it hands out, as test/native-batch-parts.test.ts does
 * for the addon's.
 */
const handedOut = vi.hoisted(() => [] as ArrayBuffer[]);

vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    hkdfSync: (...args: Parameters<typeof crypto.hkdfSync>) => {
      const output = crypto.hkdfSync(...args);
      handedOut.push(output);
      return output;
    },
  };
});

const { Kem, X25519_KEM_NAME } = await import('../../lib/index.js');

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
