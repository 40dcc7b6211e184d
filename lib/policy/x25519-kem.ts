import { hkdfSync, randomBytes } from 'node:crypto';
import { describe, SecretBytes } from '../bytes.js';
import { kemOutputLengths, Op, type BatchInput, type BatchResult, type KemEngine } from '../engine.js';
import { PqcError } from '../errors.js';
import { runSerialBatch } from '../serial-batch.js';
import { X25519_LENGTH, X25519Key } from '../x25519/index.js';
import { readFlag } from './environment.js';
import { PQCFallbackHandler } from './fallback-handler.js';
import { processPolicy } from './process-policy.js';

/**
 * The classical-only KEM for fallback mode: `new Kem('X25519')`, served by node:crypto. It is
 * DHKEM(X25519, HKDF-SHA256) of RFC 9180 (section 4.1), so its outputs can be checked against
 * the RFC's test vectors and interoperate with HPKE libraries:
 *
 *   keys: raw 32-byte X25519 keys (the secret key is the scalar, clamped at use);
 *   ciphertext: the 32-byte ephemeral public key;
 *   shared secret: HKDF over the DH output and both public keys, never the raw DH output,
 *   which is not uniformly random and binds neither key;
 *   seeds: DeriveKeyPair's 32-byte ikm, for the key pair and for the ephemeral key pair.
 *
 * A peer key of small order (all-zero DH output) is rejected, as RFC 9180 requires. In
 * production mode every operation refuses unless PQC fallback mode is enabled.
 */
export const X25519_KEM_NAME = 'X25519';

const SIZE = X25519_LENGTH;
const SUITE_ID = Buffer.from([0x4b, 0x45, 0x4d, 0x00, 0x20]); // "KEM" ‖ I2OSP(0x0020, 2)
const HPKE_V1 = Buffer.from('HPKE-v1');

/** out = LabeledExpand(LabeledExtract("", extractLabel, ikm), expandLabel, info, 32). */
function labeledDerive(extractLabel: string, ikm: Uint8Array, expandLabel: string, info: Uint8Array, out: Uint8Array): void {
  const labeledIkm = Buffer.concat([HPKE_V1, SUITE_ID, Buffer.from(extractLabel), ikm]);
  const labeledInfo = Buffer.concat([Buffer.from([0, SIZE]), HPKE_V1, SUITE_ID, Buffer.from(expandLabel), info]);
  try {
    const derived = new Uint8Array(hkdfSync('sha256', labeledIkm, Buffer.alloc(0), labeledInfo, SIZE));
    out.set(derived);
    derived.fill(0);
  } finally {
    labeledIkm.fill(0);
  }
}

/** DH(sk, peer), refusing the all-zero result of a small-order peer key as RFC 9180 requires. */
function dh(key: X25519Key, peer: Uint8Array): Uint8Array {
  const shared = key.sharedSecret(peer);
  // No early exit: the time taken must not depend on where a secret byte is non-zero.
  if (shared.reduce((acc, byte) => acc | byte, 0) === 0) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', 'X25519: the peer public key is a small-order point (the shared secret would be all zero)');
  }
  return shared;
}

/** X25519 on raw keys, with the small-order refusal. */
export function x25519(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  const key = X25519Key.fromScalar(secretKey);
  try {
    return dh(key, peerPublicKey);
  } finally {
    key.wipe();
  }
}

/** RFC 9180 DeriveKeyPair: the key pair from 32 bytes of input keying material; the caller wipes the key. */
function deriveKeyPair(ikm: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): X25519Key {
  labeledDerive('dkp_prk', ikm, 'sk', new Uint8Array(0), secretKey);
  const key = X25519Key.fromScalar(secretKey);
  publicKey.set(key.publicKey());
  return key;
}

function extractAndExpand(shared: Uint8Array, enc: Uint8Array, recipientPublicKey: Uint8Array, sharedSecret: Uint8Array): void {
  try {
    labeledDerive('eae_prk', shared, 'shared_secret', Buffer.concat([enc, recipientPublicKey]), sharedSecret);
  } finally {
    shared.fill(0);
  }
}

