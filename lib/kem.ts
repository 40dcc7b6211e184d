import { createKemEngine, type BackendChoice } from './backend.js';
import { isArray, requireArray, requireByteArray, requireBytes, requireCount, requireDisjoint, requireOptions, requireOutputObject, SecretBytes } from './bytes.js';
import { CoalescedCalls, type CallShape } from './coalesced-calls.js';
import { keyPairAt, Op, type BatchResult, type KemEngine } from './engine.js';
import { PqcError } from './errors.js';
import { publicBytes } from './public-bytes.js';
import type { PQCFallbackHandler } from './policy/fallback-handler.js';
import type { MockKemFaults } from './policy/mock-kem.js';
import { hasConsistentDecapsulationKey, isReducedEncapsulationKey, mlKemRank } from './ml-kem-input-checks.js';
import { mapInSlices } from './slices.js';

export interface KemKeyPair {
  publicKey: Uint8Array;
  secretKey: SecretBytes;
}

export interface Encapsulation {
  ciphertext: Uint8Array;
  sharedSecret: SecretBytes;
}

export interface KemOptions {
  /** 'mock' serves only the insecure test KEM (lib/policy/mock-kem.ts) and is never chosen otherwise. */
  backend?: BackendChoice | 'mock';
  /** Faults for the mock KEM to inject. */
  faults?: MockKemFaults;
  /** For 'X25519': the handler whose fallback mode permits it in production (default: start-up's). */
  fallback?: PQCFallbackHandler;
}

/**
 * A key encapsulation mechanism: `new Kem('ML-KEM-768')`. Sync methods run on the calling
 * thread; `…Async` and `…Many` run on the libuv pool with the native backend, concurrent
 * `…Async` calls of one kind gathered into shared runs (lib/coalesced-calls.ts).
 */
