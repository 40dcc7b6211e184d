import { describe, expect, it } from 'vitest';
import { SecretBytes, wipeSecret } from '../../lib/bytes.js';
import { Op } from '../../lib/engine.js';
import { PqcError } from '../../lib/errors.js';
import { ExpandedKeyCache, type ExpandedKey } from '../../lib/hybrid/expanded-keys.js';
import { X25519MlKem768Engine } from '../../lib/hybrid/x25519-mlkem768.js';
import { ready } from '../../lib/index.js';
import { X25519Key } from '../../lib/x25519/index.js';
import { XWingEngine } from '../../lib/hybrid/xwing.js';
import { collectGarbage } from '../../lib/bench/timing.js';
import type { Steps } from '../../lib/hybrid/pq-steps.js';
import { expectCode } from '../support/errors.js';
import { hex, readVectors } from '../support/environment.js';
import { recordingMlKem768 } from '../support/recording-kem.js';

await ready();

const zero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);

/** An expanded key made of random bytes, counting the wipes of its X25519 key. */
function expandedKey(length: number) {
  const secretKey = SecretBytes.alloc(length);
  crypto.getRandomValues(secretKey);
  const x25519 = X25519Key.generate();
  const wipes = { count: 0 };
  const key: ExpandedKey = {
    secretKey: SecretBytes.copyOf(secretKey),
    pqSecretKey: SecretBytes.copyOf(secretKey),
    x25519: { publicKey: () => x25519.publicKey(), sharedSecret: (peer) => x25519.sharedSecret(peer), wipe: () => void wipes.count++ },
  };
  return { secretKey, key, wipes };
}

