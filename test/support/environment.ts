import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { info } from '../../lib/index.js';

/**
 * What the suite runs on. Without a system liboqs the suite runs on the WebAssembly backend and
 * native-only tests are skipped, with the reason; PQC_REQUIRE_NATIVE=1 makes that a failure
 * (checked in test/backend-selection.test.ts).
 */
export const environment = info();
export const requireNative = process.env.PQC_REQUIRE_NATIVE === '1';
export const native = environment.backend === 'native';
export const NATIVE_SKIP = native
  ? ''
  : `no native liboqs (${environment.nativeUnavailable?.code ?? 'backend forced to ' + environment.backend})`;

export const capabilities = environment.capabilities;

/** liboqs version as [major, minor], or null on the WebAssembly backend. */
export function liboqsVersion(): [number, number] | null {
  const match = /^(\d+)\.(\d+)/.exec(environment.liboqs?.version ?? '');
  return match ? [Number(match[1]), Number(match[2])] : null;
}

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

export function readVectors<T>(relative: string): T {
  return JSON.parse(readFileSync(new URL(`../../../shared/vectors/${relative}`, import.meta.url), 'utf8')) as T;
}

export const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));
export const toHex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/**
 * npm run test:asan (scripts/test-asan.mjs) runs the suite on the sanitizer build of the addon
 * (X0TTA6BL4_PQC_PREBUILD, node-gyp-build's override) with the sanitizer runtimes preloaded and
 * their options set. Node children get the same, so that their calls into the addon are checked
 * too; other programs (the C compiler) run without them.
 */
const SANITIZER_VARIABLES = ['X0TTA6BL4_PQC_PREBUILD', 'LD_PRELOAD', 'ASAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS'];
const sanitizerEnv = Object.fromEntries(SANITIZER_VARIABLES.map((name) => [name, process.env[name]]));

/** Whether this run is npm run test:asan's, with AddressSanitizer's runtime preloaded. */
export const sanitized = /libasan/.test(process.env.LD_PRELOAD ?? '');

/** This process's environment without the sanitizers', for programs other than Node. */
export function withoutSanitizers(): Record<string, string | undefined> {
  return { ...process.env, ...Object.fromEntries(SANITIZER_VARIABLES.map((name) => [name, undefined])) };
}

/** The environment of a child process that must run on this process's native liboqs. */
export function nativeChildEnv(): Record<string, string | undefined> {
  return {
    LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH,
    X0TTA6BL4_LIBOQS_PATH: environment.liboqs?.path,
    X0TTA6BL4_PQC_BACKEND: 'native',
  };
}

/**
 * Runs a module body in a fresh Node process against the built package (dist/), so that the
 * per-process backend selection can be tested under different environments.
 */
export function runInChild(body: string, env: Record<string, string | undefined>) {
  const script = `import * as pqc from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};\n${body}`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, ...sanitizerEnv, ...env },
    encoding: 'utf8',
    // Sanitized code (npm run test:asan) runs several times slower.
    timeout: sanitized ? 300_000 : 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Transfers `view`'s buffer away where Node allows it, as a caller handing it to a worker would.
 * The package's shared public slabs are untransferable: Node 20 then copies, Node 22 and later
 * refuse with a DataCloneError (undefined here). A value with a buffer of its own does move, and
 * the caller checks that nothing else went with it.
 */
export function tryTransfer(view: Uint8Array): Uint8Array | undefined {
  try {
    return structuredClone(view, { transfer: [view.buffer as ArrayBuffer] });
  } catch (error) {
    if ((error as Error).name !== 'DataCloneError') throw error;
    return undefined;
  }
}
