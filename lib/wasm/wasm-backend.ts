import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PqcError } from '../errors.js';
import { Op, type BatchInput, type BatchResult, type KemEngine, type SigEngine, kemOutputLengths } from '../engine.js';
import { POOL_SIZE, wasmWorkerPool } from './worker-pool.js';

/**
 * liboqs compiled to WebAssembly (@oqs/liboqs-js): real liboqs, slower, one WebAssembly module
 * per algorithm, loaded asynchronously. Sync calls run on the calling thread; `…Async` and
 * `…Many` on a pool of worker threads, each with its own instances (worker-pool.ts). It exposes
 * neither derandomized ML-KEM nor signature context strings.
 */

interface WasmKem {
  generateKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array };
  encapsulate(publicKey: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array };
  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

interface WasmSig {
  generateKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array };
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean;
}

export interface WasmAlgorithm {
  type: 'kem' | 'sig';
  keySize: Record<string, number>;
  create: () => Promise<WasmKem | WasmSig>;
}

const PACKAGE = '@oqs/liboqs-js';
/** What `ready()` loads up front: the standard schemes. Others load on first use. */
export const PRELOADED = ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024', 'ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'];

let catalog: Map<string, WasmAlgorithm> | undefined;
const instances = new Map<string, Promise<WasmKem | WasmSig>>();
const instancesLoaded = new Map<string, WasmKem | WasmSig>();

/**
 * The package's identifiers are the names it hands to liboqs's OQS_KEM_new/OQS_SIG_new, which
 * ignore case; all are liboqs's own spelling but CROSS's (`CROSS-rsdp-128-balanced`, liboqs:
 * `cross-rsdp-128-balanced`). The catalogue uses liboqs's, so that one name works on both backends.
 */
const liboqsSpelling = (identifier: string) => identifier.replace(/^CROSS-/, 'cross-');

const normalize = (name: string) => name.replace(/[^A-Za-z0-9]/g, '').toUpperCase();

/** The package pairs `X_INFO` metadata with a `createX` factory; names differ only in punctuation. */
function buildCatalog(module: Record<string, unknown>): Map<string, WasmAlgorithm> {
  const factories = new Map<string, () => Promise<WasmKem | WasmSig>>();
  for (const [key, value] of Object.entries(module)) {
    if (key.startsWith('create') && typeof value === 'function') {
      factories.set(normalize(key.slice('create'.length)), value as () => Promise<WasmKem | WasmSig>);
    }
  }
  const algorithms = new Map<string, WasmAlgorithm>();
  for (const [key, value] of Object.entries(module)) {
    const info = value as { identifier?: string; type?: string; keySize?: Record<string, number> };
    const create = key.endsWith('_INFO') ? factories.get(normalize(key.slice(0, -'_INFO'.length))) : undefined;
    if (create && info.identifier && (info.type === 'kem' || info.type === 'sig') && info.keySize) {
      algorithms.set(liboqsSpelling(info.identifier), { type: info.type, keySize: info.keySize, create });
    }
  }
  return algorithms;
}

/**
 * The package's algorithm list, loaded synchronously (require of an ES module, Node >= 20.19;
 * its exports map offers only "import", so the entry file is resolved first). The WebAssembly
 * modules themselves load later, per algorithm.
 */
export function wasmCatalog(): Map<string, WasmAlgorithm> {
  if (!catalog) {
    try {
      if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly === 'undefined') throw new Error('this runtime has no WebAssembly (node --jitless?)');
      const entry = fileURLToPath(import.meta.resolve(PACKAGE));
      catalog = buildCatalog(createRequire(import.meta.url)(entry) as Record<string, unknown>);
      version = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')).version;
    } catch (cause) {
      throw new PqcError(
        'ERR_PQC_WASM_UNAVAILABLE',
        `the WebAssembly liboqs (${PACKAGE}) could not be loaded: ${(cause as Error).message.split('\n')[0]}. ` +
          `Install it with "npm install ${PACKAGE}" or install a system liboqs.`,
        { cause },
      );
    }
  }
  return catalog;
}

