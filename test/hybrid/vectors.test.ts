import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Kem, PqcError, ready } from '../../lib/index.js';
import { itWith } from '../support/capability.js';
import { hex, readVectors, toHex } from '../support/environment.js';

/**
 * The published vectors: draft-connolly-cfrg-xwing-kem (spec/test-vectors.json) and the
 * MLKEM768-X25519 entries of draft-irtf-cfrg-concrete-hybrid-kems (test-vectors.json), which are
 * X-Wing. Key generation from the seed, encapsulation from the randomness, decapsulation: exact.
 * X25519MLKEM768, which has no vectors of its own, is checked against X-Wing's and against
 * Wycheproof's ML-KEM-768 and X25519 vectors.
 */

await ready();

interface Vector {
  seed: string;
  randomness: string;
  publicKey: string;
  ciphertext: string;
  sharedSecret: string;
}

const xwingDraft = readVectors<{ seed: string; eseed: string; pk: string; sk: string; ct: string; ss: string }[]>(
  'hybrid/xwing-draft-test-vectors.json',
).map((v, i) => {
  if (v.sk !== v.seed) throw new Error(`X-Wing vector ${i}: the private key should be the seed`);
  return { seed: v.seed, randomness: v.eseed, publicKey: v.pk, ciphertext: v.ct, sharedSecret: v.ss };
});

interface ConcreteVector {
  seed: string;
  randomness: string;
  encapsulation_key: string;
  decapsulation_key: string;
  ciphertext: string;
  shared_secret: string;
}
const concrete = readVectors<Record<string, ConcreteVector[]>>('hybrid/concrete-hybrid-kems-test-vectors.json')
  .mlkem768_x25519!.map((v, i) => {
    if (v.decapsulation_key !== v.seed) throw new Error(`MLKEM768-X25519 vector ${i}: the private key should be the seed`);
    return {
      seed: v.seed,
      randomness: v.randomness,
      publicKey: v.encapsulation_key,
      ciphertext: v.ciphertext,
      sharedSecret: v.shared_secret,
    };
  });

const SETS: [string, Vector[]][] = [
  ['draft-connolly-cfrg-xwing-kem', xwingDraft],
  ['draft-irtf-cfrg-concrete-hybrid-kems mlkem768_x25519', concrete],
];
const DERAND = ['kemKeypairDerand', 'kemEncapsDerand'] as const;

for (const name of ['X-Wing', 'MLKEM768-X25519']) {
  describe(`${name}: published vectors`, () => {
    const kem = new Kem(name);
    for (const [source, vectors] of SETS) {
      vectors.forEach((v, i) => {
        // Key generation and decapsulation need only key generation from a seed (liboqs 0.13+).
        itWith(['kemKeypairDerand'], `${source} #${i}: key pair and decapsulation (sync)`, () => {
          const { publicKey, secretKey } = kem.generateKeyPair({ seed: hex(v.seed) });
          expect(toHex(publicKey)).toBe(v.publicKey);
          expect(toHex(secretKey)).toBe(v.seed);
          // The key object from generateKeyPair (expansion remembered) and the bare seed bytes.
          expect(toHex(kem.decapsulate(hex(v.ciphertext), secretKey))).toBe(v.sharedSecret);
          expect(toHex(kem.decapsulate(hex(v.ciphertext), hex(v.seed)))).toBe(v.sharedSecret);
        });

        itWith(['kemEncapsDerand'], `${source} #${i}: encapsulation from the published randomness (sync)`, () => {
          const { ciphertext, sharedSecret } = kem.encapsulate(hex(v.publicKey), { seed: hex(v.randomness) });
          expect(toHex(ciphertext)).toBe(v.ciphertext);
          expect(toHex(sharedSecret)).toBe(v.sharedSecret);
        });
      });

      itWith(DERAND, `${source}: all vectors as batches on the pool`, async () => {
        const pairs = await kem.generateKeyPairMany(vectors.length, { seeds: vectors.map((v) => hex(v.seed)) });
        expect(pairs.map((pair) => toHex(pair.publicKey))).toEqual(vectors.map((v) => v.publicKey));
        const encapsulations = await kem.encapsulateMany(
          pairs.map((pair) => pair.publicKey),
          { seeds: vectors.map((v) => hex(v.randomness)) },
        );
        expect(encapsulations.map((e) => toHex(e.ciphertext))).toEqual(vectors.map((v) => v.ciphertext));
        expect(encapsulations.map((e) => toHex(e.sharedSecret))).toEqual(vectors.map((v) => v.sharedSecret));
        const fromSeeds = await kem.decapsulateMany(
          vectors.map((v) => hex(v.ciphertext)),
          vectors.map((v) => hex(v.seed)),
        );
        expect(fromSeeds.map(toHex)).toEqual(vectors.map((v) => v.sharedSecret));
        const fromPairs = await kem.decapsulateMany(
          vectors.map((v) => hex(v.ciphertext)),
          pairs.map((pair) => pair.secretKey),
        );
        expect(fromPairs.map(toHex)).toEqual(vectors.map((v) => v.sharedSecret));
      });
    }
  });
}

