import { markAsUntransferable } from 'node:worker_threads';
import { byteLengthOf, SecretBytes } from '../bytes.js';
import { PqcError } from '../errors.js';
import { Op, type BatchInput, type BatchResult, type KemEngine, type SigEngine } from '../engine.js';
import { parallelThreads } from '../parallel-threads.js';
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
const workersFor = (count: number) => Math.min(count, parallelThreads);

/**
 * A batch goes to the pool as a pipeline of parts, one worker each: the pool works on the parts
 * queued while the calling thread hands out the outputs of a part that is back and copies the
 * inputs of the next. The calling thread does that for one part per turn of the event loop, so
 * the longest stall a batch causes is that of one part, whatever the batch's size, and only the
 * parts in flight hold copies of their inputs.
 *
 * Parts hold at most PART_LIMIT items (their calling-thread share is about a microsecond an item
 * on an idle core, more on a busy one) and at least MIN_PART (a trip through the pool costs tens
 * of microseconds); a batch of fewer than PIPELINE_DEPTH parts per thread is cut finer, so that
 * every thread has work queued behind the part it is on. A batch too small for two parts is one
 * call whose workers share out its items. At most IN_FLIGHT parts are queued at once.
 */
export const PART_LIMIT = 512;
/**
 * The calling thread copies a part's inputs and makes each secret output's ArrayBuffer when it
 * queues the part, and memory new to the process costs a page fault per 4 KiB (tens of
 * microseconds on some virtual machines): the bytes a part's items take there are bounded too.
 * That matters for key pairs (2.4–4.9 KB of secret key an item) and for verification (up to
 * 4.6 KB of signature an item), and keeps the copies of the parts in flight small enough for the
 * addon to reuse their memory (csrc/batch.cc, SpareCopies).
 */
export const PART_BYTES = 128 * 1024;
const PIPELINE_DEPTH = 4;
const MIN_PART = 16;
const IN_FLIGHT = parallelThreads * PIPELINE_DEPTH;

/**
 * Items per part of a batch of `count` whose items each take `itemBytes` of the calling thread's
 * new memory (input copies and secret outputs).
 */
export function partSize(count: number, itemBytes = 0): number {
  const workers = workersFor(count);
  const limit = Math.max(MIN_PART, Math.min(PART_LIMIT, Math.floor(PART_BYTES / Math.max(1, itemBytes))));
  if (count <= limit && (count < 2 * MIN_PART || workers === 1)) return count;
  return Math.min(limit, Math.max(MIN_PART, Math.ceil(count / (workers * PIPELINE_DEPTH))));
}

const KEY_PAIR_OPS: readonly Op[] = [Op.KemKeypair, Op.KemKeypairDerand, Op.SigKeypair];

type PartResult = Awaited<ReturnType<NativeAlgorithm['runAsync']>>;

abstract class NativeEngine {
  readonly backend = 'native';
  readonly parallelism = parallelThreads;
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

  /**
   * The calling thread's new memory per item: a copy of each per-item input (the first item's
   * size: only messages vary) and the secret key of a key pair. The other ops' one secret
   * output is a 32-byte shared secret, or none.
   */
  #itemBytes(op: Op, inputs: BatchInput[]): number {
    let bytes = KEY_PAIR_OPS.includes(op) ? this.algorithm.secretKeyLength : 0;
    for (const input of inputs) if (Array.isArray(input) && input.length > 0) bytes += byteLengthOf(input[0]!);
    return bytes;
  }

  runAsync(op: Op, count: number, inputs: BatchInput[]): Promise<BatchResult> {
    const size = partSize(count, this.#itemBytes(op, inputs));
    const parts = Math.ceil(count / size);
    const workers = parts === 1 ? workersFor(count) : 1;
    const outputs: Uint8Array[][] = [];
    const values = new Float64Array(count);
    return new Promise((resolve, reject) => {
      let queued = 0;
      let inFlight = 0;
      let handedOut = 0;
      let failure: unknown;
      let scheduled = false;
      // Parts back from the pool whose outputs are not handed out yet.
      const back: [begin: number, result: PartResult][] = [];

      const queue = () => {
        const begin = queued++ * size;
        const end = Math.min(count, begin + size);
        const slice = parts === 1 ? inputs : inputs.map((input) => (Array.isArray(input) ? input.slice(begin, end) : input));
        try {
          this.algorithm.runAsync(op, end - begin, workers, ...slice).then(
            (result) => arrived(() => back.push([begin, result])),
            (error: unknown) => arrived(() => (failure ??= error)),
          );
          inFlight++;
        } catch (error) {
          failure ??= error;
        }
      };
      const arrived = (record: () => void) => {
        inFlight--;
        record();
        // A batch of one part has nothing to interleave: it is handed out at once.
        if (parts === 1) turn();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(turn);
        }
      };
      const canQueue = () => failure === undefined && queued < parts && inFlight < IN_FLIGHT;
      // One part handed out and one queued per turn of the event loop.
      const turn = () => {
        scheduled = false;
        const part = back.shift();
        if (part && failure === undefined) {
          handOut(part[1], part[0], count, outputs);
          values.set(part[1][2], part[0]);
          handedOut++;
        } else if (part) {
          wipeOutputs(part[1]);
        }
        if (canQueue()) queue();
        if (back.length > 0 || canQueue()) {
          scheduled = true;
          setImmediate(turn);
        } else if (inFlight === 0 && failure !== undefined) {
          // The caller never sees these outputs: those of the parts that did finish are wiped.
          for (const items of outputs) for (const item of items) item?.fill(0);
          reject(PqcError.from(failure));
        } else if (handedOut === parts) {
          resolve({ outputs, values });
        }
      };

      // A part for each thread at once; the rest of the pipeline fills one part per turn from
      // the next turn on, so that the pool has parts queued behind its first ones.
      for (let part = 0; part < Math.min(parts, parallelThreads) && failure === undefined; part++) queue();
      if (inFlight === 0) turn();
      else if (canQueue()) {
        scheduled = true;
        setImmediate(turn);
      }
    });
  }
}

/**
 * Hands out a part's items from `begin` on: public ones as views of the part's buffer
 * (untransferable, as the sync outputs' slabs are), secret ones as SecretBytes over the
 * ArrayBuffer of their own that the addon wrote each into.
 */
function handOut([first, second, partValues]: PartResult, begin: number, count: number, outputs: Uint8Array[][]): void {
  const items = partValues.length;
  [first, second].forEach((part, k) => {
    if (part === undefined) return;
    const into = (outputs[k] ??= new Array<Uint8Array>(count));
    if (Array.isArray(part)) {
      for (let i = 0; i < items; i++) into[begin + i] = new SecretBytes(part[i]!);
      return;
    }
    const length = part.byteLength / items;
    if (items > 1) markAsUntransferable(part.buffer);
    for (let i = 0; i < items; i++) into[begin + i] = part.subarray(i * length, (i + 1) * length);
  });
}

/** Wipes the outputs of a part that will not be handed out. */
function wipeOutputs([first, second]: PartResult): void {
  for (const items of [first, second]) {
    if (Array.isArray(items)) for (const item of items) new Uint8Array(item).fill(0);
    else items?.fill(0);
  }
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
