import { describe, expect, it } from 'vitest';
import type { Info } from '../../lib/backend.js';
import { readPolicy } from '../../lib/policy/environment.js';
import { assessBackend } from '../../lib/policy/readiness.js';
import { CHOSEN_WHY, NATIVE, requiresLiboqs, wasmInProduction } from './backends.js';

/**
 * assessBackend() on its own: start-up and doctor reach it only with the backend this process
 * selected (and doctor's CLI tests in child processes), so here each kind of backend is described
 * as info() describes it: a native liboqs, the WebAssembly one chosen or fallen back to, none.
 */
const NOT_FOUND = { code: 'ERR_PQC_LIBOQS_NOT_FOUND', message: 'liboqs was not found. Tried:\n  liboqs.so: cannot open shared object file' };
const WASM_CHOSEN: Info = {
  ...NATIVE,
  backend: 'wasm',
  liboqs: null,
  wasm: { package: '@oqs/liboqs-js', version: '0.15.1' },
  capabilities: { kemKeypairDerand: false, kemEncapsDerand: false, sigContext: false },
};
const WASM_FALLEN_BACK: Info = { ...WASM_CHOSEN, nativeUnavailable: NOT_FOUND };
const NONE: Info = {
  ...WASM_CHOSEN,
  backend: 'none',
  wasm: null,
  kems: [],
  sigs: [],
  nativeUnavailable: { code: 'ERR_PQC_WASM_UNAVAILABLE', message: 'the WebAssembly liboqs (@oqs/liboqs-js) could not be loaded' },
};

const DEVELOPMENT = readPolicy({});
const PRODUCTION = readPolicy({ X0TTA6BL4_PRODUCTION: 'true' });
const PRODUCTION_ON_WASM = readPolicy({ X0TTA6BL4_PRODUCTION: 'true', X0TTA6BL4_ALLOW_WASM_PQC: 'true' });

const ALL_CLEAR = { problems: [], warnings: [], wasmInProduction: false };

describe('assessBackend', () => {
  it('passes a native liboqs with ML-KEM-768 and ML-DSA-65, in and out of production', () => {
    expect(assessBackend(DEVELOPMENT, NATIVE)).toEqual(ALL_CLEAR);
    expect(assessBackend(PRODUCTION, NATIVE)).toEqual(ALL_CLEAR);
    expect(assessBackend(PRODUCTION_ON_WASM, NATIVE)).toEqual(ALL_CLEAR);
  });

  it('without any backend: one problem, the loader error, with its own code outside production', () => {
    expect(assessBackend(DEVELOPMENT, NONE)).toEqual({
      problems: [{ code: 'ERR_PQC_WASM_UNAVAILABLE', message: `no liboqs backend could be loaded: ${NONE.nativeUnavailable!.message}` }],
      warnings: [],
      wasmInProduction: false,
    });
    expect(assessBackend(PRODUCTION_ON_WASM, NONE)).toEqual({
      problems: [{ code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS', message: `no liboqs backend could be loaded: ${NONE.nativeUnavailable!.message}` }],
      warnings: [],
      wasmInProduction: false,
    });
  });

  it('outside production the WebAssembly liboqs is a warning saying why it is in use', () => {
    expect(assessBackend(DEVELOPMENT, WASM_FALLEN_BACK)).toEqual({
      problems: [],
      warnings: [`the WebAssembly liboqs is in use: ${NOT_FOUND.message}`],
      wasmInProduction: false,
    });
    expect(assessBackend(DEVELOPMENT, WASM_CHOSEN)).toEqual({
      problems: [],
      warnings: [`the WebAssembly liboqs is in use: ${CHOSEN_WHY}`],
      wasmInProduction: false,
    });
    // The opt-in matters only in production.
    expect(assessBackend(readPolicy({ X0TTA6BL4_ALLOW_WASM_PQC: 'true' }), WASM_CHOSEN)).toEqual(assessBackend(DEVELOPMENT, WASM_CHOSEN));
  });

  it('in production the WebAssembly liboqs is the fail-closed problem, saying how to opt in', () => {
    for (const [backend, why] of [
      [WASM_FALLEN_BACK, NOT_FOUND.message],
      [WASM_CHOSEN, CHOSEN_WHY],
    ] as const) {
      expect(assessBackend(PRODUCTION, backend)).toEqual({
        problems: [{ code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS', message: requiresLiboqs(why) }],
        warnings: [],
        wasmInProduction: false,
      });
    }
  });

  it('in production with X0TTA6BL4_ALLOW_WASM_PQC=true the WebAssembly liboqs passes, with a warning', () => {
    expect(assessBackend(PRODUCTION_ON_WASM, WASM_FALLEN_BACK)).toEqual({
      problems: [],
      warnings: [wasmInProduction(NOT_FOUND.message)],
      wasmInProduction: true,
    });
  });

  it('names each required algorithm the liboqs lacks, with its own code outside production', () => {
    const fix = 'install a liboqs built with it (the default build enables it)';
    const lacking = { ...NATIVE, kems: ['ML-KEM-512', 'ML-KEM-1024'], sigs: ['ML-DSA-44', 'ML-DSA-87'] };
    expect(assessBackend(DEVELOPMENT, lacking)).toEqual({
      problems: [
        { code: 'ERR_PQC_UNSUPPORTED_ALGORITHM', message: `liboqs 0.16.0 (/opt/liboqs/0.16.0/lib/liboqs.so.9) does not enable ML-KEM-768: ${fix}` },
        { code: 'ERR_PQC_UNSUPPORTED_ALGORITHM', message: `liboqs 0.16.0 (/opt/liboqs/0.16.0/lib/liboqs.so.9) does not enable ML-DSA-65: ${fix}` },
      ],
      warnings: [],
      wasmInProduction: false,
    });
    expect(assessBackend(PRODUCTION, { ...NATIVE, kems: lacking.kems })).toEqual({
      problems: [{ code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS', message: `liboqs 0.16.0 (/opt/liboqs/0.16.0/lib/liboqs.so.9) does not enable ML-KEM-768: ${fix}` }],
      warnings: [],
      wasmInProduction: false,
    });
    expect(assessBackend(PRODUCTION_ON_WASM, { ...WASM_CHOSEN, sigs: lacking.sigs })).toEqual({
      problems: [{ code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS', message: `the WebAssembly liboqs 0.15.1 does not enable ML-DSA-65: ${fix}` }],
      warnings: [wasmInProduction(CHOSEN_WHY)],
      wasmInProduction: true,
    });
  });
});
