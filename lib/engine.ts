import { SecretBytes } from './bytes.js';

/**
 * The contract every backend implements for one algorithm: operations numbered as in the
 * addon (csrc/algorithm.h), each taking its inputs then its outputs, so that Kem and Sig
 * drive the native, WebAssembly and test backends through one code path.
 */
export const Op = {
  KemKeypair: 0,
  KemKeypairDerand: 1,
  KemEncaps: 2,
  KemEncapsDerand: 3,
  KemDecaps: 4,
  SigKeypair: 5,
  SigSign: 6,
  SigVerify: 7,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

export type BackendName = 'native' | 'wasm';

export interface KemLengths {
  publicKey: number;
  secretKey: number;
  ciphertext: number;
  sharedSecret: number;
  /** 0 when key generation from a seed is not available. */
  keypairSeed: number;
  /** 0 when encapsulation from a seed is not available. */
  encapsSeed: number;
}

export interface SigLengths {
  publicKey: number;
  secretKey: number;
  /** The maximum; schemes with variable-length signatures may produce fewer bytes. */
  signature: number;
}

/**
 * Outputs of a pooled run: `outputs[k][i]` is output k of item i, `values[i]` the item's value
 * (signature length for sign, 1/0 for verify).
 */
export interface BatchResult {
  outputs: Uint8Array[][];
  values: ArrayLike<number>;
}

/** An input to a pooled run: one value for every item, or one per item. */
export type BatchInput = Uint8Array | Uint8Array[];

/** Item `i` of a batch input: the shared value, or the item's own. */
export function batchItem(input: BatchInput, i: number): Uint8Array {
  return Array.isArray(input) ? input[i]! : input;
}

/** Item `i` of a key-pair run: its public key and, in memory of its own, its secret key. */
export function keyPairAt({ outputs }: BatchResult, i: number): { publicKey: Uint8Array; secretKey: SecretBytes } {
  return { publicKey: outputs[0]![i]!, secretKey: SecretBytes.view(outputs[1]![i]!) };
}

/** The outputs a KEM operation writes, in operand order. */
export function kemOutputLengths(lengths: KemLengths, op: Op): number[] {
  if (op === Op.KemKeypair || op === Op.KemKeypairDerand) return [lengths.publicKey, lengths.secretKey];
  if (op === Op.KemEncaps || op === Op.KemEncapsDerand) return [lengths.ciphertext, lengths.sharedSecret];
  return [lengths.sharedSecret];
}

export interface Engine {
  readonly backend: string;
  readonly name: string;
  /** True once sync calls may be made (the WebAssembly module may still be loading). */
  isReady(): boolean;
  ready(): Promise<void>;
  /** Runs `op` on the calling thread; returns the op's value. */
  run(op: Op, ...operands: Uint8Array[]): number;
  /** Runs `op` for `count` items off the calling thread where the backend can. */
  runAsync(op: Op, count: number, inputs: BatchInput[]): Promise<BatchResult>;
  /**
   * How many pooled runs the backend works on at once, when concurrent single `…Async` calls
   * are worth gathering into shared runs (lib/coalesced-calls.ts); unset, each call runs alone.
   */
  readonly parallelism?: number;
}

export interface KemEngine extends Engine {
  readonly lengths: KemLengths;
  /** Why a seed cannot be used, for the error message. */
  readonly seedUnsupportedReason: { keypair: string; encaps: string };
  /** Whether the backend itself applies FIPS 203's key checks (and fails the op on a bad key). */
  readonly checksMlKemKeys: boolean;
}

export interface SigEngine extends Engine {
  readonly lengths: SigLengths;
  /** Whether the scheme takes a context string other than the empty one on this backend. */
  readonly contextSupported: boolean;
  /** Whether the backend enforces FIPS 204's bound on z when verifying ML-DSA. */
  readonly checksMlDsaBounds: boolean;
}
