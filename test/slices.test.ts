import { describe, expect, it } from 'vitest';
import { Kem, ready, Sig } from '../lib/index.js';
import { eachInSlices, mapInSlices, SLICE_ITEMS } from '../lib/slices.js';
import { environment } from './support/environment.js';

await ready();

/**
 * Per-item work on the calling thread in slices between turns of the event loop (lib/slices.ts),
 * and the batch checks and results made that way: at and around the slice size, the same items,
 * the same order and the same per-item errors as a batch made in one go.
 */
const SIZES = [1, 2, SLICE_ITEMS - 1, SLICE_ITEMS, SLICE_ITEMS + 1, 2 * SLICE_ITEMS, 3 * SLICE_ITEMS + 7];

/** The turn of the event loop, counted by a chain of setImmediate callbacks, while `run` runs. */
async function countingTurns<T>(run: (turn: () => number) => Promise<T>): Promise<T> {
  let turn = 0;
  let handle: NodeJS.Immediate;
  const tick = () => {
    turn++;
    handle = setImmediate(tick);
  };
  handle = setImmediate(tick);
  try {
    return await run(() => turn);
  } finally {
    clearImmediate(handle!);
  }
}

describe('slices', () => {
  it('nothing to do for no items', async () => {
    expect(await mapInSlices(0, () => 1)).toEqual([]);
    let calls = 0;
    await eachInSlices(0, () => calls++);
    expect(calls).toBe(0);
  });

  for (const count of SIZES) {
    it(`${count} items: each made once, in order, ${SLICE_ITEMS} per turn of the event loop at most`, async () => {
      const turns = await countingTurns(async (turn) => {
        const seen: number[] = [];
        const made = await mapInSlices(count, (i) => {
          seen.push(turn());
          return i * 3;
        });
        expect(made).toEqual(Array.from({ length: count }, (_, i) => i * 3));
        return seen;
      });
      const perTurn = new Map<number, number>();
      for (const turn of turns) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
      expect(Math.max(...perTurn.values())).toBe(Math.min(count, SLICE_ITEMS));
      expect(perTurn.size).toBe(Math.ceil(count / SLICE_ITEMS));
    });
  }

  it('a batch of one slice runs at once, without waiting for a turn', async () => {
    await countingTurns(async (turn) => {
      const before = turn();
      const seen: number[] = [];
      const pending = mapInSlices(SLICE_ITEMS, () => seen.push(turn()));
      expect(seen.length).toBe(SLICE_ITEMS);
      await pending;
      expect(new Set(seen)).toEqual(new Set([before]));
    });
  });
});

describe(`batch checks and results in slices on the ${environment.backend} backend`, () => {
  const kem = new Kem('ML-KEM-512');
  const sig = new Sig('ML-DSA-44');
  const pair = kem.generateKeyPair();
  const signer = sig.generateKeyPair();

  for (const count of [SLICE_ITEMS - 1, SLICE_ITEMS, SLICE_ITEMS + 1]) {
    it(`${count} encapsulations decapsulate to their secrets, in order`, async () => {
      const encapsulations = await kem.encapsulateMany(new Array(count).fill(pair.publicKey));
      const secrets = await kem.decapsulateMany(encapsulations.map((e) => e.ciphertext), pair.secretKey);
      expect(secrets.length).toBe(count);
      const wrong = secrets.filter((secret, i) => Buffer.compare(secret, encapsulations[i]!.sharedSecret) !== 0);
      expect(wrong.length).toBe(0);
    });
  }

  it('a bad item after the first slice is refused with the message it has in a batch of one slice', async () => {
    const keys = new Array(SLICE_ITEMS + 10).fill(pair.publicKey);
    keys[SLICE_ITEMS + 3] = new Uint8Array(5);
    await expect(kem.encapsulateMany(keys)).rejects.toMatchObject({
      code: 'ERR_PQC_INVALID_INPUT',
      message: `publicKeys[${SLICE_ITEMS + 3}] must be ${kem.publicKeyLength} bytes (ML-KEM-512 public key), got 5`,
    });
    await expect(kem.encapsulateMany([pair.publicKey, new Uint8Array(5)])).rejects.toMatchObject({
      message: `publicKeys[1] must be ${kem.publicKeyLength} bytes (ML-KEM-512 public key), got 5`,
    });
    // The first bad item is the one named, wherever the slices fall.
    keys[2] = 'not bytes';
    await expect(kem.encapsulateMany(keys)).rejects.toMatchObject({ message: 'publicKeys[2] must be a Uint8Array, got string "not bytes"' });
  });

  it('empty and non-array batches, and bad items of every kind, keep their errors', async () => {
    await expect(kem.encapsulateMany([])).rejects.toMatchObject({
      code: 'ERR_PQC_INVALID_INPUT',
      message: 'publicKeys must be an array of 1 to 1048576 Uint8Array, got Array(0)',
    });
    await expect(kem.decapsulateMany(null as never, pair.secretKey)).rejects.toMatchObject({
      message: 'ciphertexts must be an array of 1 to 1048576 Uint8Array, got null',
    });
    const ct = kem.encapsulate(pair.publicKey).ciphertext;
    const cts = new Array(SLICE_ITEMS + 1).fill(ct);
    await expect(kem.decapsulateMany(cts, [...new Array(SLICE_ITEMS).fill(pair.secretKey), pair.publicKey])).rejects.toMatchObject({
      message: `secretKey[${SLICE_ITEMS}] must be ${kem.secretKeyLength} bytes (ML-KEM-512 secret key), got ${kem.publicKeyLength}`,
    });
    const messages = new Array(SLICE_ITEMS + 2).fill(new Uint8Array(3));
    const holey = [...messages];
    delete holey[SLICE_ITEMS + 1];
    await expect(sig.signMany(holey, signer.secretKey)).rejects.toMatchObject({
      message: `messages[${SLICE_ITEMS + 1}] must be a Uint8Array, got undefined`,
    });
    const signatures = await sig.signMany(messages, signer.secretKey);
    const verdicts = await sig.verifyMany(messages, signatures, signer.publicKey);
    expect(verdicts.length).toBe(messages.length);
    expect(verdicts.every((verdict) => verdict === true)).toBe(true);
  });
});
