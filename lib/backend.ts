import { PqcError } from './errors.js';
import { readFlag } from './policy/environment.js';
import type { BackendName, KemEngine, SigEngine } from './engine.js';
import { createHybridKemEngine, isHybridKem } from './hybrid/index.js';
import { loadNativeBackend, NativeKemEngine, NativeSigEngine, type NativeBackend } from './native/native-backend.js';
import type { PQCFallbackHandler } from './policy/fallback-handler.js';
import { MockKemEngine, type MockKemFaults } from './policy/mock-kem.js';
import { X25519_KEM_NAME, X25519KemEngine } from './policy/x25519-kem.js';
import { preloadWasm, wasmCatalog, wasmPackageVersion, WasmKemEngine, WasmSigEngine } from './wasm/wasm-backend.js';

/**
 * Which liboqs serves this process: X0TTA6BL4_PQC_BACKEND=native|wasm|auto (default auto:
 * the system liboqs when it loads, else the WebAssembly build). Read once, at first use.
 */
export type BackendChoice = BackendName | 'auto';

export interface SelectedBackend {
  name: BackendName;
  choice: BackendChoice;
  native?: NativeBackend;
  /** Why auto did not pick the native backend. */
  nativeUnavailable?: PqcError;
}

const CHOICES: readonly BackendChoice[] = ['native', 'wasm', 'auto'];

export function backendChoice(env: Record<string, string | undefined> = process.env): BackendChoice {
  const value = (env.X0TTA6BL4_PQC_BACKEND ?? 'auto').trim().toLowerCase() || 'auto';
  if (!CHOICES.includes(value as BackendChoice)) {
    throw new PqcError(
      'ERR_PQC_UNSUPPORTED_BACKEND',
      `X0TTA6BL4_PQC_BACKEND must be one of ${CHOICES.join(', ')}, got "${env.X0TTA6BL4_PQC_BACKEND}"`,
    );
  }
  return value as BackendChoice;
}

let selected: SelectedBackend | undefined;

export function selectedBackend(): SelectedBackend {
  if (selected) return selected;
  const choice = backendChoice();
  if (choice === 'wasm') return (selected = { name: 'wasm', choice });
  try {
    return (selected = { name: 'native', choice, native: loadNativeBackend() });
  } catch (error) {
    if (choice === 'native') throw error;
    wasmCatalog();
    return (selected = { name: 'wasm', choice, nativeUnavailable: error as PqcError });
  }
}

/**
 * The backend an object asked for by name, or the process's selection. In production mode the
 * WebAssembly liboqs serves only with X0TTA6BL4_ALLOW_WASM_PQC=true, whichever way it was
 * reached: PQC is never quietly downgraded, even in code that skipped startup().
 */
function resolve(requested: BackendChoice | undefined): BackendName {
  if (requested !== undefined && !CHOICES.includes(requested)) {
    throw new PqcError('ERR_PQC_UNSUPPORTED_BACKEND', `backend must be "native", "wasm" or "auto", got ${String(requested)}`);
  }
  const name = requested === undefined || requested === 'auto' ? selectedBackend().name : requested;
  if (name === 'wasm' && readFlag('production') && !readFlag('allowWasmPqc')) {
    const why = requested === 'wasm' ? "{ backend: 'wasm' } was requested" : (selectedBackend().nativeUnavailable?.message ?? 'X0TTA6BL4_PQC_BACKEND=wasm');
    throw new PqcError(
      'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS',
      `production mode (X0TTA6BL4_PRODUCTION=true) requires the native liboqs backend: ${why}\n` +
        'Set X0TTA6BL4_ALLOW_WASM_PQC=true to run production on the WebAssembly liboqs instead.',
    );
  }
  return name;
}

