import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Kem, MOCK_KEM_NAME, MockKemFaults, PqcError, ready, Sig, X25519_KEM_NAME } from '../lib/index.js';
import { environment } from './support/environment.js';
import { hostileBytes } from './support/hostile-values.js';
import { FUZZ_TIMEOUT, report, runs as fuzzRuns, SEED } from './fuzz/mode.js';

/**
 * README promises that bad input gets a PqcError. Every public Kem and Sig method (and the
 * constructors and MockKemFaults.inject) is called with each argument either valid or hostile:
 * wrong types, holes, views that are not what they claim, values whose coercion throws. Whatever
 * the combination, the call succeeds or fails with a PqcError.
 *
 * Values that run the caller's own throwing code (a getter, a Proxy trap) are not among them:
 * that error is the caller's and passes through. The hostile values here run none, so any other
 * error is ours. `npm run fuzz` runs each property far longer (test/fuzz/mode.ts).
 */
await ready();

const RUNS = fuzzRuns(40, 2000);

const HOSTILE_COUNT = hostileBytes(new Uint8Array(4)).length;
/** -1: the valid value; otherwise an index into hostileBytes. */
const choice = fc.oneof({ arbitrary: fc.constant(-1), weight: 3 }, fc.integer({ min: 0, max: HOSTILE_COUNT - 1 }));

type Slot = fc.Arbitrary<() => unknown>;

/** A byte argument; `base` makes a fresh valid value (fresh, so that outputs never hit inputs). */
function bytes(base: () => Uint8Array): Slot {
  return choice.map((c) => () => (c < 0 ? base() : hostileBytes(base())[c]));
}

/** An array of byte arguments: valid items, hostile items, holes, or not an array at all. */
function byteArray(base: () => Uint8Array): Slot {
  return fc.oneof(
    fc.array(bytes(base), { minLength: 0, maxLength: 3 }).map((items) => () => items.map((item) => item())),
    fc.constantFrom(
      () => [, base()],
      () => [base(), , base()],
      () => new Proxy([base(), base()], {}),
      () => {
        const { proxy, revoke } = Proxy.revocable([base()], {});
        revoke();
        return proxy;
      },
      () => Object.assign(new Array(2), { 1: base() }),
    ),
    bytes(base),
  );
}

function bytesOrArray(base: () => Uint8Array): Slot {
  return fc.oneof(bytes(base), byteArray(base));
}

const counts = [1, 2, 0, -1, 1.5, Number.NaN, Infinity, 2 ** 21, '2', 2n, null, undefined, Symbol('n'), [Symbol('n')], Object.create(null), { valueOf: () => 2 }];
const count: Slot = fc.constantFrom(...counts).map((value) => () => value);

/** An options object whose fields are `fields`, or a hostile stand-in for the object. */
function options(fields: Record<string, Slot>): Slot {
  const object = fc.record(
    Object.fromEntries(Object.entries(fields).map(([key, slot]) => [key, fc.option(slot, { nil: undefined })])),
  ).map((made) => () => Object.fromEntries(Object.entries(made).flatMap(([key, value]) => (value ? [[key, value()]] : []))));
  return fc.oneof({ arbitrary: object, weight: 3 }, bytes(() => new Uint8Array(4)), fc.constant(() => undefined));
}

/** The outputs object of an …Into call. */
function outputs(fields: Record<string, () => Uint8Array>): Slot {
  return options(Object.fromEntries(Object.entries(fields).map(([key, base]) => [key, bytes(base)])));
}

/**
 * Calls `target[method]` with the arguments the slots made; it must succeed or fail with a
 * PqcError. A method that returns a promise (…Async, …Many) must reject, never throw at once.
 */
