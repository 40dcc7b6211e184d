import { describe, expect, it } from 'vitest';
import { SecretBytes, wipeSecret } from '../../lib/bytes.js';
import { Op } from '../../lib/engine.js';
import { PqcError } from '../../lib/errors.js';
import { ExpandedKeyCache, type ExpandedKey } from '../../lib/hybrid/expanded-keys.js';
import { X25519MlKem768Engine } from '../../lib/hybrid/x25519-mlkem768.js';
import { ready } from '../../lib/index.js';
import { X25519Key } from '../../lib/x25519/index.js';
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
});

function refusal(run: () => unknown): PqcError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PqcError);
    return error as PqcError;
  }
  throw new Error('not refused');
}

describe('HybridKemEngine', () => {
  it('is ready when its ML-KEM engine is', async () => {
    const engine = new X25519MlKem768Engine('X25519MLKEM768', recordingMlKem768().engine);
    await expect(engine.ready()).resolves.toBeUndefined();
    expect(engine.isReady()).toBe(true);
  });

  it('refuses an operation that is not a KEM operation', async () => {
    const engine = new X25519MlKem768Engine('X25519MLKEM768', recordingMlKem768().engine);
    expect(refusal(() => engine.run(Op.SigKeypair, new Uint8Array(1), new Uint8Array(1))).code).toBe('ERR_PQC_UNSUPPORTED_CAPABILITY');
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
    const error = refusal(() => engine.run(Op.KemEncaps, hex(unreduced.ek + Buffer.from(x25519Part).toString('hex')), ...out()));
    expect(error.code).toBe('ERR_PQC_INVALID_INPUT');
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
    const error = refusal(() =>
      engine.run(Op.KemEncaps, new Uint8Array(engine.lengths.publicKey), new Uint8Array(engine.lengths.ciphertext), new Uint8Array(engine.lengths.sharedSecret)),
    );
    expect(error).toBe(failure);
  });
});
