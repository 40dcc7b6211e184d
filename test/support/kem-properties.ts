import fc from 'fast-check';
import { expect } from 'vitest';
import type { Kem, KemKeyPair } from '../../lib/index.js';
import { toHex } from './environment.js';

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