export class Kem {
  readonly name: string;
  readonly backend: string;
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  readonly ciphertextLength: number;
  readonly sharedSecretLength: number;
  readonly #engine: KemEngine;
  readonly #calls: CoalescedCalls;
  // What the …Async calls make of their share of a gathered run (lib/coalesced-calls.ts).
  readonly #keyPairCall: CallShape<KemKeyPair> = { result: keyPairAt };
  readonly #encapsulationCall: CallShape<Encapsulation> = {
    result: encapsulationAt,
    error: (error) => this.#keyError(error, 'publicKey'),
  };
  readonly #decapsulationCall: CallShape<SecretBytes> = {
    result: decapsulationAt,
    error: (error) => this.#keyError(error, 'secretKey'),
  };
  /** ML-KEM's k, for key checks the backend does not make itself; 0 when not needed. */
  readonly #checkRank: number;
  readonly #mlKem: boolean;

  constructor(name: string, options: KemOptions = {}) {
    if (typeof name !== 'string' || name === '') {
      throw new PqcError('ERR_PQC_INVALID_INPUT', 'the algorithm name must be a non-empty string');
    }
    const given = requireOptions(options);
    this.#engine = createKemEngine(name, given.backend, given);
    this.#calls = new CoalescedCalls(this.#engine);
    this.name = name;
    this.backend = this.#engine.backend;
    const lengths = this.#engine.lengths;
    this.publicKeyLength = lengths.publicKey;
    this.secretKeyLength = lengths.secretKey;
    this.ciphertextLength = lengths.ciphertext;
    this.sharedSecretLength = lengths.sharedSecret;
    this.#mlKem = mlKemRank(name) > 0;
    this.#checkRank = this.#engine.checksMlKemKeys ? 0 : mlKemRank(name);
  }

  /** Resolves once sync calls may be made (at once on the native backend). */
  ready(): Promise<void> {
    return this.#engine.ready();
  }

  generateKeyPair(options: { seed?: Uint8Array } = {}): KemKeyPair {
    const pair = { publicKey: publicBytes(this.publicKeyLength), secretKey: SecretBytes.alloc(this.secretKeyLength) };
    this.#generateKeyPair(pair, options);
    return pair;
  }

  encapsulate(publicKey: Uint8Array, options: { seed?: Uint8Array } = {}): Encapsulation {
    const pk = this.#publicKey(publicKey);
    const result = { ciphertext: publicBytes(this.ciphertextLength), sharedSecret: SecretBytes.alloc(this.sharedSecretLength) };
    this.#encapsulate(pk, result, options);
    return result;
  }

  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): SecretBytes {
    const sharedSecret = SecretBytes.alloc(this.sharedSecretLength);
    this.#decapsulate(this.#ciphertext(ciphertext), this.#secretKey(secretKey), sharedSecret);
    return sharedSecret;
  }

  /**
   * `generateKeyPair` writing into the caller's buffers (`out.publicKey`, `out.secretKey`, of
   * exactly the key lengths): no allocation, for callers that reuse their memory. What a
   * secret key is written into is the caller's to guard and wipe.
   */
  generateKeyPairInto(out: KemKeyPair | { publicKey: Uint8Array; secretKey: Uint8Array }, options: { seed?: Uint8Array } = {}): void {
    const given = requireOutputObject(out);
    const publicKey = requireBytes(given.publicKey, 'publicKey', this.publicKeyLength);
    const secretKey = requireBytes(given.secretKey, 'secretKey', this.secretKeyLength);
    requireDisjoint(secretKey, 'secretKey', publicKey, 'publicKey');
    this.#generateKeyPair({ publicKey, secretKey }, options);
  }

  /** `encapsulate` writing into `out.ciphertext` and `out.sharedSecret`, which must not overlap `publicKey`. */
  encapsulateInto(
    publicKey: Uint8Array,
    out: Encapsulation | { ciphertext: Uint8Array; sharedSecret: Uint8Array },
    options: { seed?: Uint8Array } = {},
  ): void {
    const pk = this.#publicKey(publicKey);
    const given = requireOutputObject(out);
    const ciphertext = requireBytes(given.ciphertext, 'ciphertext', this.ciphertextLength);
    const sharedSecret = requireBytes(given.sharedSecret, 'sharedSecret', this.sharedSecretLength);
    requireDisjoint(ciphertext, 'ciphertext', pk, 'publicKey');
    requireDisjoint(sharedSecret, 'sharedSecret', pk, 'publicKey');
    requireDisjoint(sharedSecret, 'sharedSecret', ciphertext, 'ciphertext');
    this.#encapsulate(pk, { ciphertext, sharedSecret }, options);
  }

  /** `decapsulate` writing the shared secret into `sharedSecret`, which must not overlap the inputs. */
  decapsulateInto(ciphertext: Uint8Array, secretKey: Uint8Array, sharedSecret: Uint8Array): void {
    const ct = this.#ciphertext(ciphertext);
    const sk = this.#secretKey(secretKey);
    const ss = requireBytes(sharedSecret, 'sharedSecret', this.sharedSecretLength);
    requireDisjoint(ss, 'sharedSecret', ct, 'ciphertext');
    requireDisjoint(ss, 'sharedSecret', sk, 'secretKey');
    this.#decapsulate(ct, sk, ss);
  }

  #generateKeyPair({ publicKey, secretKey }: { publicKey: Uint8Array; secretKey: Uint8Array }, options: { seed?: Uint8Array }): void {
    const { seed } = requireOptions(options);
    if (seed === undefined) {
      this.#engine.run(Op.KemKeypair, publicKey, secretKey);
    } else {
      const checked = this.#seed(seed, 'keypair');
      requireDisjoint(publicKey, 'publicKey', checked, 'seed');
      requireDisjoint(secretKey, 'secretKey', checked, 'seed');
      this.#engine.run(Op.KemKeypairDerand, checked, publicKey, secretKey);
    }
  }

  #encapsulate(pk: Uint8Array, { ciphertext, sharedSecret }: { ciphertext: Uint8Array; sharedSecret: Uint8Array }, options: { seed?: Uint8Array }): void {
    const given = requireOptions(options).seed;
    const seed = given === undefined ? undefined : this.#seed(given, 'encaps');
    if (seed) {
      requireDisjoint(ciphertext, 'ciphertext', seed, 'seed');
      requireDisjoint(sharedSecret, 'sharedSecret', seed, 'seed');
    }
    try {
      if (seed) this.#engine.run(Op.KemEncapsDerand, pk, seed, ciphertext, sharedSecret);
      else this.#engine.run(Op.KemEncaps, pk, ciphertext, sharedSecret);
    } catch (error) {
      throw this.#keyError(error, 'publicKey');
    }
  }

  #decapsulate(ct: Uint8Array, sk: Uint8Array, sharedSecret: Uint8Array): void {
    try {
      this.#engine.run(Op.KemDecaps, ct, sk, sharedSecret);
    } catch (error) {
      throw this.#keyError(error, 'secretKey');
    }
  }

  // The …Async methods are not async functions: each of a server's concurrent calls then costs
  // one promise, not two and a suspended frame. Their checks' errors reject, as an async
  // function's would.
  generateKeyPairAsync(options?: { seed?: Uint8Array }): Promise<KemKeyPair> {
    try {
      const { seed } = requireOptions(options);
      return seed === undefined
        ? this.#calls.run(Op.KemKeypair, [], this.#keyPairCall)
        : this.#calls.run(Op.KemKeypairDerand, [this.#seed(seed, 'keypair')], this.#keyPairCall);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  encapsulateAsync(publicKey: Uint8Array, options?: { seed?: Uint8Array }): Promise<Encapsulation> {
    try {
      const pk = this.#publicKey(publicKey);
      const given = requireOptions(options).seed;
      return given === undefined
        ? this.#calls.run(Op.KemEncaps, [pk], this.#encapsulationCall)
        : this.#calls.run(Op.KemEncapsDerand, [pk, this.#seed(given, 'encaps')], this.#encapsulationCall);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  decapsulateAsync(ciphertext: Uint8Array, secretKey: Uint8Array): Promise<SecretBytes> {
    try {
      return this.#calls.run(Op.KemDecaps, [this.#ciphertext(ciphertext), this.#secretKey(secretKey)], this.#decapsulationCall);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `count` key pairs generated across the pool (from `seeds`, one per pair, when given). */
  async generateKeyPairMany(count: number, options: { seeds?: Uint8Array[] } = {}): Promise<KemKeyPair[]> {
    const given = requireOptions(options).seeds;
    const n = requireCount(count);
    const seeds = given === undefined ? undefined : await this.#seeds(given, 'keypair');
    if (seeds && seeds.length !== n) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `seeds must hold one seed per key pair (${n}), got ${seeds.length}`);
    }
    return this.#generateKeyPairs(n, seeds);
  }

  /** One encapsulation per public key, across the pool. */
  async encapsulateMany(publicKeys: Uint8Array[], options: { seeds?: Uint8Array[] } = {}): Promise<Encapsulation[]> {
    const pks = await requireArray(publicKeys, 'publicKeys', (key, i) => this.#publicKey(key, 'publicKeys', i));
    const given = requireOptions(options).seeds;
    const seeds = given === undefined ? undefined : await this.#seeds(given, 'encaps');
    if (seeds && seeds.length !== pks.length) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `seeds must hold one seed per public key (${pks.length})`);
    }
    return this.#encapsulations(pks, seeds, 'publicKeys');
  }

  /** Decapsulates each ciphertext with one secret key, or with `secretKey[i]` when given an array. */
  async decapsulateMany(ciphertexts: Uint8Array[], secretKey: Uint8Array | Uint8Array[]): Promise<SecretBytes[]> {
    const cts = await requireByteArray(ciphertexts, 'ciphertexts', this.ciphertextLength, `${this.name} ciphertext`);
    const sk = isArray(secretKey)
      ? await requireArray(secretKey, 'secretKey', (key, i) => this.#secretKey(key, 'secretKey', i))
      : this.#secretKey(secretKey);
    if (Array.isArray(sk) && sk.length !== cts.length) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `secretKey must hold one key per ciphertext (${cts.length})`);
    }
    return this.#decapsulations(cts, sk);
  }

  // The pooled runs of the …Many calls, on checked inputs; their results are made in slices.

  async #generateKeyPairs(count: number, seeds: Uint8Array[] | undefined): Promise<KemKeyPair[]> {
    const result = seeds
      ? await this.#engine.runAsync(Op.KemKeypairDerand, count, [seeds])
      : await this.#engine.runAsync(Op.KemKeypair, count, []);
    return mapInSlices(count, (i) => keyPairAt(result, i));
  }

  async #encapsulations(pks: Uint8Array[], seeds: Uint8Array[] | undefined, name: string): Promise<Encapsulation[]> {
    const result = await (
      seeds
        ? this.#engine.runAsync(Op.KemEncapsDerand, pks.length, [pks, seeds])
        : this.#engine.runAsync(Op.KemEncaps, pks.length, [pks])
    ).catch((error: unknown) => {
      throw this.#keyError(error, name);
    });
    return mapInSlices(pks.length, (i) => encapsulationAt(result, i));
  }

  async #decapsulations(cts: Uint8Array[], sk: Uint8Array | Uint8Array[]): Promise<SecretBytes[]> {
    const result = await this.#engine.runAsync(Op.KemDecaps, cts.length, [cts, sk]).catch((error: unknown) => {
      throw this.#keyError(error, 'secretKey');
    });
    return mapInSlices(cts.length, (i) => decapsulationAt(result, i));
  }

  /** `index` names an item of a batch, as requireBytes does. */
  #publicKey(value: unknown, name = 'publicKey', index?: number): Uint8Array {
    const key = requireBytes(value, name, this.publicKeyLength, `${this.name} public key`, index);
    if (this.#checkRank && !isReducedEncapsulationKey(key, this.#checkRank)) throw this.#badKey(itemName(name, index));
    return key;
  }

  #secretKey(value: unknown, name = 'secretKey', index?: number): Uint8Array {
    const key = requireBytes(value, name, this.secretKeyLength, `${this.name} secret key`, index);
    if (this.#checkRank && !hasConsistentDecapsulationKey(key, this.#checkRank)) throw this.#badKey(itemName(name, index));
    return key;
  }

  #badKey(name: string): PqcError {
    const check = name.startsWith('public') ? 'modulus check (7.2)' : 'hash check (7.3)';
    return new PqcError('ERR_PQC_INVALID_INPUT', `${name} is not a valid ${this.name} key: it fails the FIPS 203 ${check}`);
  }

  /**
   * ML-KEM encapsulation and decapsulation fail only on keys that fail FIPS 203's checks, so a
   * failure reported by the backend is the caller's bad key.
   */
  #keyError(error: unknown, name: string): unknown {
    return this.#mlKem && (error as PqcError).code === 'ERR_PQC_OPERATION_FAILED' ? this.#badKey(name) : error;
  }

  #ciphertext(value: unknown): Uint8Array {
    return requireBytes(value, 'ciphertext', this.ciphertextLength, `${this.name} ciphertext`);
  }

  #seedLength(kind: 'keypair' | 'encaps'): number {
    const length = kind === 'keypair' ? this.#engine.lengths.keypairSeed : this.#engine.lengths.encapsSeed;
    if (length === 0) {
      throw new PqcError(
        'ERR_PQC_UNSUPPORTED_CAPABILITY',
        `${this.name}: ${kind === 'keypair' ? 'key generation' : 'encapsulation'} from a seed is not available: ` +
          this.#engine.seedUnsupportedReason[kind],
      );
    }
    return length;
  }

  #seed(value: unknown, kind: 'keypair' | 'encaps'): Uint8Array {
    return requireBytes(value, 'seed', this.#seedLength(kind), `${this.name} ${kind} seed`);
  }

  #seeds(value: unknown, kind: 'keypair' | 'encaps'): Promise<Uint8Array[]> {
    return requireByteArray(value, 'seeds', this.#seedLength(kind), `${this.name} ${kind} seed`);
  }
}

const itemName = (name: string, index: number | undefined) => (index === undefined ? name : `${name}[${index}]`);

/** Item `i` of an encapsulation run. */
function encapsulationAt({ outputs }: BatchResult, i: number): Encapsulation {
  return { ciphertext: outputs[0]![i]!, sharedSecret: SecretBytes.view(outputs[1]![i]!) };
}

/** Item `i` of a decapsulation run. */
function decapsulationAt({ outputs }: BatchResult, i: number): SecretBytes {
  return SecretBytes.view(outputs[0]![i]!);
}
