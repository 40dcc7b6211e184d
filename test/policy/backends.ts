import type { Info } from '../../lib/backend.js';

/** A native liboqs as info() describes it (README's doctor example). */
export const NATIVE: Info = {
  backend: 'native',
  liboqs: { version: '0.16.0', path: '/opt/liboqs/0.16.0/lib/liboqs.so.9' },
  wasm: null,
  kems: ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024'],
  sigs: ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'],
  capabilities: { kemKeypairDerand: true, kemEncapsDerand: true, sigContext: true },
  nativeUnavailable: null,
};

/** What assessBackend says of the WebAssembly liboqs chosen by X0TTA6BL4_PQC_BACKEND=wasm, by policy. */
export const CHOSEN_WHY = 'X0TTA6BL4_PQC_BACKEND=wasm selects it; unset that variable to use the native liboqs';
export const WASM_IN_USE = `the WebAssembly liboqs is in use: ${CHOSEN_WHY}`;
export const requiresLiboqs = (why: string) =>
  `production mode (X0TTA6BL4_PRODUCTION=true) requires the native liboqs backend, which is not in use: ${why}\n` +
  'To run production on the WebAssembly liboqs instead (several times slower), set X0TTA6BL4_ALLOW_WASM_PQC=true.';
export const wasmInProduction = (why: string) =>
  `production mode runs on the WebAssembly liboqs because X0TTA6BL4_ALLOW_WASM_PQC=true (several times slower). The native backend is not in use: ${why}`;