async function expectOnlyPqcErrors(label: string, target: object, method: string, slots: Slot[], runs = RUNS): Promise<void> {
  const started = performance.now();
  const promising = /(Async|Many)$/.test(method);
  await fc.assert(
    fc.asyncProperty(fc.tuple(...slots), async (makers) => {
      const args = makers.map((make) => make());
      try {
        let outcome: unknown;
        try {
          outcome = (target as Record<string, (...a: unknown[]) => unknown>)[method]!(...args);
        } catch (error) {
          if (promising) throw new Error(`${method} threw at once instead of rejecting: ${String(error)}`);
          throw error;
        }
        await outcome;
      } catch (error) {
        if (!(error instanceof PqcError) || !error.code.startsWith('ERR_PQC_')) {
          throw new Error(`${method} threw ${String((error as Error)?.stack ?? error)}`);
        }
      }
    }),
    { numRuns: runs, seed: SEED },
  );
  report({ target: `public API: ${label}.${method}`, holds: 'only PqcErrors', runs, seconds: (performance.now() - started) / 1000, failed: false });
}

const fresh = (length: number) => () => new Uint8Array(length);

interface KemCase {
  name: string;
  options?: { backend: 'mock' };
  /** Key generation and encapsulation seed lengths (refused with a PqcError where the backend has no seeds). */
  seeds: [number, number];
}

const KEMS: KemCase[] = [
  { name: 'ML-KEM-512', seeds: [64, 32] },
  { name: 'X-Wing', seeds: [32, 64] },
  { name: 'X25519MLKEM768', seeds: [96, 64] },
  { name: X25519_KEM_NAME, seeds: [32, 32] },
  { name: MOCK_KEM_NAME, options: { backend: 'mock' }, seeds: [32, 32] },
];

const PREPARED = KEMS.map((kemCase) => ({ ...kemCase, kem: new Kem(kemCase.name, kemCase.options) }));
for (const { kem } of PREPARED) await kem.ready();

describe.each(PREPARED)(`$name with hostile arguments (${environment.backend} backend)`, ({ kem, seeds: [keypairSeed, encapsSeed] }) => {
  // X-Wing key generation needs ML-KEM seeds; without them it encapsulates to a key made elsewhere.
  const pair = { publicKey: new Uint8Array(kem.publicKeyLength), secretKey: new Uint8Array(kem.secretKeyLength) };
  try {
    Object.assign(pair, kem.generateKeyPair());
  } catch (error) {
    expect((error as PqcError).code).toBe('ERR_PQC_UNSUPPORTED_CAPABILITY');
  }
  const pk = () => pair.publicKey;
  const sk = () => pair.secretKey;
  let ciphertext: Uint8Array = new Uint8Array(kem.ciphertextLength);
  try {
    ciphertext = kem.encapsulate(pair.publicKey).ciphertext;
  } catch {
    // an all-zero public key: the ciphertext stays all zero, as hostile as any
  }
  const ct = () => ciphertext;
  const keypairOptions = options({ seed: bytes(fresh(keypairSeed)) });
  const encapsOptions = options({ seed: bytes(fresh(encapsSeed)) });

  const methods: [string, Slot[]][] = [
    ['generateKeyPair', [keypairOptions]],
    ['encapsulate', [bytes(pk), encapsOptions]],
    ['decapsulate', [bytes(ct), bytes(sk)]],
    ['generateKeyPairInto', [outputs({ publicKey: fresh(kem.publicKeyLength), secretKey: fresh(kem.secretKeyLength) }), keypairOptions]],
    ['encapsulateInto', [bytes(pk), outputs({ ciphertext: fresh(kem.ciphertextLength), sharedSecret: fresh(kem.sharedSecretLength) }), encapsOptions]],
    ['decapsulateInto', [bytes(ct), bytes(sk), bytes(fresh(kem.sharedSecretLength))]],
    ['generateKeyPairAsync', [keypairOptions]],
    ['encapsulateAsync', [bytes(pk), encapsOptions]],
    ['decapsulateAsync', [bytes(ct), bytes(sk)]],
    ['generateKeyPairMany', [count, options({ seeds: byteArray(fresh(keypairSeed)) })]],
    ['encapsulateMany', [byteArray(pk), options({ seeds: byteArray(fresh(encapsSeed)) })]],
    ['decapsulateMany', [byteArray(ct), bytesOrArray(sk)]],
  ];

  it.each(methods)('%s', async (method, slots) => {
    await expectOnlyPqcErrors(kem.name, kem, method, slots);
  }, FUZZ_TIMEOUT);
});

