import { createSigEngine, type BackendChoice } from './backend.js';
import { isArray, requireByteArray, requireBytes, requireCount, requireOptions, SecretBytes } from './bytes.js';
import { CoalescedCalls, type CallShape } from './coalesced-calls.js';
import { keyPairAt, Op, type SigEngine } from './engine.js';
import { PqcError } from './errors.js';
import { publicBytes } from './public-bytes.js';
import { hasBoundedResponse, mlDsaParameters } from './ml-dsa-input-checks.js';
import { mapInSlices } from './slices.js';

export interface SigKeyPair {
  publicKey: Uint8Array;
  secretKey: SecretBytes;
}

export interface SignOptions {
  /** FIPS 204 context string, at most 255 bytes; empty by default. */
  context?: Uint8Array;
}

const NO_CONTEXT = new Uint8Array(0);
const MAX_CONTEXT = 255;

/**
 * A signature scheme: `new Sig('ML-DSA-65')`. `verify` answers false for a signature that does
 * not verify (including one of the wrong length) and throws for bad keys or inputs.
 */
export class Sig {
  readonly name: string;
  readonly backend: string;
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  /** The largest signature this scheme produces. */
  readonly signatureLength: number;
  /** Whether this scheme takes a context string on this backend (ML-DSA on native liboqs does; Falcon never does). */
  readonly contextSupported: boolean;
  readonly #engine: SigEngine;
  readonly #calls: CoalescedCalls;
  // What the …Async calls make of their share of a gathered run (lib/coalesced-calls.ts).
  readonly #keyPairCall: CallShape<SigKeyPair> = { result: keyPairAt };
  readonly #signCall: CallShape<Uint8Array> = { result: ({ outputs, values }, i) => trimmed(outputs[0]![i]!, values[i]!) };
  readonly #verifyCall: CallShape<boolean> = { result: ({ values }, i, inputs) => values[i] === 1 && this.#inBounds(inputs[1]!) };
  /** Set when verification must apply FIPS 204's bound on z before the backend does the rest. */
  readonly #boundCheck: ReturnType<typeof mlDsaParameters>;

  constructor(name: string, options: { backend?: BackendChoice } = {}) {
    if (typeof name !== 'string' || name === '') {
      throw new PqcError('ERR_PQC_INVALID_INPUT', 'the algorithm name must be a non-empty string');
    }
    this.#engine = createSigEngine(name, requireOptions(options).backend);
    this.#calls = new CoalescedCalls(this.#engine);
    this.name = name;
    this.backend = this.#engine.backend;
    this.publicKeyLength = this.#engine.lengths.publicKey;
    this.secretKeyLength = this.#engine.lengths.secretKey;
    this.signatureLength = this.#engine.lengths.signature;
    this.contextSupported = this.#engine.contextSupported;
    this.#boundCheck = this.#engine.checksMlDsaBounds ? undefined : mlDsaParameters(name);
  }

  ready(): Promise<void> {
    return this.#engine.ready();
  }

  generateKeyPair(): SigKeyPair {
    const publicKey = publicBytes(this.publicKeyLength);
    const secretKey = SecretBytes.alloc(this.secretKeyLength);
    this.#engine.run(Op.SigKeypair, publicKey, secretKey);
    return { publicKey, secretKey };
  }

