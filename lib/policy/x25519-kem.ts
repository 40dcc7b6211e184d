import { createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { Op, type BatchInput, type BatchResult, type KemEngine } from '../engine.js';
import { PqcError } from '../errors.js';
import { readFlag } from './environment.js';
import type { PQCFallbackHandler } from './fallback-handler.js';
import { processPolicy } from './process-policy.js';
import { kemOutputLengths, runSerially } from './serial-batch.js';

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

const SIZE = 32;
const SUITE_ID = Buffer.from([0x4b, 0x45, 0x4d, 0x00, 0x20]); // "KEM" ‖ I2OSP(0x0020, 2)
const HPKE_V1 = Buffer.from('HPKE-v1');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** LabeledExpand(LabeledExtract("", extractLabel, ikm), expandLabel, info, 32). */
function labeledDerive(extractLabel: string, ikm: Uint8Array, expandLabel: string, info: Uint8Array): Buffer {
  const labeledIkm = Buffer.concat([HPKE_V1, SUITE_ID, Buffer.from(extractLabel), ikm]);
  const labeledInfo = Buffer.concat([Buffer.from([0, SIZE]), HPKE_V1, SUITE_ID, Buffer.from(expandLabel), info]);
  try {
    return Buffer.from(hkdfSync('sha256', labeledIkm, Buffer.alloc(0), labeledInfo, SIZE));
  } finally {
    labeledIkm.fill(0);
  }
}

function privateKey(secretKey: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_PREFIX, secretKey]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

function publicKeyOf(key: KeyObject): Buffer {
  return (createPublicKey(key).export({ format: 'der', type: 'spki' }) as Buffer).subarray(SPKI_PREFIX.length);
}

/**
 * The X25519 function on raw keys. Throws ERR_PQC_INVALID_INPUT when the result is all zero
 * (the peer sent a small-order point). OpenSSL already refuses that case; the check keeps the
 * guarantee whatever OpenSSL build node:crypto links.
 */
export function x25519(secretKey: Uint8Array, peerPublicKey: Uint8Array): Buffer {
  const lowOrder = () =>
    new PqcError('ERR_PQC_INVALID_INPUT', 'X25519: the peer public key is a small-order point (the shared secret would be all zero)');
  let shared: Buffer;
  try {
    shared = diffieHellman({
      privateKey: privateKey(secretKey),
      publicKey: createPublicKey({ key: Buffer.concat([SPKI_PREFIX, peerPublicKey]), format: 'der', type: 'spki' }),
    });
  } catch (cause) {
    if ((cause as { code?: string }).code === 'ERR_OSSL_FAILED_DURING_DERIVATION') throw lowOrder();
    throw new PqcError('ERR_PQC_OPERATION_FAILED', 'X25519: node:crypto refused the key', { cause });
  }
  if (shared.every((byte) => byte === 0)) throw lowOrder();
  return shared;
}

/** RFC 9180 DeriveKeyPair: the key pair from 32 bytes of input keying material. */
function deriveKeyPair(ikm: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): void {
  const sk = labeledDerive('dkp_prk', ikm, 'sk', new Uint8Array(0));
  secretKey.set(sk);
  publicKey.set(publicKeyOf(privateKey(sk)));
  sk.fill(0);
}

function extractAndExpand(dh: Buffer, enc: Uint8Array, recipientPublicKey: Uint8Array, sharedSecret: Uint8Array): void {
  sharedSecret.set(labeledDerive('eae_prk', dh, 'shared_secret', Buffer.concat([enc, recipientPublicKey])));
  dh.fill(0);
}

function encapsulate(recipient: Uint8Array, ikm: Uint8Array, ciphertext: Uint8Array, sharedSecret: Uint8Array): void {
  const ephemeral = new Uint8Array(SIZE);
  try {
    deriveKeyPair(ikm, ciphertext, ephemeral);
    extractAndExpand(x25519(ephemeral, recipient), ciphertext, recipient, sharedSecret);
  } finally {
    ephemeral.fill(0);
  }
}

function decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array, sharedSecret: Uint8Array): void {
  extractAndExpand(x25519(secretKey, ciphertext), ciphertext, publicKeyOf(privateKey(secretKey)), sharedSecret);
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
  readonly seedUnsupportedReason = { keypair: '', encaps: '' };
  readonly checksMlKemKeys = false;
  readonly #fallback: PQCFallbackHandler | undefined;

  /** `fallback`: the handler whose mode permits use in production; default the one start-up created. */
  constructor(fallback?: PQCFallbackHandler) {
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
        return withFreshIkm((ikm) => deriveKeyPair(ikm, operands[0]!, operands[1]!));
      case Op.KemKeypairDerand:
        deriveKeyPair(operands[0]!, operands[1]!, operands[2]!);
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

  runAsync(op: Op, count: number, inputs: BatchInput[]): Promise<BatchResult> {
    return runSerially((o, ...operands) => this.run(o, ...operands), op, count, inputs, kemOutputLengths(this.lengths, op));
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