const SIGS = ['ML-DSA-44', 'Falcon-512'].map((name) => new Sig(name));
for (const sig of SIGS) await sig.ready();

describe.each(SIGS)(`$name with hostile arguments (${environment.backend} backend)`, (sig) => {
  const pair = sig.generateKeyPair();
  const message = () => Uint8Array.of(1, 2, 3);
  let signature: Uint8Array = new Uint8Array(sig.signatureLength);
  try {
    signature = sig.sign(message(), pair.secretKey);
  } catch {
    // a backend that cannot sign with this scheme: verification still gets its inputs
  }
  const signOptions = options({ context: bytes(() => Uint8Array.of(7)) });
  const pk = () => pair.publicKey;
  const sk = () => pair.secretKey;
  const sigBytes = () => signature;

  const methods: [string, Slot[]][] = [
    ['generateKeyPair', []],
    ['sign', [bytes(message), bytes(sk), signOptions]],
    ['verify', [bytes(message), bytes(sigBytes), bytes(pk), signOptions]],
    ['generateKeyPairAsync', []],
    ['signAsync', [bytes(message), bytes(sk), signOptions]],
    ['verifyAsync', [bytes(message), bytes(sigBytes), bytes(pk), signOptions]],
    ['generateKeyPairMany', [count]],
    ['signMany', [byteArray(message), bytes(sk), signOptions]],
    ['verifyMany', [byteArray(message), byteArray(sigBytes), bytesOrArray(pk), signOptions]],
  ];

  it.each(methods)('%s', async (method, slots) => {
    await expectOnlyPqcErrors(sig.name, sig, method, slots, method.startsWith('generate') ? fuzzRuns(5, 200) : RUNS);
  }, FUZZ_TIMEOUT);
});

describe('constructors and MockKemFaults with hostile arguments', () => {
  const names = fc.constantFrom<unknown>('ML-KEM-768', MOCK_KEM_NAME, X25519_KEM_NAME, 'X-Wing', 'ML-DSA-44', 'nope', '', 7, Symbol('n'), [Symbol('n')], Object.create(null), null);
  const name: Slot = names.map((value) => () => value);
  // Only valid backends: lib/backend.ts checks that option.
  const kemOptions = options({
    backend: fc.constantFrom<() => unknown>(() => 'mock', () => 'auto'),
    faults: fc.constantFrom<() => unknown>(() => new MockKemFaults(), () => ({ take: 1 }), () => 'fail', () => Object.create(null)),
    fallback: fc.constantFrom<() => unknown>(() => ({ isEnabled: 1 }), () => [Symbol('f')], () => 'fallback'),
  });
  const use = {
    kem: async (kemName: string, given: object) => {
      const kem = new Kem(kemName, given);
      await kem.ready();
      kem.generateKeyPair();
      await kem.generateKeyPairAsync();
    },
    sig: (sigName: string, given: object) => new Sig(sigName, given),
  };

  it('new Kem(name, options)', async () => {
    await expectOnlyPqcErrors('new', use, 'kem', [name, kemOptions], fuzzRuns(200, 5000));
  }, FUZZ_TIMEOUT);

  it('new Sig(name, options)', async () => {
    await expectOnlyPqcErrors('new', use, 'sig', [name, options({})], fuzzRuns(100, 5000));
  }, FUZZ_TIMEOUT);

  it('MockKemFaults.inject(fault, options)', async () => {
    const faults = fc.constantFrom<unknown>('fail', 'corrupt', 'wrong-secret', 'toString', 'constructor', Symbol('f'), [Symbol('f')], Object.create(null), 1);
    const ops = fc.constantFrom<unknown>('keypair', 'encaps', 'decaps', 'toString', Symbol('o'), [Symbol('o')], Object.create(null));
    const times = fc.constantFrom<unknown>(1, 2, 0, 1.5, '1', [Symbol('t')], Object.create(null));
    const fault: Slot = faults.map((value) => () => value);
    const injectOptions = fc.oneof(
      fc.record({ op: fc.option(ops, { nil: undefined }), times: fc.option(times, { nil: undefined }) }).map((o) => () => o),
      fc.constantFrom<() => unknown>(() => null, () => 'x', () => [Symbol('x')]),
    );
    await expectOnlyPqcErrors('MockKemFaults', new MockKemFaults(), 'inject', [fault, injectOptions], fuzzRuns(200, 5000));
  }, FUZZ_TIMEOUT);
});

