import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Op } from '../lib/engine.js';
import { loadAddon, type Addon, type NativeAlgorithm } from '../lib/native/addon.js';
import { FUZZ_TIMEOUT, report, runs as fuzzRuns, SEED } from './fuzz/mode.js';
import { native, NATIVE_SKIP } from './support/environment.js';
import { hostileBytes } from './support/hostile-values.js';

/**
 * The raw addon (lib/native/addon.ts shows its surface) called with random argument lists:
 * numbers of arguments, ops, counts and every hostile stand-in for bytes, next to buffers of
 * every length the algorithm uses, sync and many async calls at once. A raw call is below the
 * PqcError class (native-backend.ts makes PqcErrors of what it throws), but what it throws is an
 * Error with a stable ERR_PQC_ code, which PqcError.from keeps; it must never crash the process,
 * never hang, and a valid call made among them still round-trips, also when its inputs are
 * detached, shrunk or overwritten as soon as the call returns.
 */
const RUNS = fuzzRuns(300, 10_000);
const KEMS = ['ML-KEM-512', 'ML-KEM-1024'];
const SIGS = ['ML-DSA-44', 'Falcon-512'];

describe.skipIf(!native)(`the raw addon with random arguments${native ? '' : ` (skipped: ${NATIVE_SKIP})`}`, () => {
  const addon: Addon = native ? loadAddon() : (undefined as never);
  const algorithms: [string, NativeAlgorithm][] = native
    ? [...KEMS.map((name) => [name, new addon.Algorithm('kem', name)] as [string, NativeAlgorithm]), ...SIGS.map((name) => [name, new addon.Algorithm('sig', name)] as [string, NativeAlgorithm])]
    : [];

  /** Everything an argument may be: hostile values around every length the algorithm uses, ops, counts, arrays. */
  function values(algorithm: NativeAlgorithm): fc.Arbitrary<() => unknown> {
    const lengths = [algorithm.publicKeyLength, algorithm.secretKeyLength, algorithm.ciphertextLength, algorithm.sharedSecretLength, algorithm.signatureLength, algorithm.keypairSeedLength, algorithm.encapsSeedLength, 0, 1, 32].filter(
      (length) => Number.isInteger(length),
    );
    const hostileCount = hostileBytes(new Uint8Array(1)).length;
    const bytes = fc.tuple(fc.constantFrom(...lengths), fc.integer({ min: -1, max: hostileCount - 1 })).map(([length, c]) => () => (c < 0 ? new Uint8Array(length) : hostileBytes(new Uint8Array(length))[c]));
    const numbers = fc.constantFrom<unknown>(...Object.values(Op), 8, -1, 1.5, 2 ** 20, 2 ** 21, 2 ** 32, Number.NaN, Infinity, '2', 2n, null, undefined).map((v) => () => v);
    return fc.oneof(
      { weight: 3, arbitrary: bytes },
      { weight: 2, arbitrary: numbers },
      { weight: 1, arbitrary: fc.array(bytes, { maxLength: 3 }).map((items) => () => items.map((make) => make())) },
    );
  }
  const argumentList = (algorithm: NativeAlgorithm) => fc.array(values(algorithm), { maxLength: 7 });

  /** Calls `fn`; a throw or rejection must be a JS Error with an ERR_PQC_ code. Resolves to what happened. */
  async function raw(fn: () => unknown): Promise<string> {
    let result: unknown;
    try {
      result = fn();
      if (result instanceof Promise) result = await result;
    } catch (error) {
      if (!(error instanceof Error)) throw new Error(`the addon threw something that is not an Error: ${String(error)}`);
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('ERR_PQC_')) throw new Error(`the addon threw an Error without an ERR_PQC_ code (${String(code)}): ${error.message}`);
      return error.name;
    }
    return typeof result;
  }

  async function property<T>(label: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, runs = RUNS) {
    const started = performance.now();
    await fc.assert(fc.asyncProperty(arbitrary, predicate), { numRuns: runs, seed: SEED });
    report({ target: `raw addon: ${label}`, holds: 'an Error with an ERR_PQC_ code or a result, never a crash', runs, seconds: (performance.now() - started) / 1000, failed: false });
  }

  it.each(algorithms)('%s: run and runAsync with any arguments', async (name, algorithm) => {
    const list = argumentList(algorithm);
    await property(`${name} run/runAsync`, fc.tuple(fc.boolean(), list), async ([async, makers]: [boolean, (() => unknown)[]]) => {
      const args = makers.map((make) => make());
      const method = (async ? algorithm.runAsync : algorithm.run) as (...a: unknown[]) => unknown;
      await raw(() => method.apply(algorithm, args));
    });
  }, FUZZ_TIMEOUT);

  it('the module functions and the constructor with any arguments', async () => {
    const [, algorithm] = algorithms[0]!;
    const functions: [string, (...a: unknown[]) => unknown][] = [
      ['load', addon.load as (...a: unknown[]) => unknown],
      ['status', addon.status],
      ['algorithms', addon.algorithms],
      ['Algorithm', (...a: unknown[]) => new (addon.Algorithm as unknown as new (...b: unknown[]) => unknown)(...a)],
      ...(['x25519PublicKey', 'x25519GenerateKey', 'x25519SharedSecret'] as const).flatMap((key) => (addon[key] ? [[key, addon[key] as (...a: unknown[]) => unknown] as [string, (...a: unknown[]) => unknown]] : [])),
    ];
    const names = fc.constantFrom<unknown>('kem', 'sig', 'ML-KEM-768', 'ML-DSA-44', 'nope', '', '/nonexistent/liboqs.so').map((v) => () => v);
    await property('module functions', fc.tuple(fc.nat({ max: functions.length - 1 }), fc.array(fc.oneof(values(algorithm), names), { maxLength: 5 })), async ([which, makers]: [number, (() => unknown)[]]) => {
      await raw(() => functions[which]![1](...makers.map((make) => make())));
    }, fuzzRuns(300, 10_000));
  }, FUZZ_TIMEOUT);

  it.each(algorithms.filter(([name]) => KEMS.includes(name)))('%s: valid calls among hostile ones in flight still round-trip, whatever happens to their inputs', async (name, kem) => {
    const pk = new Uint8Array(kem.publicKeyLength);
    const sk = new Uint8Array(kem.secretKeyLength);
    kem.run(Op.KemKeypair, pk, sk);
    // What the caller does to the input right after the call returns: the addon copied it already.
    const afterCall = fc.constantFrom<(input: Uint8Array) => void>(
      () => undefined,
      (input) => input.fill(0xa5),
      (input) => void structuredClone(input.buffer, { transfer: [input.buffer as ArrayBuffer] }),
      (input) => {
        const buffer = input.buffer as ArrayBuffer & { resizable?: boolean; resize(n: number): void };
        if (buffer.resizable) buffer.resize(0);
      },
    );
    const resizableCopy = (bytes: Uint8Array) => {
      const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
      const view = new Uint8Array(new Resizable(bytes.length, { maxByteLength: bytes.length }));
      view.set(bytes);
      return view;
    };
    const list = argumentList(kem);
    await property(`${name} concurrent round trips`, fc.tuple(fc.array(fc.tuple(afterCall, fc.boolean(), list), { minLength: 1, maxLength: 24 })), async ([calls]: [[(input: Uint8Array) => void, boolean, (() => unknown)[]][]]) => {
      const pending = calls.map(async ([change, resizable, hostile]) => {
        const noise = raw(() => (kem.runAsync as (...a: unknown[]) => unknown).apply(kem, hostile.map((make) => make())));
        const input = resizable ? resizableCopy(pk) : Uint8Array.from(pk);
        const encapsulation = kem.runAsync(Op.KemEncaps, 1, 1, input);
        change(input);
        // A batch's public output is its items end to end, a secret one an ArrayBuffer per item.
        const [ciphertext, sharedSecrets] = (await encapsulation) as [Uint8Array, ArrayBuffer[], Float64Array];
        const decapsulated = new Uint8Array(kem.sharedSecretLength);
        kem.run(Op.KemDecaps, ciphertext, sk, decapsulated);
        expect(Buffer.from(decapsulated).equals(Buffer.from(sharedSecrets[0]!))).toBe(true);
        await noise;
      });
      await Promise.all(pending);
    }, fuzzRuns(30, 1000));
  }, FUZZ_TIMEOUT);
});
