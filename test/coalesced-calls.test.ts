import { describe, expect, it, vi } from 'vitest';
import { collectGarbage } from '../lib/bench/timing.js';
import { CoalescedCalls, type CallShape } from '../lib/coalesced-calls.js';
import { batchItem, Op, type BatchInput, type BatchResult } from '../lib/engine.js';
import { PqcError } from '../lib/errors.js';
import { Kem, ready, SecretBytes, Sig } from '../lib/index.js';
import { NativeKemEngine, NativeSigEngine } from '../lib/native/native-backend.js';
import { WasmKemEngine, WasmSigEngine } from '../lib/wasm/wasm-backend.js';
import { environment, native, NATIVE_SKIP, nativeChildEnv, runInChild, toHex } from './support/environment.js';

await ready();

/**
 * Concurrent single …Async calls gathered into shared runs (lib/coalesced-calls.ts): first how
 * calls are gathered, against a stand-in engine whose runs settle when the test says; then, with
 * real ML-KEM and ML-DSA keys, that gathered calls give what the sync calls give, each error
 * staying with its own call.
 */
interface Run {
  op: Op;
  count: number;
  inputs: BatchInput[];
  settle: () => void;
}

/** An engine whose run for item bytes [b] answers value b, or fails when an item's first byte is 0xff. */
function standIn(parallelism: number | undefined) {
  const runs: Run[] = [];
  const engine = {
    parallelism,
    runAsync(op: Op, count: number, inputs: BatchInput[]): Promise<BatchResult> {
      return new Promise((resolve, reject) => {
        const settle = () => {
          const items = Array.from({ length: count }, (_, i) => batchItem(inputs[0]!, i)[0]!);
          if (items.includes(0xff)) reject(new PqcError('ERR_PQC_OPERATION_FAILED', 'an item failed'));
          else resolve({ outputs: [items.map((b) => Uint8Array.of(b, op))], values: Float64Array.from(items) });
        };
        runs.push({ op, count, inputs, settle });
      });
    },
  };
  /** Settles every run made so far, and those they make in turn, until none is left. */
  const settleAll = async () => {
    for (let settled = 0; settled < runs.length || (await Promise.resolve(), settled < runs.length); settled++) {
      runs[settled]!.settle();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { calls: new CoalescedCalls(engine), runs, settleAll };
}

const item = (byte: number) => [Uint8Array.of(byte)];
/** A call's share of its run, as the stand-in engine made it. */
const itemOf: CallShape<{ output: Uint8Array; value: number }> = { result: ({ outputs, values }, i) => ({ output: outputs[0]![i]!, value: values[i]! }) };
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('gathering concurrent calls', () => {
  it('a lone call runs alone, at once, and completes', async () => {
    const { calls, runs, settleAll } = standIn(2);
    const result = calls.run(Op.KemEncaps, item(7), itemOf);
    await Promise.resolve();
    expect(runs.map((run) => run.count)).toEqual([1]);
    await settleAll();
    const call = await result;
    expect([call.output, call.value]).toEqual([Uint8Array.of(7, Op.KemEncaps), 7]);
  });

  it('calls made in one synchronous stretch go in one run; while `parallelism` runs are in flight the rest wait and go together', async () => {
    const { calls, runs, settleAll } = standIn(2);
    const first = Array.from({ length: 5 }, (_, i) => calls.run(Op.KemEncaps, item(i), itemOf));
    await flush();
    const second = Array.from({ length: 3 }, (_, i) => calls.run(Op.KemEncaps, item(10 + i), itemOf));
    await flush();
    // Two runs in flight: these wait.
    const waiting = [calls.run(Op.KemEncaps, item(20), itemOf)];
    await flush();
    waiting.push(calls.run(Op.KemEncaps, item(21), itemOf));
    await flush();
    expect(runs.map((run) => run.count)).toEqual([5, 3]);
    await settleAll();
    expect(runs.map((run) => run.count)).toEqual([5, 3, 2]);
    expect((await Promise.all([...first, ...second, ...waiting])).map((result) => result.value)).toEqual([0, 1, 2, 3, 4, 10, 11, 12, 20, 21]);
  });

  it('calls of different kinds are gathered apart', async () => {
    const { calls, runs, settleAll } = standIn(1);
    const results = [calls.run(Op.KemEncaps, item(1), itemOf), calls.run(Op.KemDecaps, item(2), itemOf), calls.run(Op.KemEncaps, item(3), itemOf)];
    await settleAll();
    expect(runs.map((run) => [run.op, run.count])).toEqual([
      [Op.KemEncaps, 2],
      [Op.KemDecaps, 1],
    ]);
    expect((await Promise.all(results)).map((result) => result.output[1])).toEqual([Op.KemEncaps, Op.KemDecaps, Op.KemEncaps]);
  });

  it('an operand every call shares is passed once; one that differs is passed per call', async () => {
    const { calls, runs, settleAll } = standIn(1);
    const shared = Uint8Array.of(9);
    const results = [1, 2, 3].map((b) => calls.run(Op.KemDecaps, [Uint8Array.of(b), shared], itemOf));
    await settleAll();
    expect(Array.isArray(runs[0]!.inputs[0])).toBe(true);
    expect(runs[0]!.inputs[1]).toBe(shared);
    expect((await Promise.all(results)).map((result) => result.value)).toEqual([1, 2, 3]);
  });

  it('one bad input fails only its own call: a failed run is run again in halves', async () => {
    const { calls, runs, settleAll } = standIn(1);
    const bytes = [1, 2, 0xff, 4, 5, 6, 0xff, 8];
    const results = bytes.map((b) => calls.run(Op.KemEncaps, item(b), itemOf).then((r) => r.value, (error: PqcError) => error.code));
    await settleAll();
    expect(await Promise.all(results)).toEqual([1, 2, 'ERR_PQC_OPERATION_FAILED', 4, 5, 6, 'ERR_PQC_OPERATION_FAILED', 8]);
    // 8, then halves of 4, then the failing halves' halves of 2, then the failing ones alone.
    expect(runs.length).toBeLessThan(bytes.length + 1 + 2 + 4);
  });

  it("a call's error is the one its shape makes of its run's error, alone or gathered", async () => {
    const mapped: CallShape<number> = {
      result: ({ values }, i) => values[i]!,
      error: (error) => new PqcError('ERR_PQC_INVALID_INPUT', `mapped ${(error as PqcError).code}`),
    };
    for (const parallelism of [1, undefined]) {
      const { calls, settleAll } = standIn(parallelism);
      const results = [1, 0xff, 3].map((b) => calls.run(Op.KemEncaps, item(b), mapped).catch((error: PqcError) => `${error.code}: ${error.message}`));
      await settleAll();
      expect(await Promise.all(results)).toEqual([1, 'ERR_PQC_INVALID_INPUT: mapped ERR_PQC_OPERATION_FAILED', 3]);
    }
  });

  it('a shape whose error mapping throws still settles its call, with what it threw', async () => {
    const throwing: CallShape<number> = {
      result: ({ values }, i) => values[i]!,
      error: () => {
        throw new PqcError('ERR_PQC_INVALID_INPUT', 'the mapping threw');
      },
    };
    for (const parallelism of [1, undefined]) {
      const { calls, settleAll } = standIn(parallelism);
      const results = [0xff, 2].map((b) => calls.run(Op.KemEncaps, item(b), throwing).catch((error: PqcError) => error.message));
      await settleAll();
      expect(await Promise.all(results)).toEqual(['the mapping threw', 2]);
    }
  });

  it("a shape's result that throws fails only its own call; the result is given the call's own inputs", async () => {
    const picky: CallShape<number> = {
      result: ({ values }, i, inputs) => {
        if (inputs[0]![0] === 2) throw new PqcError('ERR_PQC_INVALID_INPUT', 'two');
        return values[i]! * 10 + inputs[0]![0]!;
      },
    };
    for (const parallelism of [1, undefined]) {
      const { calls, settleAll } = standIn(parallelism);
      const results = [1, 2, 3].map((b) => calls.run(Op.KemEncaps, item(b), picky).catch((error: PqcError) => error.message));
      await settleAll();
      expect(await Promise.all(results)).toEqual([11, 'two', 33]);
    }
  });

  it("lets go of a settled call: neither its promise nor its result (a secret, for most ops) stays reachable", async () => {
    const { calls, settleAll } = standIn(1);
    const released = new Set<string>();
    const finalization = new FinalizationRegistry<string>((what) => released.add(what));
    // In a function of its own, so that no register of this test's suspended frame holds them.
    await (async () => {
      const promise = calls.run(Op.KemEncaps, item(5), itemOf);
      finalization.register(promise, 'promise');
      await settleAll();
      finalization.register(await promise, 'result');
    })();
    for (let i = 0; i < 50 && released.size < 2; i++) {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect([...released].sort()).toEqual(['promise', 'result']);
  });

  it('an engine without parallelism runs each call alone', async () => {
    const { calls, runs, settleAll } = standIn(undefined);
    const results = [1, 2, 3].map((b) => calls.run(Op.KemEncaps, item(b), itemOf));
    await settleAll();
    expect(runs.map((run) => run.count)).toEqual([1, 1, 1]);
    expect((await Promise.all(results)).map((result) => result.value)).toEqual([1, 2, 3]);
  });
});

/** A copy of `key` with byte `at` changed: an ML-KEM key that fails FIPS 203's checks there. */
function spoiled(key: Uint8Array, at: number, value?: number): Uint8Array {
  const copy = Uint8Array.from(key);
  copy[at] = value ?? copy[at]! ^ 0x01;
  return copy;
}

const CALLS = 48;

describe.each(['ML-KEM-512', 'ML-KEM-768'])(`concurrent %s calls on the ${environment.backend} backend`, (name) => {
  const kem = new Kem(name);
  // Both backends gather calls: the native one into pool trips, the WebAssembly one into worker-thread parts.
  const spy = vi.spyOn((native ? NativeKemEngine : WasmKemEngine).prototype, 'runAsync');

  it('gathered decapsulations give what sync decapsulation gives; a key failing the hash check fails only its own call', async () => {
    const pairs = [kem.generateKeyPair(), kem.generateKeyPair()];
    // ek || H(ek) || z close the secret key: a byte of H(ek) changed fails the FIPS 203 hash check (7.3).
    const badKey = spoiled(pairs[0]!.secretKey, kem.secretKeyLength - 64 + 3);
    const cases = Array.from({ length: CALLS }, (_, i) => {
      const pair = pairs[i % 2]!;
      // Every third ciphertext is random: implicit rejection gives a secret all the same.
      const ciphertext = i % 3 === 2 ? Uint8Array.from({ length: kem.ciphertextLength }, (_, k) => (k * 31 + i) & 0xff) : kem.encapsulate(pair.publicKey).ciphertext;
      return { ciphertext, secretKey: i % 7 === 5 ? badKey : pair.secretKey };
    });
    spy.mockClear();
    const outcomes = await Promise.allSettled(cases.map(({ ciphertext, secretKey }) => kem.decapsulateAsync(ciphertext, secretKey)));
    // The calls went to the pool together (those with a bad key were then run again apart).
    expect(spy.mock.calls[0]![1]).toBeGreaterThan(CALLS / 2);
    outcomes.forEach((outcome, i) => {
      const { ciphertext, secretKey } = cases[i]!;
      if (secretKey === badKey) {
        expect(outcome.status, `call ${i}`).toBe('rejected');
        const error = (outcome as PromiseRejectedResult).reason as PqcError;
        expect(error.code).toBe('ERR_PQC_INVALID_INPUT');
        expect(error.message).toMatch(/^secretKey is not a valid .* hash check/);
        return;
      }
      expect(outcome.status, `call ${i}`).toBe('fulfilled');
      const secret = (outcome as PromiseFulfilledResult<SecretBytes>).value;
      expect(secret).toBeInstanceOf(SecretBytes);
      expect(secret.buffer.byteLength).toBe(32);
      expect(toHex(secret)).toBe(toHex(kem.decapsulate(ciphertext, secretKey)));
    });
  });

  it('gathered encapsulations decapsulate to their secrets; a key failing the modulus check fails only its own call', async () => {
    const pair = kem.generateKeyPair();
    // The first 12-bit coefficient set to 4095 >= q fails the FIPS 203 modulus check (7.2).
    const badKey = spoiled(spoiled(pair.publicKey, 0, 0xff), 1, pair.publicKey[1]! | 0x0f);
    const keys = Array.from({ length: CALLS }, (_, i) => (i % 5 === 3 ? badKey : pair.publicKey));
    const outcomes = await Promise.allSettled(keys.map((key) => kem.encapsulateAsync(key)));
    const seen = new Set<string>();
    outcomes.forEach((outcome, i) => {
      if (keys[i] === badKey) {
        expect(outcome.status, `call ${i}`).toBe('rejected');
        expect(((outcome as PromiseRejectedResult).reason as PqcError).message).toMatch(/^publicKey is not a valid .* modulus check/);
        return;
      }
      const { ciphertext, sharedSecret } = (outcome as PromiseFulfilledResult<{ ciphertext: Uint8Array; sharedSecret: SecretBytes }>).value;
      expect(sharedSecret).toBeInstanceOf(SecretBytes);
      expect(toHex(kem.decapsulate(ciphertext, pair.secretKey))).toBe(toHex(sharedSecret));
      seen.add(toHex(sharedSecret));
    });
    expect(seen.size).toBe(keys.filter((key) => key !== badKey).length);
  });

  it('gathered key generations give working, distinct key pairs', async () => {
    const pairs = await Promise.all(Array.from({ length: 8 }, () => kem.generateKeyPairAsync()));
    expect(new Set(pairs.map((pair) => toHex(pair.publicKey))).size).toBe(8);
    for (const { publicKey, secretKey } of pairs) {
      expect(secretKey).toBeInstanceOf(SecretBytes);
      const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
      expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));
    }
  });
});

describe(`concurrent ML-DSA-44 calls on the ${environment.backend} backend`, () => {
  const sig = new Sig('ML-DSA-44');
  const spy = vi.spyOn((native ? NativeSigEngine : WasmSigEngine).prototype, 'runAsync');

  it('gathered verifications answer what sync verification answers; a bad argument fails only its own call', async () => {
    const signers = [sig.generateKeyPair(), sig.generateKeyPair()];
    const message = (i: number) => Uint8Array.from({ length: 16 + i }, (_, k) => (k * 7 + i) & 0xff);
    const cases = Array.from({ length: CALLS }, (_, i) => {
      const signer = signers[i % 2]!;
      const signature = sig.sign(message(i), signer.secretKey);
      // Some signatures tampered with, some checked against the other key, some cut short;
      // one public key of the wrong length, a caller's mistake.
      if (i % 5 === 1) signature[10] ^= 0x40;
      const publicKey = i % 7 === 3 ? signers[(i + 1) % 2]!.publicKey : i % 11 === 4 ? signer.publicKey.subarray(1) : signer.publicKey;
      return { message: message(i), signature: i % 13 === 6 ? signature.subarray(0, 100) : signature, publicKey };
    });
    spy.mockClear();
    const outcomes = await Promise.allSettled(cases.map((c) => sig.verifyAsync(c.message, c.signature, c.publicKey)));
    expect(spy.mock.calls[0]![1]).toBeGreaterThan(CALLS / 2);
    let valid = 0;
    outcomes.forEach((outcome, i) => {
      const c = cases[i]!;
      let expected: boolean | string;
      try {
        expected = sig.verify(c.message, c.signature, c.publicKey);
      } catch (error) {
        expected = (error as PqcError).code;
      }
      const got = outcome.status === 'fulfilled' ? outcome.value : ((outcome as PromiseRejectedResult).reason as PqcError).code;
      expect(got, `call ${i}`).toBe(expected);
      if (got === true) valid++;
    });
    expect(valid).toBeGreaterThan(CALLS / 3);
    expect(valid).toBeLessThan(CALLS);
  });

  it('gathered signatures, with different keys and contexts, verify', async () => {
    const signers = [sig.generateKeyPair(), sig.generateKeyPair()];
    const contexts = sig.contextSupported ? [new Uint8Array(0), Uint8Array.of(1, 2, 3)] : [new Uint8Array(0)];
    const message = Uint8Array.of(1, 2, 3, 4);
    const jobs = Array.from({ length: 12 }, (_, i) => ({ signer: signers[i % 2]!, context: contexts[i % contexts.length]! }));
    const signatures = await Promise.all(jobs.map(({ signer, context }) => sig.signAsync(message, signer.secretKey, { context })));
    signatures.forEach((signature, i) => {
      const { signer, context } = jobs[i]!;
      expect(signature.length).toBeLessThanOrEqual(sig.signatureLength);
      expect(sig.verify(message, signature, signer.publicKey, { context })).toBe(true);
    });
  });
});

describe.skipIf(!native)(`a process that exits with gathered and batch work in flight${native ? '' : ` (skipped: ${NATIVE_SKIP})`}`, () => {
  const setUp = `const kem = new pqc.Kem('ML-KEM-768');
    const sig = new pqc.Sig('ML-DSA-44');
    const { publicKey, secretKey } = kem.generateKeyPair();
    const signer = sig.generateKeyPair();
    const message = new Uint8Array(32);
    const work = [
      ...Array.from({ length: 2000 }, () => kem.encapsulateAsync(publicKey)),
      ...Array.from({ length: 200 }, () => sig.signAsync(message, signer.secretKey)),
      kem.encapsulateMany(Array(20000).fill(publicKey)),
      kem.decapsulateMany(Array(5000).fill(kem.encapsulate(publicKey).ciphertext), secretKey),
    ];`;

  it('process.exit with the work still running: exit code 0, nothing on stderr', () => {
    const { status, stdout, stderr } = runInChild(
      `${setUp}
      setImmediate(() => { console.log('exiting'); process.exit(0); });`,
      nativeChildEnv(),
    );
    expect({ status, stdout: stdout.trim(), stderr }).toEqual({ status: 0, stdout: 'exiting', stderr: '' });
  });

  it('the end of the script with the work still running: the work finishes, then the process exits 0', () => {
    const { status, stdout, stderr } = runInChild(
      `${setUp}
      Promise.all(work).then((results) => console.log(results.length, results.at(-2).length, results.at(-1).length));`,
      nativeChildEnv(),
    );
    expect({ status, stdout: stdout.trim(), stderr }).toEqual({ status: 0, stdout: '2202 20000 5000', stderr: '' });
  });
});
