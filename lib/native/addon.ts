import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { PqcError } from '../errors.js';

/** The shape of csrc/addon.cc's exports. */
export interface LiboqsStatus {
  path: string;
  version: string;
  kemKeypairDerand: boolean;
  kemEncapsDerand: boolean;
  sigContext: boolean;
}

/** A batch's output operand (csrc/batch.h): public items end to end, or one ArrayBuffer per secret item. */
export type BatchOutput = Uint8Array | ArrayBuffer[];

export interface NativeAlgorithm {
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  readonly ciphertextLength: number;
  readonly sharedSecretLength: number;
  readonly keypairSeedLength: number;
  readonly encapsSeedLength: number;
  readonly signatureLength: number;
  readonly contextSupported: boolean;
  run(op: number, ...operands: Uint8Array[]): number;
  runAsync(
    op: number,
    count: number,
    workers: number,
    ...inputs: (Uint8Array | Uint8Array[])[]
  ): Promise<[BatchOutput | undefined, BatchOutput | undefined, Float64Array]>;
}

export interface Addon {
  load(path: string): LiboqsStatus;
  status(): LiboqsStatus | null;
  algorithms(): { kems: string[]; sigs: string[] };
  Algorithm: new (family: 'kem' | 'sig', name: string) => NativeAlgorithm;
  /**
   * csrc/x25519.cc's X25519 (RFC 7748), absent when the OpenSSL inside Node lacks what it needs.
   * x25519PublicKey: out = X25519(scalar, 9).
   */
  x25519PublicKey?: (scalar: Uint8Array, out: Uint8Array) => void;
  /** A random scalar from OpenSSL's generator, and its public key. */
  x25519GenerateKey?: (scalar: Uint8Array, publicKey: Uint8Array) => void;
  /**
   * out = X25519(scalar, peer), `publicKey` being X25519(scalar, 9); false, with out all zero,
   * when the result is all zero (a small-order peer).
   */
  x25519SharedSecret?: (scalar: Uint8Array, publicKey: Uint8Array, peer: Uint8Array, out: Uint8Array) => boolean;
}

// lib/native/ in the sources and dist/native/ in the package: the root is two levels up.
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

let loaded: { addon: Addon } | { error: PqcError } | undefined;

/** The addon from prebuilds/ or a local build (node-gyp-build decides), loaded once. */
export function loadAddon(): Addon {
  if (!loaded) {
    try {
      const require = createRequire(import.meta.url);
      const nodeGypBuild = require('node-gyp-build') as (dir: string) => Addon;
      loaded = { addon: nodeGypBuild(packageRoot) };
    } catch (cause) {
      loaded = {
        error: new PqcError(
          'ERR_PQC_NATIVE_ADDON_NOT_FOUND',
          `no prebuilt addon for ${process.platform}-${process.arch} and no local build in ${packageRoot}: ` +
            `${(cause as Error).message.split('\n')[0]}. Rebuild it with "npm rebuild x0tta6bl4-pqc" ` +
            '(needs python3, make and a C++ compiler) or use the WebAssembly backend.',
          { cause },
        ),
      };
    }
  }
  if ('error' in loaded) throw loaded.error;
  return loaded.addon;
}