function wasmAlgorithm(name: string, type: 'kem' | 'sig') {
  const algorithm = wasmCatalog().get(name);
  if (!algorithm || algorithm.type !== type) {
    throw new PqcError(
      'ERR_PQC_UNSUPPORTED_ALGORITHM',
      `${type === 'kem' ? 'KEM' : 'signature'} ${name} is not in the WebAssembly liboqs ${wasmPackageVersion()}`,
    );
  }
  return algorithm;
}

export function createKemEngine(
  name: string,
  requested?: BackendChoice | 'mock',
  options: { faults?: MockKemFaults; fallback?: PQCFallbackHandler } = {},
): KemEngine {
  if (requested === 'mock') return new MockKemEngine(name, options.faults);
  if (options.faults) throw new PqcError('ERR_PQC_INVALID_INPUT', `faults apply only to the mock backend ({ backend: 'mock' })`);
  // X25519 is no liboqs algorithm: node:crypto serves it whichever liboqs backend is selected.
  if (name === X25519_KEM_NAME && (requested ?? 'auto') === 'auto') return new X25519KemEngine(options.fallback);
  // A hybrid composes the ML-KEM engine of the requested backend with node:crypto's X25519.
  if (isHybridKem(name)) return createHybridKemEngine(name, (pqName) => createKemEngine(pqName, requested));
  return resolve(requested) === 'native'
    ? new NativeKemEngine(name, loadNativeBackend())
    : new WasmKemEngine(name, wasmAlgorithm(name, 'kem'));
}

export function createSigEngine(name: string, requested?: BackendChoice): SigEngine {
  return resolve(requested) === 'native'
    ? new NativeSigEngine(name, loadNativeBackend())
    : new WasmSigEngine(name, wasmAlgorithm(name, 'sig'));
}

/** Resolves once the selected backend can serve sync calls for the standard algorithms. */
export async function ready(): Promise<void> {
  if (resolve(undefined) === 'wasm') await preloadWasm();
}

export interface Info {
  backend: BackendName | 'none';
  liboqs: { version: string; path: string } | null;
  /** The WebAssembly package in use, when the backend is wasm. */
  wasm: { package: string; version: string } | null;
  kems: string[];
  sigs: string[];
  capabilities: { kemKeypairDerand: boolean; kemEncapsDerand: boolean; sigContext: boolean };
  /** Why the native backend is not in use, when it is not. */
  nativeUnavailable: { code: string; message: string } | null;
}

export function info(): Info {
  let backend: SelectedBackend;
  try {
    backend = selectedBackend();
  } catch (error) {
    const { code, message } = PqcError.from(error);
    return {
      backend: 'none',
      liboqs: null,
      wasm: null,
      kems: [],
      sigs: [],
      capabilities: { kemKeypairDerand: false, kemEncapsDerand: false, sigContext: false },
      nativeUnavailable: { code, message },
    };
  }
  const unavailable = backend.nativeUnavailable
    ? { code: backend.nativeUnavailable.code, message: backend.nativeUnavailable.message }
    : null;
  if (backend.native) {
    const { addon, liboqs } = backend.native;
    const { kems, sigs } = addon.algorithms();
    return {
      backend: 'native',
      liboqs: { version: liboqs.version, path: liboqs.path },
      wasm: null,
      kems,
      sigs,
      capabilities: {
        kemKeypairDerand: liboqs.kemKeypairDerand,
        kemEncapsDerand: liboqs.kemEncapsDerand,
        sigContext: liboqs.sigContext,
      },
      nativeUnavailable: unavailable,
    };
  }
  const catalog = [...wasmCatalog()];
  return {
    backend: 'wasm',
    liboqs: null,
    wasm: { package: '@oqs/liboqs-js', version: wasmPackageVersion() },
    kems: catalog.filter(([, a]) => a.type === 'kem').map(([name]) => name),
    sigs: catalog.filter(([, a]) => a.type === 'sig').map(([name]) => name),
    capabilities: { kemKeypairDerand: false, kemEncapsDerand: false, sigContext: false },
    nativeUnavailable: unavailable,
  };
}
