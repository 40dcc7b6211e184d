import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SecretBytes } from '../lib/bytes.js';
import { Op } from '../lib/engine.js';
import { PqcError } from '../lib/errors.js';
import type { Addon, NativeAlgorithm } from '../lib/native/addon.js';
import { NativeKemEngine, PART_LIMIT, PART_BYTES, partSize } from '../lib/native/native-backend.js';
import { parallelThreads } from '../lib/parallel-threads.js';

/**
 * How lib/native/native-backend.ts cuts a batch into parts and puts the parts' results
 * together, against a stand-in for the addon's Algorithm (no liboqs needed): order, parts of
 * bounded size queued and handed out one per turn of the event loop, secrets in memory of their
 * own, and failures that wait for the other parts and wipe them.
 */
const CT = 4;
const SS = 2;

interface Part {
  items: number;
  ciphertexts: Uint8Array;
  secrets: ArrayBuffer[];
  settled: boolean;
  /** The turn of the event loop (counted by `turns`) in which the part was queued. */
  turn: number;
}

/** Counts turns of the event loop: each setImmediate callback schedules the next. */
function turnCounter() {
  const counter = { turn: 0, stop: () => clearImmediate(handle) };
  let handle: NodeJS.Immediate;
  const tick = () => {
    counter.turn++;
    handle = setImmediate(tick);
  };
  handle = setImmediate(tick);
  return counter;
}

function fakeEngine(options: { fail?: { part: number; how: 'throw' | 'reject' }; delay?: (index: number) => number } = {}) {
  const { fail, delay = (index: number) => 5 + 5 * (index % 3) } = options;
  const parts: Part[] = [];
  const turns = turnCounter();
  let inFlight = 0;
  let maxInFlight = 0;
  class FakeAlgorithm {
    readonly publicKeyLength = 8;
    readonly secretKeyLength = 8;
    readonly ciphertextLength = CT;
    readonly sharedSecretLength = SS;
    readonly keypairSeedLength = 0;
    readonly encapsSeedLength = 0;

    runAsync(_op: number, count: number, _workers: number, publicKeys: Uint8Array[]) {
      const index = parts.length;
      if (fail?.part === index && fail.how === 'throw') throw new PqcError('ERR_PQC_INVALID_INPUT', `part ${index} refused`);
      // Each item's outputs carry the first byte of its input, so that order can be checked.
      const part: Part = { items: count, ciphertexts: new Uint8Array(count * CT), secrets: [], settled: false, turn: turns.turn };
      publicKeys.forEach((key, i) => {
        part.ciphertexts.fill(key[0]!, i * CT, (i + 1) * CT);
        part.secrets.push(new Uint8Array(SS).fill(key[0]! ^ 0xff).buffer);
      });
      parts.push(part);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      return sleep(delay(index)).then(() => {
        part.settled = true;
        inFlight--;
        if (fail?.part === index) throw new PqcError('ERR_PQC_OPERATION_FAILED', `part ${index} failed`);
        return [part.ciphertexts, part.secrets, new Float64Array(count)] as Awaited<ReturnType<NativeAlgorithm['runAsync']>>;
      });
    }
  }
  const addon = { Algorithm: FakeAlgorithm } as unknown as Addon;
  const liboqs = { path: 'fake', version: '0.16.0', kemKeypairDerand: false, kemEncapsDerand: false, sigContext: true };
  return { engine: new NativeKemEngine('ML-KEM-768', { addon, liboqs }), parts, turns, maxInFlight: () => maxInFlight };
}

const keys = (count: number) => Array.from({ length: count }, (_, i) => Uint8Array.of(i % 251, 0, 0, 0, 0, 0, 0, 0));
const COUNT = 200;
const threads = parallelThreads;
// One worker per core: with one core a small batch is a single part, and there is nothing to cut.
const pipelined = threads > 1;

async function expectInOrder(count: number, engine: NativeKemEngine) {
  const { outputs } = await engine.runAsync(Op.KemEncaps, count, [keys(count)]);
  const [ciphertexts, secrets] = outputs;
  // Compared in one go: an expect per item would take seconds for the larger batches.
  const wrong: string[] = [];
  for (let i = 0; i < count; i++) {
    const ct = ciphertexts![i]!;
    const ss = secrets![i]!;
    if (ct.length !== CT || ct.some((byte) => byte !== i % 251)) wrong.push(`ciphertext ${i}`);
    if (!(ss instanceof SecretBytes) || ss.buffer.byteLength !== SS || ss.some((byte) => byte !== ((i % 251) ^ 0xff))) wrong.push(`secret ${i}`);
  }
  expect(ciphertexts!.length).toBe(count);
  expect(wrong.slice(0, 5)).toEqual([]);
}

