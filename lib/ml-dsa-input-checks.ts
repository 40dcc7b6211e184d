/**
 * FIPS 204 verification rejects a signature whose response z has a coefficient with
 * |z| >= γ1 − β (Algorithm 8, line 13). liboqs before 0.16 (the pq-crystals AVX2 code) accepts
 * some such signatures — Wycheproof's InfinityNormViolation vectors show it — so for those
 * releases this package applies the bound itself before asking liboqs.
 */

interface Parameters {
  /** Bytes of the commitment hash c̃ that precede z. */
  challengeBytes: number;
  /** Polynomials in z. */
  l: number;
  /** log2 γ1. */
  gamma1Bits: number;
  beta: number;
}

const PARAMETERS: Record<string, Parameters> = {
  'ML-DSA-44': { challengeBytes: 32, l: 4, gamma1Bits: 17, beta: 78 },
  'ML-DSA-65': { challengeBytes: 48, l: 5, gamma1Bits: 19, beta: 196 },
  'ML-DSA-87': { challengeBytes: 64, l: 7, gamma1Bits: 19, beta: 120 },
};

export function mlDsaParameters(name: string): Parameters | undefined {
  return PARAMETERS[name];
}

/** True when every coefficient of the packed z (BitPack with b = γ1, a = γ1 − 1) is in bound. */
export function hasBoundedResponse(signature: Uint8Array, p: Parameters): boolean {
  const gamma1 = 1 << p.gamma1Bits;
  const bound = gamma1 - p.beta;
  const bits = p.gamma1Bits + 1;
  const mask = (1 << bits) - 1;
  const count = p.l * 256;
  let offset = p.challengeBytes;
  // At most 20 bits are consumed per coefficient, so 32-bit integer arithmetic never overflows.
  let buffer = 0;
  let buffered = 0;
  for (let i = 0; i < count; i++) {
    // `<=` here would read one byte more when exactly `bits` are buffered: it lands above them
    // (bits 20 to 27 at most) and is shifted out unused; after the last coefficient it is a hint byte.
    // Stryker disable next-line EqualityOperator: equivalent (see above)
    while (buffered < bits) {
      buffer |= signature[offset++]! << buffered;
      buffered += 8;
    }
    const z = gamma1 - (buffer & mask);
    buffer >>>= bits;
    buffered -= bits;
    if (z >= bound || z <= -bound) return false;
  }
  return true;
}