  sign(message: Uint8Array, secretKey: Uint8Array, options: SignOptions = {}): Uint8Array {
    const signature = publicBytes(this.signatureLength);
    const length = this.#engine.run(
      Op.SigSign,
      requireBytes(message, 'message'),
      this.#secretKey(secretKey),
      this.#context(options),
      signature,
    );
    return length === signature.length ? signature : signature.slice(0, length);
  }

  verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array, options: SignOptions = {}): boolean {
    const msg = requireBytes(message, 'message');
    const sig = requireBytes(signature, 'signature');
    const pk = this.#publicKey(publicKey);
    const context = this.#context(options);
    return this.#inBounds(sig) && this.#engine.run(Op.SigVerify, msg, sig, pk, context) === 1;
  }

  // Not async functions, as Kem's …Async methods are not (lib/kem.ts).
  generateKeyPairAsync(): Promise<SigKeyPair> {
    try {
      return this.#calls.run(Op.SigKeypair, [], this.#keyPairCall);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  signAsync(message: Uint8Array, secretKey: Uint8Array, options?: SignOptions): Promise<Uint8Array> {
    try {
      return this.#calls.run(Op.SigSign, [requireBytes(message, 'message'), this.#secretKey(secretKey), this.#context(options)], this.#signCall);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  verifyAsync(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array, options?: SignOptions): Promise<boolean> {
    try {
      const msg = requireBytes(message, 'message');
      const sig = requireBytes(signature, 'signature');
      return this.#calls.run(Op.SigVerify, [msg, sig, this.#publicKey(publicKey), this.#context(options)], this.#verifyCall);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async generateKeyPairMany(count: number): Promise<SigKeyPair[]> {
    const n = requireCount(count);
    const result = await this.#engine.runAsync(Op.SigKeypair, n, []);
    return mapInSlices(n, (i) => keyPairAt(result, i));
  }

  /** Signs every message with one key, across the pool. */
  async signMany(messages: Uint8Array[], secretKey: Uint8Array, options: SignOptions = {}): Promise<Uint8Array[]> {
    const msgs = await requireByteArray(messages, 'messages');
    return this.#signatures(msgs, this.#secretKey(secretKey), this.#context(options));
  }

  /** Verifies `signatures[i]` over `messages[i]` with one public key or `publicKey[i]`. */
  async verifyMany(
    messages: Uint8Array[],
    signatures: Uint8Array[],
    publicKey: Uint8Array | Uint8Array[],
    options: SignOptions = {},
  ): Promise<boolean[]> {
    const msgs = await requireByteArray(messages, 'messages');
    const sigs = await requireByteArray(signatures, 'signatures');
    const pk = isArray(publicKey)
      ? await requireByteArray(publicKey, 'publicKey', this.publicKeyLength, `${this.name} public key`)
      : this.#publicKey(publicKey);
    if (sigs.length !== msgs.length || (Array.isArray(pk) && pk.length !== msgs.length)) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `messages, signatures and public keys must have the same count`);
    }
    return this.#verifications(msgs, sigs, pk, this.#context(options));
  }

  // The pooled runs of the …Many calls, on checked inputs; their results are made in slices.

  async #signatures(msgs: Uint8Array[], sk: Uint8Array, context: Uint8Array): Promise<Uint8Array[]> {
    const { outputs, values } = await this.#engine.runAsync(Op.SigSign, msgs.length, [msgs, sk, context]);
    return mapInSlices(msgs.length, (i) => trimmed(outputs[0]![i]!, values[i]!));
  }

  async #verifications(msgs: Uint8Array[], sigs: Uint8Array[], pk: Uint8Array | Uint8Array[], context: Uint8Array): Promise<boolean[]> {
    const { values } = await this.#engine.runAsync(Op.SigVerify, msgs.length, [msgs, sigs, pk, context]);
    return mapInSlices(msgs.length, (i) => values[i] === 1 && this.#inBounds(sigs[i]!));
  }

  #inBounds(signature: Uint8Array): boolean {
    return !this.#boundCheck || signature.length !== this.signatureLength || hasBoundedResponse(signature, this.#boundCheck);
  }

  #publicKey(value: unknown): Uint8Array {
    return requireBytes(value, 'publicKey', this.publicKeyLength, `${this.name} public key`);
  }

  #secretKey(value: unknown): Uint8Array {
    return requireBytes(value, 'secretKey', this.secretKeyLength, `${this.name} secret key`);
  }

  #context(options: SignOptions | undefined): Uint8Array {
    const given = requireOptions(options).context;
    if (given === undefined) return NO_CONTEXT;
    const context = requireBytes(given, 'context');
    if (context.length > MAX_CONTEXT) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `context must be at most ${MAX_CONTEXT} bytes, got ${context.length}`);
    }
    if (context.length > 0 && this.#engine.contextSupported === false) {
      throw new PqcError(
        'ERR_PQC_UNSUPPORTED_CAPABILITY',
        `${this.name} on the ${this.backend} backend does not take a context string`,
      );
    }
    return context;
  }
}

/** A signature of `length` bytes written into the scheme's longest. */
const trimmed = (signature: Uint8Array, length: number) => (length === signature.length ? signature : signature.slice(0, length));