let version = '';

/**
 * One algorithm, for a worker thread: from the package's file for it alone where its name finds
 * one (src/algorithms/<type>/<family>/<name>.js) — loading the whole catalogue imports every
 * algorithm's file, some 0.1–0.4 s per thread — else from the catalogue.
 */
export async function loadWasmAlgorithm(name: string): Promise<WasmAlgorithm | undefined> {
  const entry = fileURLToPath(import.meta.resolve(PACKAGE));
  const folder = join(dirname(entry), 'algorithms');
  const file = readdirSync(folder, { recursive: true, encoding: 'utf8' }).find(
    (path) => path.endsWith('.js') && normalize(path.slice(path.lastIndexOf('/') + 1, -'.js'.length)) === normalize(name),
  );
  const own = file === undefined ? undefined : buildCatalog((await import(pathToFileURL(join(folder, file)).href)) as Record<string, unknown>).get(name);
  return own ?? wasmCatalog().get(name);
}

/** The @oqs/liboqs-js release (it tracks the liboqs release it compiles). */
export function wasmPackageVersion(): string {
  wasmCatalog();
  return version;
}

function loadInstance(name: string, algorithm: WasmAlgorithm): Promise<WasmKem | WasmSig> {
  let instance = instances.get(name);
  if (!instance) {
    instance = algorithm.create().then(
      (created) => {
        instancesLoaded.set(name, created);
        return created;
      },
      (cause: unknown) => {
        instances.delete(name);
        throw new PqcError(
          'ERR_PQC_WASM_UNAVAILABLE',
          `the WebAssembly module for ${name} could not be loaded: ${(cause as Error)?.message ?? String(cause)}`,
          { cause },
        );
      },
    );
    instances.set(name, instance);
  }
  return instance;
}

export async function preloadWasm(names: string[] = PRELOADED): Promise<void> {
  const algorithms = wasmCatalog();
  await Promise.all(
    names.filter((name) => algorithms.has(name)).map((name) => loadInstance(name, algorithms.get(name)!)),
  );
}

// The package checks `constructor.name === 'Uint8Array'`, which a SecretBytes fails.
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function wipe(...buffers: Uint8Array[]): void {
  for (const buffer of buffers) buffer.fill(0);
}

abstract class WasmEngine<T extends WasmKem | WasmSig> {
  readonly backend = 'wasm';
  // A part sent to a worker thread costs a message each way: concurrent single calls share parts.
  readonly parallelism = POOL_SIZE;
  #loading: Promise<void>;

  constructor(
    readonly name: string,
    protected readonly algorithm: WasmAlgorithm,
  ) {
    this.#loading = loadInstance(name, algorithm).then(() => undefined);
    this.#loading.catch(() => {});
  }

  isReady(): boolean {
    return instancesLoaded.has(this.name);
  }

  ready(): Promise<void> {
    return this.#loading;
  }

  protected get instance(): T {
    const instance = instancesLoaded.get(this.name);
    if (!instance) {
      throw new PqcError(
        'ERR_PQC_NOT_READY',
        `the WebAssembly module for ${this.name} is still loading: await ready() (or the object's ready()) ` +
          'before sync calls, or use the async methods',
      );
    }
    return instance as T;
  }

  abstract run(op: Op, ...operands: Uint8Array[]): number;
  abstract outputLengths(op: Op): number[];

  /** On the worker threads, whose own instances load there: the calling thread's need not be ready. */
  runAsync(op: Op, count: number, inputs: BatchInput[]): Promise<BatchResult> {
    return wasmWorkerPool().run(this.name, op, count, inputs, this.outputLengths(op));
  }
}