/**
 * X25519MLKEM768 has no published vectors, but it shares X-Wing's parts: X-Wing's seed expands
 * (SHAKE256, 96 bytes) to exactly the ML-KEM d ‖ z and X25519 scalar that X25519MLKEM768's seed
 * holds, and X-Wing's encapsulation randomness is X25519MLKEM768's m ‖ ephemeral scalar. So on
 * X-Wing's vectors X25519MLKEM768 must give X-Wing's public key and ciphertext, its secret key must
 * hold ML-KEM-768's dk for d ‖ z, and its shared secret ss_M ‖ ss_X must hash, with X-Wing's
 * combiner, to X-Wing's shared secret.
 */
describe('X25519MLKEM768 on X-Wing vectors (same parts, different key format and combiner)', () => {
  const kem = new Kem('X25519MLKEM768');
  const mlKem = new Kem('ML-KEM-768');
  const label = Buffer.from('5c2e2f2f5e5c', 'hex');
  xwingDraft.forEach((v, i) => {
    itWith(DERAND, `draft-connolly-cfrg-xwing-kem #${i}`, () => {
      const expanded = createHash('shake256', { outputLength: 96 }).update(hex(v.seed)).digest();
      const { publicKey, secretKey } = kem.generateKeyPair({ seed: expanded });
      expect(toHex(publicKey)).toBe(v.publicKey);
      expect(toHex(secretKey.subarray(0, 2400))).toBe(toHex(mlKem.generateKeyPair({ seed: expanded.subarray(0, 64) }).secretKey));
      expect(toHex(secretKey.subarray(2400))).toBe(toHex(expanded.subarray(64)));

      const { ciphertext, sharedSecret } = kem.encapsulate(publicKey, { seed: hex(v.randomness) });
      expect(toHex(ciphertext)).toBe(v.ciphertext);
      expect(sharedSecret).toHaveLength(64);
      const combined = createHash('sha3-256')
        .update(sharedSecret)
        .update(ciphertext.subarray(1088))
        .update(publicKey.subarray(1184))
        .update(label)
        .digest();
      expect(toHex(combined)).toBe(v.sharedSecret);
      expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));
      expect(toHex(kem.decapsulate(ciphertext, Uint8Array.from(secretKey)))).toBe(toHex(sharedSecret));
    });
  });
});

interface WycheproofFile<T> {
  testGroups: { source: { name: string }; tests: T[] }[];
}
interface DecapsVector {
  tcId: number;
  comment: string;
  flags: string[];
  dk: string;
  c: string;
  K: string;
  result: 'valid' | 'invalid';
}
interface XdhVector {
  tcId: number;
  comment: string;
  public: string;
  private: string;
  shared: string;
}

/**
 * The check above needs seeded key generation; this one runs on every backend. An X25519MLKEM768
 * secret key is dk_M ‖ X25519 scalar and its ciphertext ct_M ‖ X25519 share, so Wycheproof's
 * expanded ML-KEM-768 decapsulation keys and ciphertexts (mlkem_768_semi_expanded_decaps_test.json)
 * joined with its X25519 scalars and peer shares (x25519_test.json) decapsulate to K ‖ shared,
 * ML-KEM's half first. All-zero X25519 outputs are left to test/hybrid/x25519.test.ts.
 */
describe('X25519MLKEM768 on Wycheproof ML-KEM-768 expanded keys joined with Wycheproof X25519 vectors', () => {
  const kem = new Kem('X25519MLKEM768');
  const mlKem = readVectors<WycheproofFile<DecapsVector>>('wycheproof/mlkem_768_semi_expanded_decaps_test.json')
    .testGroups.flatMap((group) => group.tests.map((t) => ({ ...t, source: group.source.name })));
  const validMlKem = mlKem.filter((m) => m.result === 'valid');
  const x25519 = readVectors<WycheproofFile<XdhVector>>('wycheproof/x25519_test.json')
    .testGroups.flatMap((group) => group.tests)
    .filter((x) => x.shared !== '00'.repeat(32));
  const parts = (m: DecapsVector, x: XdhVector) => ({ ciphertext: hex(m.c + x.public), secretKey: hex(m.dk + x.private) });

  async function refused(decapsulate: () => unknown) {
    let thrown: unknown;
    try {
      await decapsulate();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PqcError);
    expect((thrown as PqcError).code).toBe('ERR_PQC_INVALID_INPUT');
  }

  mlKem.forEach((m, i) => {
    const x = x25519[i]!;
    it(`ML-KEM tcId ${m.tcId} [${m.source}] ${m.result}: ${m.comment}, with X25519 tcId ${x.tcId}: ${x.comment}`, async () => {
      const { ciphertext, secretKey } = parts(m, x);
      if (m.result === 'valid') {
        expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(m.K + x.shared);
        expect(toHex(await kem.decapsulateAsync(ciphertext, secretKey))).toBe(m.K + x.shared);
      } else {
        await refused(() => kem.decapsulate(ciphertext, secretKey));
        await refused(() => kem.decapsulateAsync(ciphertext, secretKey));
      }
    });
  });

  it(`all ${x25519.length} X25519 vectors with a non-zero output, each with a valid ML-KEM vector, as one batch`, async () => {
    const items = x25519.map((x, i) => parts(validMlKem[i % validMlKem.length]!, x));
    const sharedSecrets = await kem.decapsulateMany(
      items.map((item) => item.ciphertext),
      items.map((item) => item.secretKey),
    );
    expect(sharedSecrets.map(toHex)).toEqual(x25519.map((x, i) => validMlKem[i % validMlKem.length]!.K + x.shared));
  });
});
