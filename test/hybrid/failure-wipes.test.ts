import { afterEach, describe, expect, it, vi } from 'vitest';
import { createKemEngine } from '../../lib/backend.js';
import { SecretBytes } from '../../lib/bytes.js';
import { Op, type BatchInput, type KemEngine } from '../../lib/engine.js';
import { PqcError } from '../../lib/errors.js';
import { X25519MlKem768Engine } from '../../lib/hybrid/x25519-mlkem768.js';
import { XWingEngine } from '../../lib/hybrid/xwing.js';
import { ready } from '../../lib/index.js';
import type { Steps } from '../../lib/hybrid/pq-steps.js';
import { runSerialBatch } from '../../lib/serial-batch.js';
import { hex, readVectors } from '../support/environment.js';
import { recordSecretCopies } from '../support/secret-copies.js';

/**
 * A failed operation leaves no secret behind in what it allocated, as csrc/batch.cc and
 * lib/native/native-backend.ts do for the native batches (test/native-batch-parts.test.ts): the
 * buffers handed to the parts below are recorded, and once the operation has failed they must
 * all be zero. Items that succeeded before the one that failed are the case that matters: the
 * caller never sees their outputs, so nobody else can wipe them.
 */
await ready();

const zero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);
const nonZero = (bytes: Uint8Array) => bytes.some((byte) => byte !== 0);

async function failure(run: () => unknown): Promise<PqcError> {
  const error = await Promise.resolve()
    .then(run)
    .then(
      () => undefined,
      (caught: unknown) => caught,
    );
  expect(error).toBeInstanceOf(PqcError);
  return error as PqcError;
}

describe('runSerialBatch', () => {
  // A stand-in engine: each item fills its outputs with non-zero bytes; item `failAt` throws after writing.
  function recordingEngine(failAt: number) {
    const written: Uint8Array[] = [];
    let item = 0;
    const engine = {
      run(_op: Op, ...operands: Uint8Array[]) {
        const outputs = operands.slice(1);
        for (const output of outputs) output.fill(0xa5);
        written.push(...outputs);
        if (item++ === failAt) throw new PqcError('ERR_PQC_OPERATION_FAILED', `item ${failAt} failed`);
        return 0;
      },
    };
    return { engine, written };
  }

  it('wipes the outputs of the items run before the one that failed, and its own', async () => {
    const { engine, written } = recordingEngine(3);
    const inputs = [Array.from({ length: 6 }, () => new Uint8Array(4))];
    await failure(() => runSerialBatch(engine, Op.KemEncaps, 6, inputs, [4, 2]));
    expect(written.length).toBe(8);
    written.forEach((output, i) => expect(zero(output), `output ${i} wiped`).toBe(true));
  });

  it('leaves the outputs of a batch that succeeded', () => {
    const { engine } = recordingEngine(-1);
    const { outputs } = runSerialBatch(engine, Op.KemEncaps, 3, [[new Uint8Array(4), new Uint8Array(4), new Uint8Array(4)]], [4, 2]);
    for (const items of outputs) for (const output of items) expect(nonZero(output)).toBe(true);
  });
});

/** An ML-KEM-768 engine that records the secret outputs of its batches, or fails them. */
function recordingPq(options: { fail?: boolean } = {}) {
  const real = createKemEngine('ML-KEM-768');
  const secrets: Uint8Array[] = [];
  const engine: KemEngine = {
    backend: real.backend,
    name: real.name,
    // X-Wing needs key generation from a seed; a failing stand-in claims it.
    lengths: options.fail ? { ...real.lengths, keypairSeed: 64, encapsSeed: 32 } : real.lengths,
    seedUnsupportedReason: real.seedUnsupportedReason,
    checksMlKemKeys: real.checksMlKemKeys,
    isReady: () => real.isReady(),
    ready: () => real.ready(),
    run(op: Op, ...operands: Uint8Array[]) {
      if (options.fail) throw new PqcError('ERR_PQC_OPERATION_FAILED', 'ML-KEM failed');
      return real.run(op, ...operands);
    },
    async runAsync(op: Op, count: number, inputs: BatchInput[]) {
      if (options.fail) throw new PqcError('ERR_PQC_OPERATION_FAILED', 'ML-KEM failed');
      const result = await real.runAsync(op, count, inputs);
      // The last output is the secret one: the secret key, or the shared secret.
      secrets.push(...result.outputs.at(-1)!);
      return result;
    },
  };
  return { engine, secrets };
}

/** X25519MLKEM768 recording the shared secrets it writes. */
class RecordingX25519MlKem768 extends X25519MlKem768Engine {
  readonly combined: Uint8Array[] = [];

  protected override combine(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array, out: Uint8Array): void {
    this.combined.push(out);
    super.combine(ssM, ssX, ctX, pkX, out);
  }
}