export class WasmKemEngine extends WasmEngine<WasmKem> implements KemEngine {
  readonly lengths;
  readonly checksMlKemKeys = true;
  readonly seedUnsupportedReason = {
    keypair: 'the WebAssembly liboqs exposes no OQS_KEM_keypair_derand',
    encaps: 'the WebAssembly liboqs exposes no OQS_KEM_encaps_derand',
  };

  constructor(name: string, algorithm: WasmAlgorithm) {
    super(name, algorithm);
    const size = algorithm.keySize;
    this.lengths = {
      publicKey: size.publicKey!,
      secretKey: size.secretKey!,
      ciphertext: size.ciphertext!,
      sharedSecret: size.sharedSecret!,
      keypairSeed: 0,
      encapsSeed: 0,
    };
  }

  outputLengths(op: Op): number[] {
    return kemOutputLengths(this.lengths, op);
  }

  run(op: Op, ...operands: Uint8Array[]): number {
    const kem = this.instance;
    try {
      switch (op) {
        case Op.KemKeypair: {
          const { publicKey, secretKey } = kem.generateKeyPair();
          operands[0]!.set(publicKey);
          operands[1]!.set(secretKey);
          wipe(secretKey);
          return 0;
        }
        case Op.KemEncaps: {
          const { ciphertext, sharedSecret } = kem.encapsulate(plain(operands[0]!));
          operands[1]!.set(ciphertext);
          operands[2]!.set(sharedSecret);
          wipe(sharedSecret);
          return 0;
        }
        case Op.KemDecaps: {
          const sharedSecret = kem.decapsulate(plain(operands[0]!), plain(operands[1]!));
          operands[2]!.set(sharedSecret);
          wipe(sharedSecret);
          return 0;
        }
      }
    } catch (cause) {
      throw new PqcError('ERR_PQC_OPERATION_FAILED', `${this.name}: the WebAssembly liboqs reported an error`, { cause });
    }
    throw new PqcError('ERR_PQC_UNSUPPORTED_CAPABILITY', `${this.name}: operation ${op} is not available on the WebAssembly backend`);
  }
}

export class WasmSigEngine extends WasmEngine<WasmSig> implements SigEngine {
  readonly lengths;
  readonly contextSupported = false;
  readonly checksMlDsaBounds = true;

  constructor(name: string, algorithm: WasmAlgorithm) {
    super(name, algorithm);
    const size = algorithm.keySize;
    this.lengths = { publicKey: size.publicKey!, secretKey: size.secretKey!, signature: size.signature! };
  }

  outputLengths(op: Op): number[] {
    return op === Op.SigKeypair ? [this.lengths.publicKey, this.lengths.secretKey] : op === Op.SigSign ? [this.lengths.signature] : [];
  }

  run(op: Op, ...operands: Uint8Array[]): number {
    const sig = this.instance;
    try {
      switch (op) {
        case Op.SigKeypair: {
          const { publicKey, secretKey } = sig.generateKeyPair();
          operands[0]!.set(publicKey);
          operands[1]!.set(secretKey);
          wipe(secretKey);
          return 0;
        }
        case Op.SigSign: {
          const signature = sig.sign(plain(operands[0]!), plain(operands[1]!));
          operands[3]!.set(signature);
          return signature.length;
        }
        case Op.SigVerify: {
          const [message, signature, publicKey] = operands;
          // The package throws on a signature of the wrong length; that is a bad signature.
          if (signature!.length > this.lengths.signature || signature!.length === 0) return 0;
          return sig.verify(plain(message!), plain(signature!), plain(publicKey!)) ? 1 : 0;
        }
      }
    } catch (cause) {
      throw new PqcError('ERR_PQC_OPERATION_FAILED', `${this.name}: the WebAssembly liboqs reported an error`, { cause });
    }
    throw new PqcError('ERR_PQC_UNSUPPORTED_CAPABILITY', `${this.name}: operation ${op} is not available on the WebAssembly backend`);
  }
}