describe('ExpandedKeyCache', () => {
  it('finds an entry by the bytes it was set for, and by any view of them', () => {
    const cache = new ExpandedKeyCache();
    const { secretKey, key } = expandedKey(32);
    cache.set(secretKey, key);
    expect(cache.get(secretKey)).toBe(key);
    expect(cache.get(new Uint8Array(secretKey.buffer, secretKey.byteOffset, 32))).toBe(key);
  });

  it('finds nothing for equal bytes elsewhere, changed bytes or a shorter view at the same place', () => {
    const cache = new ExpandedKeyCache();
    const { secretKey, key } = expandedKey(32);
    cache.set(secretKey, key);
    expect(cache.get(SecretBytes.copyOf(secretKey))).toBeUndefined();
    expect(cache.get(secretKey.subarray(0, 16))).toBeUndefined();
    secretKey[0] ^= 1;
    expect(cache.get(secretKey)).toBeUndefined();
  });

  it('keeps keys at different offsets of one buffer apart', () => {
    const cache = new ExpandedKeyCache();
    const buffer = new ArrayBuffer(64);
    const [a, b] = [new Uint8Array(buffer, 0, 32), new Uint8Array(buffer, 32, 32)];
    crypto.getRandomValues(a);
    crypto.getRandomValues(b);
    // Each entry holds a copy of the bytes it was set for.
    const [keyA, keyB] = [a, b].map((bytes) => ({ ...expandedKey(32).key, secretKey: SecretBytes.copyOf(bytes) }));
    cache.set(a, keyA!);
    cache.set(b, keyB!);
    expect(cache.get(a)).toBe(keyA);
    expect(cache.get(b)).toBe(keyB);
  });

  it("wipes an entry's copies when its secret key is wiped, and forgets it", () => {
    const cache = new ExpandedKeyCache();
    const { secretKey, key, wipes } = expandedKey(32);
    const other = expandedKey(32);
    cache.set(secretKey, key);
    cache.set(other.secretKey, other.key);
    wipeSecret(secretKey);
    expect(zero(key.secretKey)).toBe(true);
    expect(zero(key.pqSecretKey)).toBe(true);
    expect(wipes.count).toBe(1);
    expect(cache.get(secretKey)).toBeUndefined();
    // Only that one.
    expect(cache.get(other.secretKey)).toBe(other.key);
    expect(other.wipes.count).toBe(0);
    // SecretBytes.wipe() is the same.
    other.secretKey.wipe();
    expect(zero(other.key.pqSecretKey)).toBe(true);
  });

  it('lets go of an entry it replaced while the secret key it was set for lives on', async () => {
    const cache = new ExpandedKeyCache();
    const { secretKey, key } = expandedKey(32);
    // In a function of its own, so that nothing in this frame holds the first entry.
    const replaced = (() => {
      const first = expandedKey(32).key;
      cache.set(secretKey, first);
      cache.set(secretKey, key);
      return new WeakRef(first);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(replaced.deref()).toBeUndefined();
    expect(cache.get(secretKey)).toBe(key);
  });
});

describe('HybridKemEngine', () => {
  it('is ready when its ML-KEM engine is', async () => {
    const engine = new X25519MlKem768Engine('X25519MLKEM768', recordingMlKem768().engine);
    await expect(engine.ready()).resolves.toBeUndefined();
    expect(engine.isReady()).toBe(true);
  });

  it('refuses an operation that is not a KEM operation', async () => {
    const engine = new X25519MlKem768Engine('X25519MLKEM768', recordingMlKem768().engine);
    expect(expectCode(() => engine.run(Op.SigKeypair, new Uint8Array(1), new Uint8Array(1)), 'ERR_PQC_UNSUPPORTED_CAPABILITY').message).toBe(
      `X25519MLKEM768: operation ${Op.SigKeypair} is not a KEM operation`,
    );
    await expect(engine.runAsync(Op.SigKeypair, 1, [])).rejects.toMatchObject({ code: 'ERR_PQC_UNSUPPORTED_CAPABILITY' });
  });

  it('applies FIPS 203 7.2 itself, before any ML-KEM call, over an ML-KEM engine that does not', () => {
    const encaps = readVectors<{ testGroups: { tests: { ek: string; comment?: string; result: string }[] }[] }>('wycheproof/mlkem_768_encaps_test.json');
    const tests = encaps.testGroups.flatMap((group) => group.tests).filter((t) => t.ek.length === 2 * 1184);
    const unreduced = tests.find((t) => t.comment === 'Public key not reduced')!;
    const valid = tests.find((t) => t.result === 'valid')!;
    const pq = recordingMlKem768({ checksMlKemKeys: false });
    const engine = new X25519MlKem768Engine('X25519MLKEM768', pq.engine);
    const x25519Part = X25519Key.generate().publicKey();
    const out = () => [new Uint8Array(engine.lengths.ciphertext), new Uint8Array(engine.lengths.sharedSecret)];
    const error = expectCode(() => engine.run(Op.KemEncaps, hex(unreduced.ek + Buffer.from(x25519Part).toString('hex')), ...out()), 'ERR_PQC_INVALID_INPUT');
    expect(error.message).toMatch(/FIPS 203 modulus check/);
    expect(pq.calls.map(({ op }) => op)).toEqual([]);
    engine.run(Op.KemEncaps, hex(valid.ek + Buffer.from(x25519Part).toString('hex')), ...out());
    expect(pq.calls.map(({ op }) => op)).toEqual([Op.KemEncaps]);
  });

  it("passes on an ML-KEM encapsulation failure other than a bad key as it is", () => {
    const failure = new PqcError('ERR_PQC_UNSUPPORTED_CAPABILITY', 'the stand-in cannot encapsulate');
    const { engine: pq } = recordingMlKem768({
      run: () => {
        throw failure;
      },
    });
    const engine = new X25519MlKem768Engine('X25519MLKEM768', pq);
    const error = expectCode(
      () => engine.run(Op.KemEncaps, new Uint8Array(engine.lengths.publicKey), new Uint8Array(engine.lengths.ciphertext), new Uint8Array(engine.lengths.sharedSecret)),
      'ERR_PQC_UNSUPPORTED_CAPABILITY',
    );
    expect(error).toBe(failure);
  });

  it('applies FIPS 203 7.2 to every key of a batch: one unreduced key among valid ones refuses it', async () => {
    const encaps = readVectors<{ testGroups: { tests: { ek: string; comment?: string; result: string }[] }[] }>('wycheproof/mlkem_768_encaps_test.json');
    const tests = encaps.testGroups.flatMap((group) => group.tests).filter((t) => t.ek.length === 2 * 1184);
    const x25519Part = Buffer.from(X25519Key.generate().publicKey()).toString('hex');
    const unreduced = hex(tests.find((t) => t.comment === 'Public key not reduced')!.ek + x25519Part);
    const valid = hex(tests.find((t) => t.result === 'valid')!.ek + x25519Part);
    const real = recordingMlKem768().engine;
    const attempts: Op[] = [];
    // Counted before the call: the hybrid's check must refuse the batch without one.
    const pq = recordingMlKem768({ checksMlKemKeys: false, runAsync: (op, count, inputs) => (attempts.push(op), real.runAsync(op, count, inputs)) });
    const engine = new X25519MlKem768Engine('X25519MLKEM768', pq.engine);
    await expect(engine.runAsync(Op.KemEncaps, 3, [[valid, unreduced, valid]])).rejects.toMatchObject({
      code: 'ERR_PQC_INVALID_INPUT',
      message: 'publicKey is not a valid X25519MLKEM768 key: its ML-KEM-768 part fails the FIPS 203 modulus check (7.2)',
    });
    expect(attempts).toEqual([]);
    await engine.runAsync(Op.KemEncaps, 2, [[valid, valid]]);
    expect(attempts).toEqual([Op.KemEncaps]);
  });
});

describe('the hybrids over an ML-KEM engine with and without seeds', () => {
  const reason = { keypair: 'the stand-in has no seeded key generation', encaps: 'the stand-in has no seeded encapsulation' };
  const seeded = () => recordingMlKem768({ lengths: { ...recordingMlKem768().engine.lengths, keypairSeed: 64, encapsSeed: 32 } });
  const seedless = () => {
    const { engine: real } = recordingMlKem768();
    return recordingMlKem768({ lengths: { ...real.lengths, keypairSeed: 0, encapsSeed: 0 }, seedUnsupportedReason: reason });
  };

  it('take seeds as long as the ML-KEM seeds and their X25519 parts', () => {
    // X-Wing: a 32-byte seed is its secret key; X25519MLKEM768 appends X25519's 32 bytes to each.
    expect(new XWingEngine('X-Wing', seeded().engine).lengths).toMatchObject({ keypairSeed: 32, encapsSeed: 64 });
    expect(new X25519MlKem768Engine('X25519MLKEM768', seeded().engine).lengths).toMatchObject({ keypairSeed: 96, encapsSeed: 64 });
  });

  it('take no seeds, and say why, where the ML-KEM engine takes none', () => {
    const xwing = new XWingEngine('X-Wing', seedless().engine);
    expect(xwing.lengths).toMatchObject({ keypairSeed: 0, encapsSeed: 0 });
    expect(xwing.seedUnsupportedReason).toEqual({
      keypair: `its keys are expanded from 32-byte seeds by ML-KEM key generation from a seed: ${reason.keypair}`,
      encaps: reason.encaps,
    });
    const tls = new X25519MlKem768Engine('X25519MLKEM768', seedless().engine);
    expect(tls.lengths).toMatchObject({ keypairSeed: 0, encapsSeed: 0 });
    expect(tls.seedUnsupportedReason).toEqual(reason);
  });

  it('X-Wing refuses key generation and decapsulation before any ML-KEM call where ML-KEM takes no seeds', async () => {
    const pq = seedless();
    const xwing = new XWingEngine('X-Wing', pq.engine);
    const message = `X-Wing: its keys are expanded from 32-byte seeds by ML-KEM key generation from a seed: ${reason.keypair}`;
    const publicKey = new Uint8Array(xwing.lengths.publicKey);
    const secretKey = new Uint8Array(xwing.lengths.secretKey);
    expect(expectCode(() => xwing.run(Op.KemKeypair, publicKey, secretKey), 'ERR_PQC_UNSUPPORTED_CAPABILITY').message).toBe(message);
    await expect(xwing.runAsync(Op.KemKeypair, 2, [])).rejects.toMatchObject({ code: 'ERR_PQC_UNSUPPORTED_CAPABILITY', message });
    const ciphertext = new Uint8Array(xwing.lengths.ciphertext);
    const sharedSecret = new Uint8Array(xwing.lengths.sharedSecret);
    expect(expectCode(() => xwing.run(Op.KemDecaps, ciphertext, secretKey, sharedSecret), 'ERR_PQC_UNSUPPORTED_CAPABILITY').message).toBe(message);
    expect(pq.calls).toEqual([]);
  });
});

/** X25519MLKEM768 counting the secret keys it expands. */
class CountingX25519MlKem768 extends X25519MlKem768Engine {
  readonly expanded: Uint8Array[][] = [];

  protected override *expandKeys(secretKeys: Uint8Array[]): Steps<ExpandedKey[]> {
    this.expanded.push([...secretKeys]);
    return yield* super.expandKeys(secretKeys);
  }
}

describe('a hybrid expands each secret key once', () => {
  function setup() {
    const engine = new CountingX25519MlKem768('X25519MLKEM768', recordingMlKem768().engine);
    const publicKey = new Uint8Array(engine.lengths.publicKey);
    const generated = SecretBytes.alloc(engine.lengths.secretKey);
    engine.run(Op.KemKeypair, publicKey, generated);
    return { engine, publicKey, generated };
  }

  async function ciphertextFor(engine: X25519MlKem768Engine, publicKey: Uint8Array) {
    const { outputs } = await engine.runAsync(Op.KemEncaps, 1, [[publicKey]]);
    return { ciphertext: outputs[0]![0]!, sharedSecret: outputs[1]![0]! };
  }

  it('not at all for a key it generated, and once for a copy, however often it appears', async () => {
    const { engine, publicKey, generated } = setup();
    const { ciphertext, sharedSecret } = await ciphertextFor(engine, publicKey);
    const copy = SecretBytes.copyOf(generated);
    const { outputs } = await engine.runAsync(Op.KemDecaps, 4, [[ciphertext, ciphertext, ciphertext, ciphertext], [generated, copy, copy, generated]]);
    outputs[0]!.forEach((secret, i) => expect(Buffer.from(secret).equals(sharedSecret), `item ${i}`).toBe(true));
    expect(engine.expanded).toHaveLength(1);
    expect(engine.expanded[0]).toHaveLength(1);
    expect(engine.expanded[0]![0]).toBe(copy);
    // Remembered: the copy is not expanded again, alone or in a batch.
    engine.run(Op.KemDecaps, ciphertext, copy, new Uint8Array(engine.lengths.sharedSecret));
    await engine.runAsync(Op.KemDecaps, 2, [[ciphertext, ciphertext], [copy, generated]]);
    expect(engine.expanded).toHaveLength(1);
  });
});