function encapsulate(recipient: Uint8Array, ikm: Uint8Array, ciphertext: Uint8Array, sharedSecret: Uint8Array): void {
  const ephemeral = SecretBytes.alloc(SIZE);
  // The caller's ciphertext is written only once the exchange has succeeded: a refused peer key
  // leaves the outputs as they were.
  const enc = new Uint8Array(SIZE);
  try {
    const key = deriveKeyPair(ikm, enc, ephemeral);
    try {
      const shared = dh(key, recipient);
      ciphertext.set(enc);
      extractAndExpand(shared, ciphertext, recipient, sharedSecret);
    } finally {
      key.wipe();
    }
  } finally {
    ephemeral.wipe();
  }
}

function decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array, sharedSecret: Uint8Array): void {
  const key = X25519Key.fromScalar(secretKey);
  try {
    extractAndExpand(dh(key, ciphertext), ciphertext, key.publicKey(), sharedSecret);
  } finally {
    key.wipe();
  }
}

function withFreshIkm(use: (ikm: Buffer) => void): number {
  const ikm = randomBytes(SIZE);
  try {
    use(ikm);
  } finally {
    ikm.fill(0);
  }
  return 0;
}

export class X25519KemEngine implements KemEngine {
  readonly backend = 'node:crypto';
  readonly name = X25519_KEM_NAME;
  readonly lengths = { publicKey: SIZE, secretKey: SIZE, ciphertext: SIZE, sharedSecret: SIZE, keypairSeed: SIZE, encapsSeed: SIZE };
  // Stryker disable next-line ObjectLiteral,StringLiteral: Kem reads a reason only for a seed length of 0, and both seeds here are 32 bytes
  readonly seedUnsupportedReason = { keypair: '', encaps: '' };
  // Stryker disable next-line BooleanLiteral: Kem applies FIPS 203's key checks by ML-KEM rank, and this name has none
  readonly checksMlKemKeys = false;
  readonly #fallback: PQCFallbackHandler | undefined;

  /** `fallback`: the handler whose mode permits use in production; default the one start-up created. */
  constructor(fallback?: PQCFallbackHandler) {
    if (fallback !== undefined && !(fallback instanceof PQCFallbackHandler)) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `fallback must be a PQCFallbackHandler, got ${describe(fallback)}`);
    }
    this.#fallback = fallback;
  }

  isReady(): boolean {
    return true;
  }

  async ready(): Promise<void> {}

  run(op: Op, ...operands: Uint8Array[]): number {
    this.#requireFallbackInProduction();
    switch (op) {
      case Op.KemKeypair:
        return withFreshIkm((ikm) => deriveKeyPair(ikm, operands[0]!, operands[1]!).wipe());
      case Op.KemKeypairDerand:
        deriveKeyPair(operands[0]!, operands[1]!, operands[2]!).wipe();
        return 0;
      case Op.KemEncaps:
        return withFreshIkm((ikm) => encapsulate(operands[0]!, ikm, operands[1]!, operands[2]!));
      case Op.KemEncapsDerand:
        encapsulate(operands[0]!, operands[1]!, operands[2]!, operands[3]!);
        return 0;
      case Op.KemDecaps:
        decapsulate(operands[0]!, operands[1]!, operands[2]!);
        return 0;
    }
    throw new PqcError('ERR_PQC_UNSUPPORTED_CAPABILITY', `${X25519_KEM_NAME}: operation ${op} is not a KEM operation`);
  }

  /** node:crypto's X25519 is synchronous: a batch runs item by item on the calling thread. */
  async runAsync(op: Op, count: number, inputs: BatchInput[]): Promise<BatchResult> {
    return runSerialBatch(this, op, count, inputs, kemOutputLengths(this.lengths, op));
  }

  #requireFallbackInProduction(): void {
    if (!readFlag('production')) return;
    const fallback = this.#fallback ?? processPolicy.fallback;
    if (fallback?.isEnabled()) return;
    throw new PqcError(
      'ERR_PQC_CLASSICAL_REQUIRES_FALLBACK',
      `${X25519_KEM_NAME} alone is not quantum-safe: in production mode (X0TTA6BL4_PRODUCTION=true) it works only while ` +
        'PQC fallback mode is enabled (X0TTA6BL4_DISABLE_PQC=true at start-up, or a fallback handler with ' +
        'onPqcFailure "fallback" after a PQC failure). Use ML-KEM or a hybrid KEM.',
    );
  }
}
