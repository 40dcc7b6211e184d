import { randomFillSync } from 'node:crypto';
import { SecretBytes } from '../bytes.js';
import { Op, type KemEngine } from '../engine.js';
import { PqcError } from '../errors.js';
import { hasConsistentDecapsulationKey, mlKemRank } from '../ml-kem-input-checks.js';
import { X25519_LENGTH } from '../x25519/index.js';
import { ExpandedKeyCache, type ExpandedKey } from './expanded-keys.js';
import { HybridKemEngine, wipe } from './hybrid-engine.js';
import type { Steps } from './pq-steps.js';

/**
 * X25519MLKEM768, the TLS 1.3 hybrid group of draft-ietf-tls-ecdhe-mlkem: the ML-KEM-768 part
 * first, then X25519, in the client share (public key), the server share (ciphertext) and the
 * shared secret ss_M ‖ ss_X, which TLS feeds to its key schedule; there is no combiner.
 *
 * The draft requires aborting when the X25519 shared secret is all zero (RFC 8446 section
 * 7.4.2), so a small-order X25519 share in a public key or ciphertext is ERR_PQC_INVALID_INPUT.
 *
 * TLS never stores these keys, so the draft defines no secret key or seed encoding; this package
 * uses the same order: secret key dk_M (FIPS 203, 2400 bytes) ‖ X25519 scalar, key generation
 * seed d ‖ z ‖ X25519 scalar, encapsulation seed m ‖ X25519 ephemeral scalar.
 */
const expandedKeys = new ExpandedKeyCache();

export class X25519MlKem768Engine extends HybridKemEngine {
  readonly lengths;
  readonly seedUnsupportedReason;

  /** `pq` is the ML-KEM-768 engine. */
  constructor(name: string, pq: KemEngine) {
    super(name, pq, expandedKeys);
    const m = pq.lengths;
    this.lengths = {
      publicKey: m.publicKey + X25519_LENGTH,
      secretKey: m.secretKey + X25519_LENGTH,
      ciphertext: m.ciphertext + X25519_LENGTH,
      sharedSecret: m.sharedSecret + X25519_LENGTH,
      keypairSeed: m.keypairSeed === 0 ? 0 : m.keypairSeed + X25519_LENGTH,
      encapsSeed: m.encapsSeed === 0 ? 0 : m.encapsSeed + X25519_LENGTH,
    };
    this.seedUnsupportedReason = pq.seedUnsupportedReason;
  }

  protected *generateKeyPairs(seeds: Uint8Array[] | undefined, publicKeys: Uint8Array[], secretKeys: Uint8Array[]): Steps<void> {
    const { keypairSeed, publicKey: pkLength, secretKey: skLength } = this.pq.lengths;
    const [pqPublicKeys, pqSecretKeys] = (yield seeds
      ? { op: Op.KemKeypairDerand, count: seeds.length, inputs: [seeds.map((seed) => seed.subarray(0, keypairSeed))] }
      : { op: Op.KemKeypair, count: secretKeys.length, inputs: [] }) as [Uint8Array[], Uint8Array[]];
    try {
      secretKeys.forEach((sk, i) => {
        sk.set(pqSecretKeys[i]!);
        const scalar = sk.subarray(skLength);
        if (seeds) scalar.set(seeds[i]!.subarray(keypairSeed));
        else randomFillSync(scalar);
        const key = this.#expand(sk);
        publicKeys[i]!.set(pqPublicKeys[i]!);
        publicKeys[i]!.set(key.x25519.publicKey(), pkLength);
        this.expandedKeys.set(sk, key);
      });
    } finally {
      wipe(pqSecretKeys);
    }
  }

  // The parts are read off the key: no ML-KEM call to yield. Every key is checked before any is
  // copied, so that a bad key leaves no copies of the good ones behind.
  protected *expandKeys(secretKeys: Uint8Array[]): Steps<ExpandedKey[]> {
    const rank = mlKemRank(this.pq.name);
    if (!secretKeys.every((sk) => hasConsistentDecapsulationKey(sk.subarray(0, this.pq.lengths.secretKey), rank))) {
      throw new PqcError(
        'ERR_PQC_INVALID_INPUT',
        `secretKey is not a valid ${this.name} key: its ${this.pq.name} part fails the FIPS 203 hash check (7.3)`,
      );
    }
    return secretKeys.map((sk) => this.#expand(sk));
  }

  #expand(sk: Uint8Array): ExpandedKey {
    const secretKey = SecretBytes.copyOf(sk);
    return {
      secretKey,
      pqSecretKey: secretKey.subarray(0, this.pq.lengths.secretKey),
      x25519: this.x25519.fromScalar(secretKey.subarray(this.pq.lengths.secretKey)),
    };
  }

  protected combine(ssM: Uint8Array, ssX: Uint8Array, _ctX: Uint8Array, _pkX: Uint8Array, out: Uint8Array): void {
    if (ssX.reduce((any, byte) => any | byte, 0) === 0) {
      throw new PqcError(
        'ERR_PQC_INVALID_INPUT',
        `${this.name}: the X25519 shared secret is all zero, so the peer's X25519 share (in the public key or ` +
          'the ciphertext) is a small-order point; draft-ietf-tls-ecdhe-mlkem requires rejecting it',
      );
    }
    out.set(ssM);
    out.set(ssX, ssM.length);
  }
}
