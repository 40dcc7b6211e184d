import { describe, expect, it } from 'vitest';
import { loadAddon, type NativeAlgorithm } from '../lib/native/addon.js';
import { Op } from '../lib/engine.js';
import { native, NATIVE_SKIP, nativeChildEnv, runInChild } from './support/environment.js';
import { rawAlgorithm } from './support/freed-memory.js';

// The addon loads wherever it was built, liboqs or not (X25519 needs none).
const addonMissing = (() => {
  try {
    loadAddon();
    return '';
  } catch (error) {
    return (error as Error).message.split('\n')[0]!;
  }
})();

describe('the addon in a process without a liboqs', () => {
  it.skipIf(addonMissing !== '')(`reports none, refuses what needs one, and refuses libraries that are not one${addonMissing ? ` (skipped: ${addonMissing})` : ''}`, () => {
    const { status, stdout, stderr } = runInChild(
      `const { loadAddon } = await import(${JSON.stringify(new URL('../dist/native/addon.js', import.meta.url).href)});
       const addon = loadAddon();
       const code = (fn) => { try { fn(); return 'no error'; } catch (error) { return error.code; } };
       console.log(JSON.stringify({
         status: addon.status(),
         algorithms: code(() => addon.algorithms()),
         algorithm: code(() => new addon.Algorithm('kem', 'ML-KEM-512')),
         noPath: code(() => addon.load()),
         notAString: code(() => addon.load(7)),
         missing: code(() => addon.load('/nonexistent/liboqs.so')),
         notLiboqs: code(() => addon.load('libc.so.6')),
         stillNone: addon.status(),
       }));`,
      { LD_LIBRARY_PATH: '' },
    );
    expect(status, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      status: null,
      algorithms: 'ERR_PQC_LIBOQS_NOT_LOADED',
      algorithm: 'ERR_PQC_LIBOQS_NOT_LOADED',
      noPath: 'ERR_PQC_INVALID_INPUT',
      notAString: 'ERR_PQC_INVALID_INPUT',
      missing: 'ERR_PQC_LIBOQS_NOT_FOUND',
      notLiboqs: 'ERR_PQC_LIBOQS_NOT_FOUND',
      stillNone: null,
    });
  });
});

/**
 * The addon is callable directly (it is in the package); a wrong call must raise a typed
 * error, never crash or read out of bounds. This file calls it with no TypeScript checks.
 */