// A small-order X25519 point: its shared secret is all zero, which X25519MLKEM768 refuses.
const lowOrderPoint = (() => {
  const file = readVectors<{ testGroups: { tests: { public: string; shared: string }[] }[] }>('wycheproof/x25519_test.json');
  return hex(file.testGroups.flatMap((group) => group.tests).find((t) => t.shared === '00'.repeat(32))!.public);
})();

describe('X25519MLKEM768: a batch refused at item i wipes the shared secrets of items 0…i−1', () => {
  const pk = 1184;
  const ct = 1088;

  function setup() {
    const pq = recordingPq();
    const engine = new RecordingX25519MlKem768('X25519MLKEM768', pq.engine);
    const publicKey = new Uint8Array(engine.lengths.publicKey);
    const secretKey = SecretBytes.alloc(engine.lengths.secretKey);
    engine.run(Op.KemKeypair, publicKey, secretKey);
    return { pq, engine, publicKey, secretKey };
  }

  it('encapsulation', async () => {
    const { pq, engine, publicKey } = setup();
    const badKey = publicKey.slice();
    badKey.set(lowOrderPoint, pk);
    const error = await failure(() => engine.runAsync(Op.KemEncaps, 4, [[publicKey, publicKey, publicKey, badKey]]));
    expect(error.message).toMatch(/all zero/);
    // Items 0 to 2 were combined (and written); item 3 was refused before its output was written.
    expect(engine.combined.length).toBe(4);
    engine.combined.forEach((out, i) => expect(zero(out), `shared secret ${i} wiped`).toBe(true));
    expect(pq.secrets.length).toBe(4);
    pq.secrets.forEach((ss, i) => expect(zero(ss), `ML-KEM shared secret ${i} wiped`).toBe(true));
  });

  it('decapsulation', async () => {
    const { engine, publicKey, secretKey } = setup();
    const { outputs } = await engine.runAsync(Op.KemEncaps, 1, [[publicKey]]);
    const ciphertext = outputs[0]![0]!;
    const badCiphertext = ciphertext.slice();
    badCiphertext.set(lowOrderPoint, ct);
    engine.combined.length = 0;
    await failure(() => engine.runAsync(Op.KemDecaps, 3, [[ciphertext, ciphertext, badCiphertext], secretKey]));
    expect(engine.combined.length).toBe(3);
    engine.combined.forEach((out, i) => expect(zero(out), `shared secret ${i} wiped`).toBe(true));
  });

  it('a bad secret key among good ones leaves no copies of the good ones', async () => {
    const { engine, publicKey, secretKey } = setup();
    const { outputs } = await engine.runAsync(Op.KemEncaps, 1, [[publicKey]]);
    const ciphertext = outputs[0]![0]!;
    // Good keys not remembered yet (a copy each), then one whose H(ek) no longer matches.
    const good = [SecretBytes.copyOf(secretKey), SecretBytes.copyOf(secretKey)];
    const bad = SecretBytes.copyOf(secretKey);
    bad[2400 - 64] ^= 1;
    const copies = recordSecretCopies();
    const error = await failure(() => engine.runAsync(Op.KemDecaps, 3, [[ciphertext, ciphertext, ciphertext], [...good, bad]]));
    expect(error.message).toMatch(/hash check/);
    copies.forEach((copy, i) => expect(zero(copy), `copy ${i} wiped`).toBe(true));
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });
});

/** X-Wing recording the secret keys it generates into. */
class RecordingXWing extends XWingEngine {
  readonly secretKeys: Uint8Array[] = [];

  protected override *generateKeyPairs(seeds: Uint8Array[] | undefined, publicKeys: Uint8Array[], secretKeys: Uint8Array[]): Steps<void> {
    this.secretKeys.push(...secretKeys);
    yield* super.generateKeyPairs(seeds, publicKeys, secretKeys);
  }
}

describe('X-Wing: a key generation whose ML-KEM call fails leaves no secret key behind', () => {
  // The secret key (a random seed) is written before the ML-KEM call that expands it.
  it('in a batch', async () => {
    const engine = new RecordingXWing('X-Wing', recordingPq({ fail: true }).engine);
    await failure(() => engine.runAsync(Op.KemKeypair, 3, []));
    expect(engine.secretKeys.length).toBe(3);
    engine.secretKeys.forEach((sk, i) => expect(zero(sk), `secret key ${i} wiped`).toBe(true));
  });

  it("in the caller's buffers", async () => {
    const engine = new RecordingXWing('X-Wing', recordingPq({ fail: true }).engine);
    const publicKey = new Uint8Array(engine.lengths.publicKey);
    const secretKey = new Uint8Array(engine.lengths.secretKey);
    await failure(() => engine.run(Op.KemKeypair, publicKey, secretKey));
    expect(engine.secretKeys).toEqual([secretKey]);
    expect(zero(secretKey)).toBe(true);
  });
});
