import { createHash, hash, randomFillSync } from 'node:crypto';
import { SecretBytes } from '../bytes.js';
import { Op, type KemEngine } from '../engine.js';
import { PqcError } from '../errors.js';
import { X25519_LENGTH } from '../x25519/index.js';
import { ExpandedKeyCache, type ExpandedKey } from './expanded-keys.js';
import { HybridKemEngine, wipe } from './hybrid-engine.js';
import type { Steps } from './pq-steps.js';

/**
 * X-Wing (draft-connolly-cfrg-xwing-kem; MLKEM768-X25519 of draft-irtf-cfrg-concrete-hybrid-kems,
 * the same construction): ML-KEM-768 and X25519 behind the C2PRI combiner
 *
 *   ss = SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ "\.//^\")
 *
 * The private key is a 32-byte seed, expanded with SHAKE256 into ML-KEM's d ‖ z and the X25519
 * scalar. Expansion needs ML-KEM key generation from a seed, so without it (WebAssembly backend,
 * liboqs < 0.13) only encapsulation is available. X25519 outputs are not checked for all-zero:
 * the draft uses RFC 7748's X25519 function without section 6.1's check, and the combiner keeps
 * ss_M's secrecy whatever ss_X is.
 */
const LABEL = Buffer.from('\\.//^\\', 'latin1');
const SEED_LENGTH = 32;
/** SHA3-256 */
const SHARED_SECRET_LENGTH = 32;

// Every X-Wing engine shares one cache, so that a key expanded by one Kem object serves the next.
const expandedKeys = new ExpandedKeyCache();

// ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ label, reused (and wiped) by every call: a fresh buffer of this
// size lives outside V8's heap and costs as much as the hash.
const combinerInput = new Uint8Array(32 /* ss_M */ + 3 * X25519_LENGTH + LABEL.length);

export class XWingEngine extends HybridKemEngine {
  readonly lengths;
  readonly seedUnsupportedReason;
  readonly #pqSeedLength: number;

  /** `pq` is the ML-KEM-768 engine. */
  constructor(name: string, pq: KemEngine) {
    super(name, pq, expandedKeys);
    const m = pq.lengths;
    this.#pqSeedLength = m.keypairSeed;
    this.lengths = {
      publicKey: m.publicKey + X25519_LENGTH,
      secretKey: SEED_LENGTH,
      ciphertext: m.ciphertext + X25519_LENGTH,
      sharedSecret: SHARED_SECRET_LENGTH,
      keypairSeed: m.keypairSeed === 0 ? 0 : SEED_LENGTH,
      encapsSeed: m.encapsSeed === 0 ? 0 : m.encapsSeed + X25519_LENGTH,
    };
    this.seedUnsupportedReason = {
      keypair: `its keys are expanded from 32-byte seeds by ML-KEM key generation from a seed: ${pq.seedUnsupportedReason.keypair}`,
      encaps: pq.seedUnsupportedReason.encaps,
    };
  }

  protected *generateKeyPairs(seeds: Uint8Array[] | undefined, publicKeys: Uint8Array[], secretKeys: Uint8Array[]): Steps<void> {
    secretKeys.forEach((sk, i) => (seeds ? sk.set(seeds[i]!) : randomFillSync(sk)));
    const derived = yield* this.#derive(secretKeys);
    derived.forEach(({ key, pqPublicKey }, i) => {
      publicKeys[i]!.set(pqPublicKey);
      publicKeys[i]!.set(key.x25519.publicKey(), pqPublicKey.length);
      this.expandedKeys.set(secretKeys[i]!, key);
    });
  }

  protected *expandKeys(secretKeys: Uint8Array[]): Steps<ExpandedKey[]> {
    return (yield* this.#derive(secretKeys)).map(({ key }) => key);
  }

  /** expandDecapsulationKey of the draft, for each seed. */
  *#derive(seeds: Uint8Array[]): Steps<{ key: ExpandedKey; pqPublicKey: Uint8Array }[]> {
    if (this.#pqSeedLength === 0) {
      throw new PqcError('ERR_PQC_UNSUPPORTED_CAPABILITY', `${this.name}: ${this.seedUnsupportedReason.keypair}`);
    }
    const expanded = seeds.map((seed) =>
      createHash('shake256', { outputLength: this.#pqSeedLength + X25519_LENGTH }).update(seed).digest(),
    );
    try {
      const [pqPublicKeys, pqSecretKeys] = (yield {
        op: Op.KemKeypairDerand,
        count: seeds.length,
        inputs: [expanded.map((bytes) => bytes.subarray(0, this.#pqSeedLength))],
      }) as [Uint8Array[], Uint8Array[]];
      return seeds.map((seed, i) => ({
        key: {
          secretKey: SecretBytes.copyOf(seed),
          pqSecretKey: pqSecretKeys[i]!,
          x25519: this.x25519.fromScalar(expanded[i]!.subarray(this.#pqSeedLength)),
        },
        pqPublicKey: pqPublicKeys[i]!,
      }));
    } finally {
      wipe(expanded);
    }
  }

  protected combine(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array, out: Uint8Array): void {
    let offset = 0;
    for (const part of [ssM, ssX, ctX, pkX, LABEL]) {
      combinerInput.set(part, offset);
      offset += part.length;
    }
    const ss = hash('sha3-256', combinerInput, 'buffer');
    out.set(ss);
    wipe([combinerInput, ss]);
  }
}