describe.skipIf(!native)(`direct calls into the native addon${native ? '' : ` (skipped: ${NATIVE_SKIP})`}`, () => {
  const addon = native ? loadAddon() : (undefined as never);
  const kem = native ? new addon.Algorithm('kem', 'ML-KEM-512') : (undefined as never);
  const sig = native ? new addon.Algorithm('sig', 'ML-DSA-44') : (undefined as never);
  const call = (algorithm: NativeAlgorithm, ...args: unknown[]) =>
    (algorithm.run as (...a: unknown[]) => number).apply(algorithm, args);
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
      return 'no error';
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };
  const pk = () => new Uint8Array(kem.publicKeyLength);
  const ct = () => new Uint8Array(kem.ciphertextLength);
  const ss = () => new Uint8Array(kem.sharedSecretLength);
  /** A batch resolves with a public output's items end to end; item i of `items`. */
  const item = (items: Uint8Array, length: number, i: number) => items.subarray(i * length, (i + 1) * length);
  /**
   * Encapsulates `count` times with `workers` workers; checks every item against decapsulation,
   * and that each shared secret comes in an ArrayBuffer of its own.
   */
  async function expectBatchDecapsulates(pending: ReturnType<NativeAlgorithm['runAsync']>, count: number, secretKey: Uint8Array) {
    const [ciphertexts, secrets, values] = (await pending) as [Uint8Array, ArrayBuffer[], Float64Array];
    expect(ciphertexts).toBeInstanceOf(Uint8Array);
    expect(ciphertexts.byteLength).toBe(count * kem.ciphertextLength);
    expect(secrets.length).toBe(count);
    for (const secret of secrets) expect(secret.byteLength).toBe(kem.sharedSecretLength);
    expect(new Set(secrets).size).toBe(count);
    expect(Array.from(values)).toEqual(new Array(count).fill(0));
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const shared = ss();
      const ciphertext = item(ciphertexts, kem.ciphertextLength, i);
      seen.add(Buffer.from(ciphertext).toString('hex'));
      call(kem, Op.KemDecaps, ciphertext, secretKey, shared);
      expect(Buffer.from(shared).equals(Buffer.from(secrets[i]!))).toBe(true);
    }
    // Encapsulation is randomized: an item never run would leave zeros, which would repeat.
    expect(seen.size).toBe(count);
  }

  it('refuses wrong operand types, counts and lengths', () => {
    const cases: [string, () => unknown][] = [
      ['no arguments', () => call(kem)],
      ['op not a number', () => call(kem, 'encaps', pk(), ct(), ss())],
      ['op out of range', () => call(kem, 99, pk(), ct(), ss())],
      ['negative op', () => call(kem, -1)],
      ['a sig op on a KEM', () => call(kem, Op.SigSign, new Uint8Array(1), new Uint8Array(1), new Uint8Array(0), new Uint8Array(1))],
      ['too few operands', () => call(kem, Op.KemEncaps, pk(), ct())],
      ['too many operands', () => call(kem, Op.KemEncaps, pk(), ct(), ss(), ss())],
      ['a plain array', () => call(kem, Op.KemEncaps, Array.from(pk()), ct(), ss())],
      ['a Buffer-like object', () => call(kem, Op.KemEncaps, { length: 800, byteLength: 800 }, ct(), ss())],
      ['a Uint16Array', () => call(kem, Op.KemEncaps, new Uint16Array(400), ct(), ss())],
      ['a short input', () => call(kem, Op.KemEncaps, pk().subarray(1), ct(), ss())],
      ['a short output', () => call(kem, Op.KemEncaps, pk(), ct().subarray(1), ss())],
      ['a context over 255 bytes', () => call(sig, Op.SigVerify, new Uint8Array(1), new Uint8Array(1), new Uint8Array(sig.publicKeyLength), new Uint8Array(256))],
      ['an unknown family', () => new addon.Algorithm('cipher' as 'kem', 'ML-KEM-512')],
      ['a name that is not a string', () => new addon.Algorithm('kem', 7 as unknown as string)],
      ['batch count 0', () => kem.runAsync(Op.KemEncaps, 0, 1, pk())],
      ['batch count above the limit', () => kem.runAsync(Op.KemEncaps, 2 ** 21, 1, pk())],
      ['batch array of the wrong size', () => kem.runAsync(Op.KemEncaps, 3, 1, [pk(), pk()])],
      ['batch item of the wrong length', () => kem.runAsync(Op.KemEncaps, 2, 1, [pk(), new Uint8Array(5)])],
    ];
    for (const [what, fn] of cases) expect(codeOf(fn), what).toBe('ERR_PQC_INVALID_INPUT');
  });

  it('refuses a detached buffer, in a sync call and when copying batch inputs', () => {
    const detached = pk();
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(codeOf(() => call(kem, Op.KemEncaps, detached, ct(), ss()))).toBe('ERR_PQC_INVALID_INPUT');
    expect(codeOf(() => kem.runAsync(Op.KemEncaps, 1, 1, [detached]))).toBe('ERR_PQC_INVALID_INPUT');
  });

  it('reports an unknown algorithm and a missing capability with their own codes', () => {
    expect(codeOf(() => new addon.Algorithm('kem', 'Kyber-9000'))).toBe('ERR_PQC_UNSUPPORTED_ALGORITHM');
    if (kem.keypairSeedLength === 0) {
      expect(codeOf(() => call(kem, Op.KemKeypairDerand, new Uint8Array(64), pk(), new Uint8Array(kem.secretKeyLength)))).toBe(
        'ERR_PQC_UNSUPPORTED_CAPABILITY',
      );
    } else {
      expect(kem.keypairSeedLength).toBe(64);
    }
  });

  it('refuses a second liboqs once one is loaded', () => {
    expect(codeOf(() => addon.load('liboqs.so.7'))).toBe('ERR_PQC_LIBOQS_ALREADY_LOADED');
  });

  it('copies each batch item before reading the next, so a getter cannot free what was read', async () => {
    const pair = [new Uint8Array(kem.publicKeyLength), new Uint8Array(kem.secretKeyLength)] as const;
    call(kem, Op.KemKeypair, ...pair);
    const first = pair[0].slice();
    const items = [first, pair[0]];
    Object.defineProperty(items, 1, {
      get() {
        structuredClone(first.buffer, { transfer: [first.buffer] });
        return pair[0];
      },
    });
    const pending = kem.runAsync(Op.KemEncaps, 2, 1, items);
    expect(first.byteLength).toBe(0);
    await expectBatchDecapsulates(pending, 2, pair[1]);
  });

  it('a batch input copied before the call returns is unaffected by later changes', async () => {
    const pair = [new Uint8Array(kem.publicKeyLength), new Uint8Array(kem.secretKeyLength)] as const;
    call(kem, Op.KemKeypair, ...pair);
    const pending = kem.runAsync(Op.KemEncaps, 4, 2, pair[0]);
    pair[0].fill(0);
    await expectBatchDecapsulates(pending, 4, pair[1]);
  });

  it('workers sharing out a batch run every item, more workers than items included', async () => {
    const pair = [new Uint8Array(kem.publicKeyLength), new Uint8Array(kem.secretKeyLength)] as const;
    call(kem, Op.KemKeypair, ...pair);
    for (const [count, workers] of [[1, 4], [7, 3], [64, 2], [5, 1024]] as const) {
      await expectBatchDecapsulates(kem.runAsync(Op.KemEncaps, count, workers, pair[0]), count, pair[1]);
    }
  });

  it('a batch refused while its inputs are copied leaves no promise behind (each used to keep one, and its handle, forever)', () => {
    // In a fresh process; the promise's handle kept the promise on the JS heap: 100,000 refused
    // batches kept some 4.5 MiB of it.
    const { status, stdout, stderr } = runInChild(
      `${rawAlgorithm('kem', 'ML-KEM-512')}
       const v8 = await import('node:v8');
       v8.setFlagsFromString('--expose-gc');
       const gc = (await import('node:vm')).runInNewContext('gc');
       const refuse = (n) => { for (let i = 0; i < n; i++) try { algorithm.runAsync(Op.KemEncaps, 2, 1, [secret, new Uint8Array(5)]); } catch {} };
       refuse(10000); gc(); gc();
       const before = process.memoryUsage().heapUsed;
       refuse(100000); gc(); gc();
       console.log((process.memoryUsage().heapUsed - before) / 2 ** 20);`,
      { ...nativeChildEnv(), X0TTA6BL4_TEST_SECRET: '00'.repeat(kem.publicKeyLength) },
    );
    expect(status, stderr).toBe(0);
    expect(Number(stdout), 'MiB of JS heap kept by 100,000 refused batches').toBeLessThan(1);
  });
});

