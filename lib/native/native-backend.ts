import { availableParallelism } from 'node:os';
import { markAsUntransferable } from 'node:worker_threads';
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
  const already = addon.status();
  if (already) return (loaded = { addon, liboqs: already });

  const attempts: string[] = [];
  let tooOld: string | undefined;
  for (const candidate of liboqsCandidates({ env, platform: process.platform })) {
    try {
      return (loaded = { addon, liboqs: addon.load(candidate) });
    } catch (error) {
      const { code, message } = error as PqcError;
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
const poolSize = Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4);
const workersFor = (count: number) => Math.min(count, poolSize, availableParallelism());

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
    try {
      const [first, second, values] = await this.algorithm.runAsync(op, count, workersFor(count), ...inputs);
      const outputs = [first, second].filter((output) => output !== undefined);
      // The addon gives the public outputs of a batch one ArrayBuffer (csrc/batch.cc).
      for (const items of outputs) if (count > 1 && items[0]!.buffer === items[1]!.buffer) markAsUntransferable(items[0]!.buffer);
      return { outputs, values };
    } catch (error) {
      throw PqcError.from(error);
    }
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