describe('batch parts of bounded size', () => {
  // Sizes at and around the part limit, and the smallest.
  const sizes = [1, 2, 31, 32, 33, PART_LIMIT - 1, PART_LIMIT, PART_LIMIT + 1, 2 * PART_LIMIT, 5 * PART_LIMIT + 3];
  for (const count of sizes) {
    it(`${count} items: parts of at most ${PART_LIMIT} covering every item once, in order`, async () => {
      const { engine, parts, turns } = fakeEngine({ delay: () => 0 });
      try {
        await expectInOrder(count, engine);
      } finally {
        turns.stop();
      }
      expect(parts.reduce((sum, part) => sum + part.items, 0)).toBe(count);
      for (const part of parts) expect(part.items).toBeLessThanOrEqual(PART_LIMIT);
      expect(parts.length).toBe(Math.ceil(count / partSize(count)));
    });
  }

  it('partSize: one part for a batch too small to share out, never more than the limit', () => {
    expect(partSize(1)).toBe(1);
    expect(partSize(31)).toBe(31);
    for (const count of [32, 1000, PART_LIMIT, PART_LIMIT + 1, 10 ** 6]) {
      expect(partSize(count)).toBeLessThanOrEqual(PART_LIMIT);
      expect(partSize(count)).toBeGreaterThanOrEqual(pipelined ? 16 : Math.min(count, PART_LIMIT));
    }
  });

  it('partSize: parts hold at most PART_BYTES of the calling thread\'s new memory (key pairs\' secret keys, input copies), never fewer than 16 items', () => {
    // Secret keys of the key pairs, and a public key or a signature and its message of the inputs.
    for (const itemBytes of [2400, 3168, 2560, 4032, 4896, 1184, 4627 + 64]) {
      const limit = Math.floor(PART_BYTES / itemBytes);
      for (const count of [limit + 1, 4096, 10 ** 6]) {
        expect(partSize(count, itemBytes)).toBeLessThanOrEqual(limit);
        expect(partSize(count, itemBytes)).toBeGreaterThanOrEqual(pipelined ? 16 : limit);
      }
    }
    // A 32-byte shared secret is far from the bound: the item limit applies.
    expect(partSize(10 ** 6, 32)).toBe(partSize(10 ** 6));
    expect(partSize(8, 4896)).toBe(8);
  });

  it('cuts parts by the bytes of the inputs it copies: a part of 4 KiB items holds at most PART_BYTES of them', async () => {
    const { engine, parts, turns } = fakeEngine({ delay: () => 0 });
    const itemBytes = 4096;
    const count = 4 * PART_LIMIT;
    const large = Array.from({ length: count }, (_, i) => new Uint8Array(itemBytes).fill(i % 251));
    try {
      const { outputs } = await engine.runAsync(Op.KemEncaps, count, [large]);
      expect(outputs[0]!.map((ct) => ct[0])).toEqual(large.map((key) => key[0]));
    } finally {
      turns.stop();
    }
    const limit = PART_BYTES / itemBytes;
    expect(parts.map((part) => part.items)).toEqual(Array.from({ length: count / limit }, () => limit));
    // The same count of 8-byte items goes in larger parts: only the item limits bind them.
    expect(partSize(count, 8)).toBe(partSize(count));
    expect(partSize(count, 8)).toBeGreaterThan(limit);
  });

  it('after the first parts, one part is queued per turn of the event loop, and the number in flight is bounded', async () => {
    const count = 40 * PART_LIMIT;
    const { engine, parts, turns, maxInFlight } = fakeEngine({ delay: (index) => index % 4 });
    try {
      await expectInOrder(count, engine);
    } finally {
      turns.stop();
    }
    const perTurn = new Map<number, number>();
    for (const part of parts.slice(threads)) perTurn.set(part.turn, (perTurn.get(part.turn) ?? 0) + 1);
    expect(Math.max(...perTurn.values())).toBe(1);
    expect(maxInFlight()).toBeLessThanOrEqual(threads * 4);
    expect(parts.length).toBe(40);
  });
});

describe.skipIf(!pipelined)(`filling the pipeline${pipelined ? '' : ' (skipped: one core, so one part)'}`, () => {
  it('queues parts behind the first ones before any part is back, one per turn', async () => {
    const count = 40 * PART_LIMIT;
    const { engine, parts, turns } = fakeEngine({ delay: (index) => (index < threads * 4 ? 500 : 0) });
    const batch = engine.runAsync(Op.KemEncaps, count, [keys(count)]);
    try {
      for (let turn = 0; turn < 2 * threads * 4; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(parts.some((part) => part.settled)).toBe(false);
      expect(parts.length).toBe(threads * 4);
      await batch;
    } finally {
      turns.stop();
    }
  });
});

describe.skipIf(!pipelined)(`a batch cut into parts${pipelined ? '' : ' (skipped: one core, so one part)'}`, () => {
  it('returns every item in order, each secret in memory of its own', async () => {
    const { engine, parts, turns } = fakeEngine();
    try {
      await expectInOrder(COUNT, engine);
    } finally {
      turns.stop();
    }
    expect(parts.length).toBeGreaterThan(1);
  });

  for (const how of ['throw', 'reject'] as const) {
    it(`a part that ${how === 'throw' ? 'is refused when queued' : 'fails in the pool'} fails the batch only once every part has settled, all of them wiped`, async () => {
      const { engine, parts, turns } = fakeEngine({ fail: { part: 2, how } });
      const error = await engine.runAsync(Op.KemEncaps, COUNT, [keys(COUNT)]).catch((caught: unknown) => caught);
      turns.stop();
      expect(error).toBeInstanceOf(PqcError);
      expect((error as PqcError).code).toBe(how === 'throw' ? 'ERR_PQC_INVALID_INPUT' : 'ERR_PQC_OPERATION_FAILED');
      // A refused part stops the queueing; a failed one does not stop the parts already queued.
      if (how === 'throw') expect(parts.length).toBe(2);
      else expect(parts.length).toBeGreaterThan(2);
      const zero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);
      parts.forEach((part, i) => {
        expect(part.settled, `part ${i} settled before the batch failed`).toBe(true);
        // The failed part's own outputs are the addon's to wipe (csrc/batch.cc); the others are ours.
        if (how === 'reject' && i === 2) return;
        expect(zero(part.ciphertexts) && part.secrets.every((secret) => zero(new Uint8Array(secret))), `part ${i} wiped`).toBe(true);
      });
    });
  }
});
