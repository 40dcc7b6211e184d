import { PqcError } from './errors.js';
import { describe } from './bytes.js';
import { readFlag } from './policy/environment.js';
import type { BackendName, KemEngine, SigEngine } from './engine.js';
import { createHybridKemEngine, HYBRID_KEM_NAMES, isHybridKem } from './hybrid/index.js';
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
    throw new PqcError('ERR_PQC_UNSUPPORTED_BACKEND', `backend must be "native", "wasm" or "auto", got ${describe(requested)}`);
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

type Family = 'kem' | 'sig';

const enabledNames = new Map<BackendName, { kems: string[]; sigs: string[] }>();

/** The algorithms `backend` enables, in liboqs's spelling; fixed for the life of the process. */
function enabledAlgorithms(backend: BackendName): { kems: string[]; sigs: string[] } {
  let names = enabledNames.get(backend);
  if (!names) {
    if (backend === 'native') {
      names = loadNativeBackend().addon.algorithms();
    } else {
      const catalog = [...wasmCatalog()];
      names = {
        kems: catalog.filter(([, a]) => a.type === 'kem').map(([name]) => name),
        sigs: catalog.filter(([, a]) => a.type === 'sig').map(([name]) => name),
      };
    }
    enabledNames.set(backend, names);
  }
  return names;
}

/** Case, spaces and punctuation are what a name typed from memory gets wrong. */
const loose = (name: string) => name.replace(/[^A-Za-z0-9]/g, '').toUpperCase();

/** Edits (insertion, deletion, substitution, swap of neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The name `name` was most likely meant to be: the same but for case and punctuation, else one edit away. */
function closestName(name: string, candidates: readonly string[]): string | undefined {
  const wanted = loose(name);
  return (
    candidates.find((candidate) => loose(candidate) === wanted) ??
    candidates.find((candidate) => editDistance(wanted, loose(candidate)) === 1)
  );
}

/**
 * Algorithm names are liboqs's identifiers, exact and case-sensitive, on every backend. liboqs's
 * own lookup ignores case, so a native backend that passed names through would serve
 * `ml-kem-768` while the WebAssembly catalogue refused it — and, worse, the checks this package
 * adds for old liboqs releases (FIPS 203 key checks, FIPS 204's z bound) are keyed by the exact
 * name and would be skipped.
 */
function requireEnabled(name: string, family: Family, backend: BackendName): void {
  const { kems, sigs } = enabledAlgorithms(backend);
  const [names, others] = family === 'kem' ? [kems, sigs] : [sigs, kems];
  if (names.includes(name)) return;
  const where = backend === 'native' ? `liboqs ${loadNativeBackend().liboqs.version}` : `the WebAssembly liboqs ${wasmPackageVersion()}`;
  const what = `${family === 'kem' ? 'KEM' : 'signature scheme'} ${JSON.stringify(name)} is not enabled in ${where}`;
  if (others.includes(name)) {
    throw new PqcError('ERR_PQC_UNSUPPORTED_ALGORITHM', `${what}: it is a ${family === 'kem' ? "signature scheme, for new Sig(…)" : 'KEM, for new Kem(…)'}`);
  }
  const candidates = (family === 'kem' ? [...names, ...HYBRID_KEM_NAMES, X25519_KEM_NAME] : names).filter((candidate) => candidate !== name);
  const suggestion = closestName(name, candidates);
  throw new PqcError(
    'ERR_PQC_UNSUPPORTED_ALGORITHM',
    `${what}${suggestion === undefined ? '' : `: did you mean ${suggestion}?`} ` +
      `(names are liboqs's, exact and case-sensitive; info().${family}s lists the enabled ones)`,
  );
}

export function createKemEngine(
  name: string,
  requested?: BackendChoice | 'mock',
  options: { faults?: MockKemFaults; fallback?: PQCFallbackHandler } = {},
): KemEngine {
  if (requested === 'mock') return new MockKemEngine(name, options.faults);
  if (options.faults !== undefined) throw new PqcError('ERR_PQC_INVALID_INPUT', `faults apply only to the mock backend ({ backend: 'mock' })`);
  // X25519 is no liboqs algorithm: node:crypto serves it whichever liboqs backend is selected.
  if (name === X25519_KEM_NAME && (requested ?? 'auto') === 'auto') return new X25519KemEngine(options.fallback);
  // A hybrid composes the ML-KEM engine of the requested backend with node:crypto's X25519.
  if (isHybridKem(name)) return createHybridKemEngine(name, (pqName) => createKemEngine(pqName, requested));
  const backend = resolve(requested);
  requireEnabled(name, 'kem', backend);
  return backend === 'native' ? new NativeKemEngine(name, loadNativeBackend()) : new WasmKemEngine(name, wasmCatalog().get(name)!);
}

export function createSigEngine(name: string, requested?: BackendChoice): SigEngine {
  const backend = resolve(requested);
  requireEnabled(name, 'sig', backend);
  return backend === 'native' ? new NativeSigEngine(name, loadNativeBackend()) : new WasmSigEngine(name, wasmCatalog().get(name)!);
}

/**
 * The backend that serves PQC calls made now without a backend option: 'none' when they are
 * refused (no liboqs loads, or production without a native one and without
 * X0TTA6BL4_ALLOW_WASM_PQC), as in a fallback mode started for want of liboqs.
 */
export function servingBackend(): BackendName | 'none' {
  try {
    return resolve(undefined);
  } catch {
    return 'none';
  }
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
    const { liboqs } = backend.native;
    const { kems, sigs } = enabledAlgorithms('native');
    return {
      backend: 'native',
      liboqs: { version: liboqs.version, path: liboqs.path },
      wasm: null,
      kems: [...kems],
      sigs: [...sigs],
      capabilities: {
        kemKeypairDerand: liboqs.kemKeypairDerand,
        kemEncapsDerand: liboqs.kemEncapsDerand,
        sigContext: liboqs.sigContext,
      },
      nativeUnavailable: unavailable,
    };
  }
  const { kems, sigs } = enabledAlgorithms('wasm');
  return {
    backend: 'wasm',
    liboqs: null,
    wasm: { package: '@oqs/liboqs-js', version: wasmPackageVersion() },
    kems: [...kems],
    sigs: [...sigs],
    capabilities: { kemKeypairDerand: false, kemEncapsDerand: false, sigContext: false },
    nativeUnavailable: unavailable,
  };
}
