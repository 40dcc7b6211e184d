import { describe, expect, it } from 'vitest';
import { Kem, PqcError, Sig, type BackendChoice } from '../lib/index.js';
import { wasmCatalog } from '../lib/wasm/wasm-backend.js';
import { native, NATIVE_SKIP } from './support/environment.js';
import { expectCode } from './support/errors.js';

/**
 * One naming rule on every backend: liboqs's identifiers, exact and case-sensitive. liboqs's own
 * lookup ignores case, and the native backend used to pass names through to it, so that
 * `ml-kem-768` ran there (skipping the FIPS 203 key checks this package keys by name, on liboqs
 * 0.12) while the WebAssembly backend refused it.
 */
const BACKENDS: { backend: BackendChoice; skip: string }[] = [
  { backend: 'wasm', skip: '' },
  { backend: 'native', skip: native ? '' : NATIVE_SKIP },
];

/** A name a user might type, and the name the error should suggest. */
const KEM_MISSPELLINGS: [string, string][] = [
  ['ml-kem-768', 'ML-KEM-768'],
  ['ML-KEM-768 ', 'ML-KEM-768'],
  ['MLKEM768', 'ML-KEM-768'],
  ['ml_kem_1024', 'ML-KEM-1024'],
  ['ML-KEM-521', 'ML-KEM-512'],
  ['x-wing', 'X-Wing'],
  ['x25519mlkem768', 'X25519MLKEM768'],
];
const SIG_MISSPELLINGS: [string, string][] = [
  ['ml-dsa-65', 'ML-DSA-65'],
  ['ML-DSA65', 'ML-DSA-65'],
  ['ML-DAS-44', 'ML-DSA-44'],
  ['falcon-512', 'Falcon-512'],
];

function outcome(make: () => { backend: string }): string {
  try {
    return make().backend;
  } catch (error) {
    return error instanceof PqcError ? error.code : `not a PqcError: ${String(error)}`;
  }
}

for (const { backend, skip } of BACKENDS) {
  describe.skipIf(skip)(`algorithm names on the ${backend} backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
    it('the exact names serve', () => {
      for (const name of ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024']) expect(new Kem(name, { backend }).backend).toBe(backend);
      for (const name of ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87', 'Falcon-512']) expect(new Sig(name, { backend }).backend).toBe(backend);
    });

    it.each(KEM_MISSPELLINGS)('Kem %j is refused with "did you mean %s?"', (name, meant) => {
      const error = expectCode(() => new Kem(name, { backend }), 'ERR_PQC_UNSUPPORTED_ALGORITHM');
      expect(error.message).toContain(`KEM ${JSON.stringify(name)} is not enabled`);
      expect(error.message).toContain(`did you mean ${meant}?`);
    });

    it.each(SIG_MISSPELLINGS)('Sig %j is refused with "did you mean %s?"', (name, meant) => {
      const error = expectCode(() => new Sig(name, { backend }), 'ERR_PQC_UNSUPPORTED_ALGORITHM');
      expect(error.message).toContain(`did you mean ${meant}?`);
    });

    it('a name nothing is close to gets no suggestion; a name of the other family says which class takes it', () => {
      expect(expectCode(() => new Kem('ML-KEM-4096', { backend }), 'ERR_PQC_UNSUPPORTED_ALGORITHM').message).not.toContain('did you mean');
      expect(expectCode(() => new Kem('ML-DSA-65', { backend }), 'ERR_PQC_UNSUPPORTED_ALGORITHM').message).toContain('it is a signature scheme, for new Sig(…)');
      expect(expectCode(() => new Sig('ML-KEM-768', { backend }), 'ERR_PQC_UNSUPPORTED_ALGORITHM').message).toContain('it is a KEM, for new Kem(…)');
    });
  });
}

describe('the WebAssembly catalogue uses liboqs\'s spelling', () => {
  it("lists CROSS as liboqs does (cross-rsdp-…), not as @oqs/liboqs-js does (CROSS-rsdp-…), and serves it under that name", async () => {
    const catalog = wasmCatalog();
    expect(catalog.has('cross-rsdp-128-balanced')).toBe(true);
    expect([...catalog.keys()].filter((name) => name.startsWith('CROSS-'))).toEqual([]);
    expect(expectCode(() => new Sig('CROSS-rsdp-128-balanced', { backend: 'wasm' }), 'ERR_PQC_UNSUPPORTED_ALGORITHM').message).toContain(
      'did you mean cross-rsdp-128-balanced?',
    );
    const sig = new Sig('cross-rsdp-128-balanced', { backend: 'wasm' });
    await sig.ready();
    const keys = sig.generateKeyPair();
    const message = new TextEncoder().encode('cross');
    expect(sig.verify(message, sig.sign(message, keys.secretKey), keys.publicKey)).toBe(true);
  });
});

describe.skipIf(!native)(`one rule: every name gets the same answer on both backends${native ? '' : ` (skipped: ${NATIVE_SKIP})`}`, () => {
  it('for the standard names, their misspellings, and the hybrids', () => {
    const names = ['ML-KEM-768', 'X-Wing', 'X25519MLKEM768', 'ML-KEM-4096', ...KEM_MISSPELLINGS.map(([name]) => name)];
    for (const name of names) {
      expect(outcome(() => new Kem(name, { backend: 'native' })).replace('native', 'served'), name).toBe(
        outcome(() => new Kem(name, { backend: 'wasm' })).replace('wasm', 'served'),
      );
    }
    for (const name of ['ML-DSA-65', 'Falcon-512', ...SIG_MISSPELLINGS.map(([name]) => name)]) {
      expect(outcome(() => new Sig(name, { backend: 'native' })).replace('native', 'served'), name).toBe(
        outcome(() => new Sig(name, { backend: 'wasm' })).replace('wasm', 'served'),
      );
    }
  });
});