describe('a single call names its own argument; messages say what they got', () => {
  const kem = new Kem('ML-KEM-512');
  const sig = new Sig('ML-DSA-44');
  const { publicKey, secretKey } = kem.generateKeyPair();
  const { ciphertext } = kem.encapsulate(publicKey);
  const message = async (promise: Promise<unknown>) => ((await promise.catch((error: unknown) => error)) as PqcError).message;

  it('the …Async calls, not the batch they run as', async () => {
    expect(await message(kem.encapsulateAsync(publicKey.subarray(1)))).toMatch(/^publicKey must be/);
    expect(await message(kem.encapsulateAsync(publicKey, { seed: new Uint8Array(3) }))).toMatch(/^seed must be|^ML-KEM-512: encapsulation from a seed/);
    expect(await message(kem.decapsulateAsync(ciphertext.subarray(1), secretKey))).toMatch(/^ciphertext must be/);
    expect(await message(kem.decapsulateAsync(ciphertext, 'key' as never))).toMatch(/^secretKey must be a Uint8Array, got string "key"/);
    expect(await message(kem.generateKeyPairAsync({ seed: 5 as never }))).toMatch(/^seed must be|from a seed is not available/);
    expect(await message(sig.signAsync('hello' as never, secretKey))).toBe('message must be a Uint8Array, got string "hello"');
    expect(await message(sig.verifyAsync(Uint8Array.of(1), 'sig' as never, publicKey))).toMatch(/^signature must be a Uint8Array/);
  });

  it('a seeds option that is not an array is refused, not ignored', async () => {
    for (const seeds of [null, 0, '', false]) {
      await expect(kem.generateKeyPairMany(1, { seeds } as never)).rejects.toBeInstanceOf(PqcError);
      await expect(kem.encapsulateMany([publicKey], { seeds } as never)).rejects.toBeInstanceOf(PqcError);
    }
  });

  it('what was given instead', async () => {
    expect(await message(kem.encapsulateMany([new ArrayBuffer(800) as never]))).toBe('publicKeys[0] must be a Uint8Array, got ArrayBuffer(800)');
    expect(await message(kem.encapsulateAsync(Promise.resolve(publicKey) as never))).toBe('publicKey must be a Uint8Array, got Promise (missing await?)');
    expect(await message(kem.generateKeyPairMany('10' as never))).toBe('count must be an integer from 1 to 1048576, got string "10"');
    expect(await message(kem.generateKeyPairMany([Symbol('n')] as never))).toBe('count must be an integer from 1 to 1048576, got Array(1)');
    expect(await message(kem.encapsulateMany([, publicKey] as never))).toBe('publicKeys[0] must be a Uint8Array, got undefined');
    expect(await message(kem.encapsulateAsync(new Proxy(publicKey, {})))).toBe('publicKey must be a Uint8Array, got Proxy');
    expect(await message(kem.encapsulateAsync(new Uint16Array(400) as never))).toBe('publicKey must be a Uint8Array, got Uint16Array(800 bytes)');
    const lookAlike = Object.create(Uint8Array.prototype) as Uint8Array;
    expect(await message(kem.encapsulateAsync(lookAlike))).toBe('publicKey must be a Uint8Array, got Uint8Array look-alike (not a real Uint8Array)');
    // A long string could be an encoded key: it is never quoted.
    const encoded = Buffer.from(secretKey).toString('base64');
    expect(await message(kem.decapsulateAsync(ciphertext, encoded as never))).toBe(`secretKey must be a Uint8Array, got string of ${encoded.length} characters`);
  });
});

describe('the backend option', () => {
  it('refuses values whose printing would throw with a PqcError', () => {
    for (const backend of [[Symbol('x')], Object.create(null), Symbol('y')]) {
      expect(() => new Kem('ML-KEM-768', { backend } as never)).toThrow(expect.objectContaining({ code: 'ERR_PQC_UNSUPPORTED_BACKEND' }));
    }
  });
});
