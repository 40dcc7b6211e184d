import { createHash } from 'node:crypto';

/**
 * FIPS 203's input checks (section 7.2 for encapsulation keys, 7.3 for decapsulation keys).
 * liboqs performs them from 0.14 (mlkem-native) and in its WebAssembly build; for an older
 * system liboqs this package performs them so that every backend rejects the same keys.
 */

const RANK: Record<string, number> = { 'ML-KEM-512': 2, 'ML-KEM-768': 3, 'ML-KEM-1024': 4 };
const Q = 3329;

/** k for an ML-KEM parameter set, 0 for anything else. */
export function mlKemRank(name: string): number {
  return RANK[name] ?? 0;
}

/** Every 12-bit coefficient of the encoded vector t̂ must already be reduced mod q. */
export function isReducedEncapsulationKey(ek: Uint8Array, k: number): boolean {
  const end = 384 * k;
  for (let i = 0; i < end; i += 3) {
    const b0 = ek[i]!;
    const b1 = ek[i + 1]!;
    const b2 = ek[i + 2]!;
    if ((b0 | ((b1 & 0x0f) << 8)) >= Q || ((b1 >> 4) | (b2 << 4)) >= Q) return false;
  }
  return true;
}

/** dk = dk_PKE ‖ ek ‖ H(ek) ‖ z: the embedded hash must match the embedded key. */
export function hasConsistentDecapsulationKey(dk: Uint8Array, k: number): boolean {
  const ek = dk.subarray(384 * k, 768 * k + 32);
  const stored = dk.subarray(768 * k + 32, 768 * k + 64);
  return createHash('sha3-256').update(ek).digest().equals(stored);
}
