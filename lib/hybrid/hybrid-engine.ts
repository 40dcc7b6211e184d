import { ownedBytes, wipeSecret } from '../bytes.js';
import { batchItem, kemOutputLengths, Op, type BatchInput, type BatchResult, type KemEngine, type KemLengths } from '../engine.js';
import { PqcError } from '../errors.js';
import { isReducedEncapsulationKey, mlKemRank } from '../ml-kem-input-checks.js';
import type { ExpandedKey, ExpandedKeyCache } from './expanded-keys.js';
import { x25519For, type X25519 } from '../x25519/index.js';
import { answerInline, answerPooled, drive, type Steps } from './pq-steps.js';

const INPUT_COUNT: Partial<Record<Op, number>> = {
  [Op.KemKeypair]: 0,
  [Op.KemKeypairDerand]: 1,
  [Op.KemEncaps]: 1,
  [Op.KemEncapsDerand]: 2,
  [Op.KemDecaps]: 2,
};

export function wipe(buffers: Uint8Array[]): void {
  for (const buffer of buffers) buffer.fill(0);
}

// As secrets: a secret key among them may have an expanded key remembered.
function wipeOutputs(outputs: Uint8Array[][]): void {
  for (const items of outputs) for (const item of items) wipeSecret(item);
}

/**
 * ML-KEM + X25519 hybrids, whose wire formats all put the ML-KEM part first: public key
 * pk_M ‖ pk_X, ciphertext ct_M ‖ ct_X, encapsulation seed m ‖ ek_X. Subclasses define the secret
 * key format, its expansion and the combiner. The ML-KEM part runs on the given ML-KEM engine
 * (any backend); X25519 runs on the addon's OpenSSL with the native backend, else on
 * node:crypto (see lib/x25519/); hashing runs on node:crypto.
 */
export abstract class HybridKemEngine implements KemEngine {
  readonly backend: string;
  /** FIPS 203's key checks of the ML-KEM part are made here, or by the ML-KEM engine. */
  // Stryker disable next-line BooleanLiteral: Kem applies FIPS 203's key checks by ML-KEM rank, and a hybrid's name has none
  readonly checksMlKemKeys = true;
  abstract readonly lengths: KemLengths;
  abstract readonly seedUnsupportedReason: { keypair: string; encaps: string };
  /** ML-KEM's k when the ML-KEM engine does not check encapsulation keys itself, else 0. */
  readonly #checkRank: number;
  protected readonly x25519: X25519;

  constructor(
    readonly name: string,
    protected readonly pq: KemEngine,
    protected readonly expandedKeys: ExpandedKeyCache,
  ) {
    this.backend = pq.backend;
    this.#checkRank = pq.checksMlKemKeys ? 0 : mlKemRank(pq.name);
    this.x25519 = x25519For(pq.backend);
  }

  isReady(): boolean {
    return this.pq.isReady();
  }

  ready(): Promise<void> {
    return this.pq.ready();
  }

  // A failed operation leaves nothing in its outputs: the items done before the one that failed
  // (a batch's, which the caller never sees) and a secret key written before its ML-KEM call.

  run(op: Op, ...operands: Uint8Array[]): number {
    const inputCount = this.#inputCount(op);
    const outputs = operands.slice(inputCount).map((operand) => [operand]);
    try {
      // The steps read only the operation's inputs, which are the first operands.
      drive(this.#steps(op, 1, operands, outputs), (call) => answerInline(this.pq, call));
    } catch (error) {
      wipeOutputs(outputs);
      throw error;
    }
    return 0;
  }

  async runAsync(op: Op, count: number, inputs: BatchInput[]): Promise<BatchResult> {
    this.#inputCount(op);
    const outputs = kemOutputLengths(this.lengths, op).map((length) =>
      Array.from({ length: count }, () => ownedBytes(length)),
    );
    try {
      await drive(this.#steps(op, count, inputs, outputs), (call) => answerPooled(this.pq, call));
    } catch (error) {
      wipeOutputs(outputs);
      throw error;
    }
    return { outputs, values: new Float64Array(count) };
  }

  /** Fills `publicKeys` and `secretKeys`, from `seeds` when given, and remembers each expanded key. */
  protected abstract generateKeyPairs(
    seeds: Uint8Array[] | undefined,
    publicKeys: Uint8Array[],
    secretKeys: Uint8Array[],
  ): Steps<void>;

  /** What decapsulation needs from each secret key (called for keys not remembered). */
  protected abstract expandKeys(secretKeys: Uint8Array[]): Steps<ExpandedKey[]>;

  /** The hybrid shared secret from the parts, into `out`. */
  protected abstract combine(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array, out: Uint8Array): void;

  #inputCount(op: Op): number {
    const count = INPUT_COUNT[op];
    if (count === undefined) {
      throw new PqcError('ERR_PQC_UNSUPPORTED_CAPABILITY', `${this.name}: operation ${op} is not a KEM operation`);
    }
    return count;
  }

  #steps(op: Op, count: number, inputs: BatchInput[], outputs: Uint8Array[][]): Steps<void> {
    const items = (input: BatchInput) => Array.from({ length: count }, (_, i) => batchItem(input, i));
    const [first, second] = outputs as [Uint8Array[], Uint8Array[]];
    switch (op) {
      case Op.KemKeypair:
        return this.generateKeyPairs(undefined, first, second);
      case Op.KemKeypairDerand:
        return this.generateKeyPairs(items(inputs[0]!), first, second);
      case Op.KemEncaps:
        return this.#encapsulate(items(inputs[0]!), undefined, first, second);
      case Op.KemEncapsDerand:
        return this.#encapsulate(items(inputs[0]!), items(inputs[1]!), first, second);
      default:
        return this.#decapsulate(items(inputs[0]!), items(inputs[1]!), first);
    }
  }

