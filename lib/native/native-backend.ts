import { availableParallelism } from 'node:os';
import { markAsUntransferable } from 'node:worker_threads';
import { SecretBytes } from '../bytes.js';
import { PqcError } from '../errors.js';
import type { BatchInput, BatchResult, KemEngine, Op, SigEngine } from '../engine.js';
import { loadAddon, type Addon, type LiboqsStatus, type NativeAlgorithm } from './addon.js';
import { LIBOQS_INSTALL_HINT, liboqsCandidates } from './liboqs-search.js';

export interface NativeBackend {
  addon: Addon;
  liboqs: LiboqsStatus;
}

let loaded: NativeBackend | undefined;

/**
 * Finds and loads the system liboqs once per process. The error lists every place tried and
 * why each failed, then how to fix it.
 */
export function loadNativeBackend(env: Record<string, string | undefined> = process.env): NativeBackend {
  if (loaded) return loaded;
  const addon = loadAddon();
  return (loaded = { addon, liboqs: loadLiboqs(addon, liboqsCandidates({ env, platform: process.platform })) });
}

/**
 * The liboqs the process already has (loaded by another thread: each worker_thread loads the
 * package for itself), else the first of `candidates` that loads.
 */
export function loadLiboqs(addon: Pick<Addon, 'load' | 'status'>, candidates: Iterable<string>): LiboqsStatus {
  const already = addon.status();
  if (already) return already;

  const attempts: string[] = [];
  let tooOld: string | undefined;
  for (const candidate of candidates) {
    try {
      return addon.load(candidate);
    } catch (error) {
      const { code, message } = error as PqcError;
      // Another thread loaded one since status() was asked: the process's liboqs is that one.
      const winner = code === 'ERR_PQC_LIBOQS_ALREADY_LOADED' ? addon.status() : null;
      if (winner) return winner;
      if (code === 'ERR_PQC_LIBOQS_TOO_OLD') tooOld ??= `${candidate}: ${message}`;
      attempts.push(`  ${candidate}: ${message}`);
    }
  }
  if (tooOld) {
    throw new PqcError(
      'ERR_PQC_LIBOQS_TOO_OLD',
      `only a liboqs older than 0.12.0 was found (${tooOld}).\n${LIBOQS_INSTALL_HINT}`,
    );
  }
  throw new PqcError(
    'ERR_PQC_LIBOQS_NOT_FOUND',
    `liboqs was not found. Tried:\n${attempts.join('\n')}\n${LIBOQS_INSTALL_HINT}`,
  );
}

function atLeast(version: string, minor: number): boolean {
  const [major = 0, minorVersion = 0] = version.split('.').map(Number);
  return major > 0 || minorVersion >= minor;
}

// One worker per thread that can run at once: the workers share out the items between them.
// Read once: availableParallelism() is a system call, and every async call would pay it twice.
const parallelThreads = Math.min(Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4), availableParallelism());
const workersFor = (count: number) => Math.min(count, parallelThreads);

/**
 * A batch of at least two parts' worth goes to the pool as a pipeline of parts, one worker
 * each: the pool starts on the first part while the calling thread copies the inputs of the
 * next, instead of the calling thread's share of the work (copies, allocation) running before
 * and after the pool's. Up to PIPELINE_DEPTH parts per thread keep the threads busy; parts of
 * at least MIN_PART items keep the cost of each trip through the pool small beside the work it
 * carries. A smaller batch is one call whose workers share out its items.
 */
const PIPELINE_DEPTH = 4;
const MIN_PART = 16;
function partsFor(count: number): number {
  const workers = workersFor(count);
  if (count < 2 * MIN_PART || workers === 1) return 1;
  return Math.max(workers, Math.min(workers * PIPELINE_DEPTH, Math.floor(count / MIN_PART)));
}

abstract class NativeEngine {
  readonly backend = 'native';
  protected readonly algorithm: NativeAlgorithm;

  constructor(
    readonly name: string,
    family: 'kem' | 'sig',
    protected readonly native: NativeBackend,
  ) {
    try {
      this.algorithm = new native.addon.Algorithm(family, name);
    } catch (error) {
      throw PqcError.from(error);
    }
  }

  isReady(): boolean {
    return true;
  }

  async ready(): Promise<void> {}

  run(op: Op, ...operands: Uint8Array[]): number {
    try {
      return this.algorithm.run(op, ...operands);
    } catch (error) {
      throw PqcError.from(error);
    }
  }

