import { it } from 'vitest';
import { capabilities, environment, liboqsVersion } from './environment.js';

export type Capability =
  | 'kemKeypairDerand'
  | 'kemEncapsDerand'
  | 'sigContext'
  | 'mlDsaBoundaryVerify';

const version = liboqsVersion();
const available: Record<Capability, boolean> = {
  ...capabilities,
  // liboqs < 0.16 verifies ML-DSA with the pq-crystals AVX2 code, which rejects a valid
  // signature whose hint makes use_hint(1, 0) occur; mldsa-native (0.16) and the WebAssembly
  // build (portable code) accept it.
  mlDsaBoundaryVerify: version === null || version[0] > 0 || version[1] >= 16,
};

const WHY: Record<Capability, string> = {
  kemKeypairDerand: 'ML-KEM key generation from a seed (OQS_KEM_keypair_derand, liboqs >= 0.13)',
  kemEncapsDerand: 'ML-KEM encapsulation from a seed (OQS_KEM_encaps_derand, liboqs >= 0.15)',
  sigContext: 'signature context strings (OQS_SIG_*_with_ctx_str, native liboqs)',
  mlDsaBoundaryVerify: 'FIPS 204-exact ML-DSA verification at the use_hint boundary (liboqs >= 0.16; older liboqs wrongly rejects)',
};

export function missingCapability(needs: readonly Capability[]): string | undefined {
  const missing = needs.filter((capability) => !available[capability]);
  if (missing.length === 0) return undefined;
  return `skipped: the ${environment.backend} backend${environment.liboqs ? ` (liboqs ${environment.liboqs.version})` : ''} lacks capability ${missing.map((c) => `${c} — ${WHY[c]}`).join('; ')}`;
}

const announced = new Set<string>();

/**
 * A test that runs only where the loaded backend has `needs`, and says so in its name when
 * skipped, and once per file on stderr, where the default reporter shows it.
 */
export function itWith(needs: readonly Capability[], name: string, body: () => void | Promise<void>) {
  const missing = missingCapability(needs);
  if (missing !== undefined && !announced.has(missing)) {
    announced.add(missing);
    console.warn(`[x0tta6bl4-pqc] tests ${missing}`);
  }
  it.skipIf(missing !== undefined)(missing ? `${name} (${missing})` : name, body);
}