  *#encapsulate(
    publicKeys: Uint8Array[],
    seeds: Uint8Array[] | undefined,
    ciphertexts: Uint8Array[],
    sharedSecrets: Uint8Array[],
  ): Steps<void> {
    const { publicKey: pkLength, ciphertext: ctLength, encapsSeed: mLength } = this.pq.lengths;
    const pqKeys = publicKeys.map((pk) => pk.subarray(0, pkLength));
    if (this.#checkRank && !pqKeys.every((pk) => isReducedEncapsulationKey(pk, this.#checkRank))) {
      throw this.#badPqPublicKey();
    }
    let pqOutputs: Uint8Array[][];
    try {
      pqOutputs = yield seeds
        ? { op: Op.KemEncapsDerand, count: seeds.length, inputs: [pqKeys, seeds.map((seed) => seed.subarray(0, mLength))] }
        : { op: Op.KemEncaps, count: pqKeys.length, inputs: [pqKeys] };
    } catch (error) {
      // ML-KEM encapsulation fails only on a key that fails FIPS 203's modulus check.
      throw (error as PqcError).code === 'ERR_PQC_OPERATION_FAILED' ? this.#badPqPublicKey() : error;
    }
    const [pqCiphertexts, ssMs] = pqOutputs as [Uint8Array[], Uint8Array[]];
    try {
      publicKeys.forEach((pk, i) => {
        const ephemeral = seeds ? this.x25519.fromScalar(seeds[i]!.subarray(mLength)) : this.x25519.generate();
        const ctX = ephemeral.publicKey();
        const pkX = pk.subarray(pkLength);
        const ssX = ephemeral.sharedSecret(pkX);
        try {
          this.combine(ssMs[i]!, ssX, ctX, pkX, sharedSecrets[i]!);
        } finally {
          ssX.fill(0);
          ephemeral.wipe();
        }
        ciphertexts[i]!.set(pqCiphertexts[i]!);
        ciphertexts[i]!.set(ctX, ctLength);
      });
    } finally {
      wipe(ssMs);
    }
  }

  *#decapsulate(ciphertexts: Uint8Array[], secretKeys: Uint8Array[], sharedSecrets: Uint8Array[]): Steps<void> {
    const keys = yield* this.#expandedKeys(secretKeys);
    const ctLength = this.pq.lengths.ciphertext;
    const [ssMs] = (yield {
      op: Op.KemDecaps,
      count: ciphertexts.length,
      inputs: [ciphertexts.map((ct) => ct.subarray(0, ctLength)), keys.map((key) => key.pqSecretKey)],
    }) as [Uint8Array[]];
    try {
      ciphertexts.forEach((ct, i) => {
        const ctX = ct.subarray(ctLength);
        const ssX = keys[i]!.x25519.sharedSecret(ctX);
        try {
          this.combine(ssMs[i]!, ssX, ctX, keys[i]!.x25519.publicKey(), sharedSecrets[i]!);
        } finally {
          ssX.fill(0);
        }
      });
    } finally {
      wipe(ssMs);
    }
  }

  /** Each key's expansion: remembered, or computed once per distinct key object and remembered. */
  *#expandedKeys(secretKeys: Uint8Array[]): Steps<ExpandedKey[]> {
    const keys = secretKeys.map((sk) => this.expandedKeys.get(sk));
    const missing = [...new Set(secretKeys.filter((_, i) => keys[i] === undefined))];
    if (missing.length === 0) return keys as ExpandedKey[];
    const expanded = yield* this.expandKeys(missing);
    const bySecretKey = new Map(missing.map((sk, j) => [sk, expanded[j]!]));
    bySecretKey.forEach((key, sk) => this.expandedKeys.set(sk, key));
    return secretKeys.map((sk, i) => keys[i] ?? bySecretKey.get(sk)!);
  }

  #badPqPublicKey(): PqcError {
    return new PqcError(
      'ERR_PQC_INVALID_INPUT',
      `publicKey is not a valid ${this.name} key: its ${this.pq.name} part fails the FIPS 203 modulus check (7.2)`,
    );
  }
}