  async runAsync(op: Op, count: number, inputs: BatchInput[]): Promise<BatchResult> {
    const partCount = partsFor(count);
    const outputs: Uint8Array[][] = [];
    const values = new Float64Array(count);
    const parts: Promise<void>[] = [];
    let refused: unknown;
    for (let part = 0; part < partCount && refused === undefined; part++) {
      const begin = Math.floor((count * part) / partCount);
      const end = Math.floor((count * (part + 1)) / partCount);
      const slice = partCount === 1 ? inputs : inputs.map((input) => (Array.isArray(input) ? input.slice(begin, end) : input));
      try {
        // Each part's items are handed out as soon as it is done, while the pool works on the rest.
        const done = this.algorithm.runAsync(op, end - begin, partCount === 1 ? workersFor(count) : 1, ...slice);
        parts.push(
          done.then(([first, second, partValues, secret]) => {
            [first, second].forEach((items, k) => {
              if (items !== undefined) splitItems(items, end - begin, secret[k]!, (outputs[k] ??= new Array<Uint8Array>(count)), begin);
            });
            values.set(partValues, begin);
          }),
        );
      } catch (error) {
        refused = error;
      }
    }
    const settled = await Promise.allSettled(parts);
    const failure = refused ?? settled.find((part) => part.status === 'rejected')?.reason;
    if (failure !== undefined) {
      // The caller never sees these outputs: those of the parts that did finish are wiped.
      for (const items of outputs) for (const item of items) item?.fill(0);
      throw PqcError.from(failure);
    }
    return { outputs, values };
  }
}

/**
 * Hands out public items as views of the part's buffer (untransferable, as the sync outputs'
 * slabs are) and copies each secret item into memory of its own, then wipes the shared copy.
 */
function splitItems(items: Uint8Array, count: number, secret: boolean, into: Uint8Array[], offset: number): void {
  const length = items.byteLength / count;
  if (secret) {
    for (let i = 0; i < count; i++) into[offset + i] = SecretBytes.copyOf(items.subarray(i * length, (i + 1) * length));
    items.fill(0);
    return;
  }
  if (count > 1) markAsUntransferable(items.buffer);
  for (let i = 0; i < count; i++) into[offset + i] = items.subarray(i * length, (i + 1) * length);
}

export class NativeKemEngine extends NativeEngine implements KemEngine {
  readonly lengths;
  readonly seedUnsupportedReason;
  readonly checksMlKemKeys: boolean;

  constructor(name: string, native: NativeBackend) {
    super(name, 'kem', native);
    // mlkem-native, with FIPS 203's input checks, replaced the reference code in liboqs 0.14.
    this.checksMlKemKeys = atLeast(native.liboqs.version, 14);
    const a = this.algorithm;
    this.lengths = {
      publicKey: a.publicKeyLength,
      secretKey: a.secretKeyLength,
      ciphertext: a.ciphertextLength,
      sharedSecret: a.sharedSecretLength,
      keypairSeed: a.keypairSeedLength,
      encapsSeed: a.encapsSeedLength,
    };
    const { version, kemKeypairDerand, kemEncapsDerand } = native.liboqs;
    const mlKem = name.startsWith('ML-KEM-');
    const why = (present: boolean, symbol: string, since: string) =>
      !mlKem
        ? `liboqs offers it for ML-KEM only`
        : present
          ? ''
          : `needs ${symbol} from liboqs ${since} or newer; the loaded liboqs is ${version}`;
    this.seedUnsupportedReason = {
      keypair: why(kemKeypairDerand, 'OQS_KEM_keypair_derand', '0.13'),
      encaps: why(kemEncapsDerand, 'OQS_KEM_encaps_derand', '0.15'),
    };
  }
}

export class NativeSigEngine extends NativeEngine implements SigEngine {
  readonly lengths;
  readonly contextSupported;
  readonly checksMlDsaBounds: boolean;

  constructor(name: string, native: NativeBackend) {
    super(name, 'sig', native);
    const a = this.algorithm;
    this.lengths = { publicKey: a.publicKeyLength, secretKey: a.secretKeyLength, signature: a.signatureLength };
    this.contextSupported = a.contextSupported;
    // mldsa-native replaced the pq-crystals code, whose AVX2 verify misses the z bound, in 0.16.
    this.checksMlDsaBounds = atLeast(native.liboqs.version, 16);
  }
}
