import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SecretBytes } from '../lib/bytes.js';
import { Op } from '../lib/engine.js';
import { PqcError } from '../lib/errors.js';
import type { Addon, NativeAlgorithm } from '../lib/native/addon.js';
import { NativeKemEngine } from '../lib/native/native-backend.js';

/**
 * How lib/native/native-backend.ts cuts a batch into parts and puts the parts' results
 * together, against a stand-in for the addon's Algorithm (no liboqs needed): order, secrets
 * copied out and the shared copy wiped, and failures that wait for the other parts and wipe them.
 */
const CT = 4;
const SS = 2;

interface Part {
  items: number;
  ciphertexts: Uint8Array;
  secrets: Uint8Array;
  settled: boolean;
}

function fakeEngine(fail?: { part: number; how: 'throw' | 'reject' }) {
  const parts: Part[] = [];
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
      const part: Part = { items: count, ciphertexts: new Uint8Array(count * CT), secrets: new Uint8Array(count * SS), settled: false };
      publicKeys.forEach((key, i) => {
        part.ciphertexts.fill(key[0]!, i * CT, (i + 1) * CT);
        part.secrets.fill(key[0]! ^ 0xff, i * SS, (i + 1) * SS);
      });
      parts.push(part);
      return sleep(5 + 5 * (index % 3)).then(() => {
        part.settled = true;
        if (fail?.part === index) throw new PqcError('ERR_PQC_OPERATION_FAILED', `part ${index} failed`);
        return [part.ciphertexts, part.secrets, new Float64Array(count), [false, true]] as Awaited<ReturnType<NativeAlgorithm['runAsync']>>;
      });
    }
  }
  const addon = { Algorithm: FakeAlgorithm } as unknown as Addon;
  const liboqs = { path: 'fake', version: '0.16.0', kemKeypairDerand: false, kemEncapsDerand: false, sigContext: true };
  return { engine: new NativeKemEngine('ML-KEM-768', { addon, liboqs }), parts };
}

const keys = (count: number) => Array.from({ length: count }, (_, i) => Uint8Array.of(i % 251, 0, 0, 0, 0, 0, 0, 0));
const COUNT = 200;
// One worker per core: with one core the batch is a single part, and there is nothing to cut.
const pipelined = Math.min(availableParallelism(), Number(process.env.UV_THREADPOOL_SIZE) || 4) > 1;

describe.skipIf(!pipelined)(`a batch cut into parts${pipelined ? '' : ' (skipped: one core, so one part)'}`, () => {
  it('returns every item in order, secrets copied into memory of their own and the shared copies wiped', async () => {
    const { engine, parts } = fakeEngine();
    const { outputs } = await engine.runAsync(Op.KemEncaps, COUNT, [keys(COUNT)]);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.reduce((sum, part) => sum + part.items, 0)).toBe(COUNT);
    const [ciphertexts, secrets] = outputs;
    for (let i = 0; i < COUNT; i++) {
      expect(Array.from(ciphertexts![i]!)).toEqual(new Array(CT).fill(i % 251));
      expect(Array.from(secrets![i]!)).toEqual(new Array(SS).fill((i % 251) ^ 0xff));
      expect(secrets![i]).toBeInstanceOf(SecretBytes);
      expect(secrets![i]!.buffer.byteLength).toBe(SS);
    }
    for (const part of parts) expect(part.secrets.every((byte) => byte === 0)).toBe(true);
  });

  for (const how of ['throw', 'reject'] as const) {
    it(`a part that ${how === 'throw' ? 'is refused when queued' : 'fails in the pool'} fails the batch only once every part has settled, all of them wiped`, async () => {
      const { engine, parts } = fakeEngine({ part: 2, how });
      const error = await engine.runAsync(Op.KemEncaps, COUNT, [keys(COUNT)]).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(PqcError);
      expect((error as PqcError).code).toBe(how === 'throw' ? 'ERR_PQC_INVALID_INPUT' : 'ERR_PQC_OPERATION_FAILED');
      // A refused part stops the queueing; a failed one does not.
      if (how === 'throw') expect(parts.length).toBe(2);
      else expect(parts.length).toBeGreaterThan(2);
      const zero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);
      parts.forEach((part, i) => {
        expect(part.settled, `part ${i} settled before the batch failed`).toBe(true);
        // The failed part's own outputs are the addon's to wipe (csrc/batch.cc); the others are ours.
        if (how === 'reject' && i === 2) return;
        expect(zero(part.ciphertexts) && zero(part.secrets), `part ${i} wiped`).toBe(true);
      });
    });
  }
});
