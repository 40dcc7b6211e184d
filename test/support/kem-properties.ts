import fc from 'fast-check';
import { expect } from 'vitest';
import type { Kem, KemKeyPair } from '../../lib/index.js';
import { toHex } from './environment.js';
import { expectCode } from './errors.js';

/**
 * Any flipped ciphertext byte gives an unrelated secret, never an error, and the same one again
 * for the same forged ciphertext (implicit rejection is deterministic in the ciphertext).
 */
export function expectTamperedCiphertextsRejected(kem: Kem, { publicKey, secretKey }: KemKeyPair, numRuns: number): void {
  const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
  fc.assert(
    fc.property(fc.nat(ciphertext.length - 1), fc.integer({ min: 1, max: 255 }), (index, flip) => {
      const forged = ciphertext.slice();
      forged[index]! ^= flip;
      const secret = kem.decapsulate(forged, secretKey);
      expect(toHex(secret)).not.toBe(toHex(sharedSecret));
      expect(toHex(kem.decapsulate(forged, secretKey))).toBe(toHex(secret));
    }),
    { numRuns },
  );
}

/**
 * The `…Into` calls write into the caller's buffers (views at any offset of a larger buffer
 * included) exactly what the allocating calls return, and refuse outputs of the wrong length or
 * type, or overlapping each other or an input, without writing anything.
 */
export function expectIntoCallsAgree(kem: Kem): void {
  const arena = new Uint8Array(8 + kem.publicKeyLength + kem.secretKeyLength + kem.ciphertextLength + 2 * kem.sharedSecretLength);
  let offset = 8;
  const take = (length: number) => arena.subarray(offset, (offset += length));
  const pair = { publicKey: take(kem.publicKeyLength), secretKey: take(kem.secretKeyLength) };
  const encapsulation = { ciphertext: take(kem.ciphertextLength), sharedSecret: take(kem.sharedSecretLength) };
  const sharedSecret = take(kem.sharedSecretLength);
  const seen = new Set<string>();
  for (let round = 0; round < 2; round++) {
    kem.generateKeyPairInto(pair);
    kem.encapsulateInto(pair.publicKey, encapsulation);
    kem.decapsulateInto(encapsulation.ciphertext, pair.secretKey, sharedSecret);
    expect(toHex(sharedSecret)).toBe(toHex(encapsulation.sharedSecret));
    expect(toHex(kem.decapsulate(encapsulation.ciphertext, pair.secretKey))).toBe(toHex(sharedSecret));
    const other = kem.encapsulate(pair.publicKey);
    expect(toHex(kem.decapsulate(other.ciphertext, pair.secretKey))).toBe(toHex(other.sharedSecret));
    seen.add(toHex(pair.publicKey));
  }
  // Reused buffers get fresh keys.
  expect(seen.size).toBe(2);
  expect(toHex(arena.subarray(0, 8))).toBe('0000000000000000');

  const before = toHex(arena);
  const refusals: (() => void)[] = [
    () => kem.generateKeyPairInto({ publicKey: pair.publicKey, secretKey: new Uint8Array(kem.secretKeyLength - 1) }),
    () => kem.generateKeyPairInto(null as never),
    () => kem.generateKeyPairInto({ publicKey: pair.publicKey } as never),
    () => kem.generateKeyPairInto({ publicKey: pair.publicKey, secretKey: Array.from(pair.secretKey) as never }),
    // The secret key written over the public key's tail.
    () => kem.generateKeyPairInto({ publicKey: pair.publicKey, secretKey: arena.subarray(9, 9 + kem.secretKeyLength) }),
    () => kem.encapsulateInto(pair.publicKey, { ciphertext: new Uint8Array(kem.ciphertextLength + 1), sharedSecret }),
    // A ciphertext written over the public key it is computed from.
    () => kem.encapsulateInto(pair.publicKey, { ciphertext: arena.subarray(8, 8 + kem.ciphertextLength), sharedSecret }),
    () => kem.encapsulateInto(pair.publicKey, { ciphertext: encapsulation.ciphertext, sharedSecret: pair.publicKey.subarray(0, kem.sharedSecretLength) }),
    () => kem.encapsulateInto(pair.publicKey, { ciphertext: encapsulation.ciphertext, sharedSecret: encapsulation.ciphertext.subarray(1, 1 + kem.sharedSecretLength) }),
    () => kem.decapsulateInto(encapsulation.ciphertext, pair.secretKey, encapsulation.ciphertext.subarray(0, kem.sharedSecretLength)),
    () => kem.decapsulateInto(encapsulation.ciphertext, pair.secretKey, pair.secretKey.subarray(kem.secretKeyLength - kem.sharedSecretLength)),
    () => kem.decapsulateInto(encapsulation.ciphertext, pair.secretKey, new Uint8Array(kem.sharedSecretLength + 1)),
  ];
  for (const refused of refusals) expectCode(refused, 'ERR_PQC_INVALID_INPUT');
  expect(toHex(arena)).toBe(before);
}
