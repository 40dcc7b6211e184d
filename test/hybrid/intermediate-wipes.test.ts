import { describe, expect, it, vi } from 'vitest';
import { SecretBytes } from '../../lib/bytes.js';
import { Op, type KemEngine } from '../../lib/engine.js';
import { X25519MlKem768Engine } from '../../lib/hybrid/x25519-mlkem768.js';
import { XWingEngine } from '../../lib/hybrid/xwing.js';
import { ready } from '../../lib/index.js';
import type { X25519, X25519Key } from '../../lib/x25519/index.js';
import { itWith } from '../support/capability.js';
import { hex, readVectors } from '../support/environment.js';
import { recordingMlKem768 } from '../support/recording-kem.js';

/**
 * A hybrid operation that succeeds leaves no secret behind but its outputs and the expanded key
 * it remembers: the ML-KEM and X25519 shared secrets it combined, the ephemeral X25519 key, the
 * ML-KEM secret key X25519MLKEM768 copies into its own, X-Wing's SHAKE256 expansion of a seed
 * and its combiner's input and hash (test/hybrid/failure-wipes.test.ts does the failures). Each
 * buffer is recorded where the engine hands it on, and must be zero once the call has returned.
 */

// X-Wing's combiner hashes with node:crypto's one-shot `hash`: recorded, otherwise unchanged.
const hashed = vi.hoisted(() => [] as { input: Uint8Array; output: Uint8Array }[]);
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  const hash = (...args: Parameters<typeof crypto.hash>) => {
    const output = crypto.hash(...args);
    if (typeof output !== 'string') hashed.push({ input: args[1] as Uint8Array, output });
    return output;
  };
  return { ...crypto, default: { ...crypto, hash }, hash };
});

await ready();

const zero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);
const nonZero = (bytes: Uint8Array) => bytes.some((byte) => byte !== 0);

/** Wraps an X25519 so that every key it makes counts its wipes. */
function recordingX25519(real: X25519) {
  const generated: { key: X25519Key; wipes: number }[] = [];
  const x25519: X25519 = {
    implementation: real.implementation,
    fromScalar: (scalar) => real.fromScalar(scalar),
    generate() {
      const key = real.generate();
      const entry = { key, wipes: 0 };
      generated.push(entry);
      return {
        publicKey: () => key.publicKey(),
        sharedSecret: (peer) => key.sharedSecret(peer),
        wipe: () => {
          entry.wipes++;
          key.wipe();
        },
      };
    },
  };
  return { x25519, generated };
}

type Combine = (ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array, out: Uint8Array) => void;

/** The engine `Base` over a recording ML-KEM-768 and X25519, recording what it combines. */
function recording<E extends X25519MlKem768Engine | XWingEngine>(Base: new (name: string, pq: KemEngine) => E, name: string) {
  const pq = recordingMlKem768();
  const combined: { ssM: Uint8Array; ssX: Uint8Array; out: Uint8Array }[] = [];
  const engine = new Base(name, pq.engine);
  const inner = engine as unknown as { x25519: X25519; combine: Combine };
  const x = recordingX25519(inner.x25519);
  inner.x25519 = x.x25519;
  const combine = inner.combine.bind(engine);
  inner.combine = (ssM, ssX, ctX, pkX, out) => {
    combine(ssM, ssX, ctX, pkX, out);
    combined.push({ ssM, ssX, out });
  };
  return { engine, pq: pq.calls, combined, generated: x.generated };
}

const xwingDraft = readVectors<{ pk: string }[]>('hybrid/xwing-draft-test-vectors.json');

function expectCombinedPartsWiped(combined: { ssM: Uint8Array; ssX: Uint8Array; out: Uint8Array }[], count: number) {
  expect(combined.length).toBe(count);
  for (const [i, { ssM, ssX, out }] of combined.entries()) {
    expect(nonZero(out), `shared secret ${i} written`).toBe(true);
    expect(zero(ssM), `ML-KEM shared secret ${i} wiped`).toBe(true);
    expect(zero(ssX), `X25519 shared secret ${i} wiped`).toBe(true);
  }
}

function expectEphemeralKeysWiped(generated: { wipes: number }[], count: number) {
  expect(generated.length).toBe(count);
  generated.forEach(({ wipes }, i) => expect(wipes, `ephemeral X25519 key ${i} wiped`).toBe(1));
}

describe('X25519MLKEM768 wipes its intermediate secrets after a successful operation', () => {
  const keyPair = (engine: KemEngine) => {
    const publicKey = new Uint8Array(engine.lengths.publicKey);
    const secretKey = SecretBytes.alloc(engine.lengths.secretKey);
    engine.run(Op.KemKeypair, publicKey, secretKey);
    return { publicKey, secretKey };
  };

  it('key generation: the ML-KEM secret key copied into the hybrid one', async () => {
    const { engine, pq } = recording(X25519MlKem768Engine, 'X25519MLKEM768');
    const { secretKey } = keyPair(engine);
    await engine.runAsync(Op.KemKeypair, 2, []);
    expect(pq.map(({ op }) => op)).toEqual([Op.KemKeypair, Op.KemKeypair, Op.KemKeypair]);
    pq.forEach(({ outputs }, i) => expect(zero(outputs[1]!), `ML-KEM secret key ${i} wiped`).toBe(true));
    expect(nonZero(secretKey.subarray(0, 2400))).toBe(true);
  });

  for (const mode of ['run', 'runAsync'] as const) {
    it(`encapsulation and decapsulation (${mode}): both shared secrets and the ephemeral key`, async () => {
      const { engine, combined, generated } = recording(X25519MlKem768Engine, 'X25519MLKEM768');
      const { publicKey, secretKey } = keyPair(engine);
      const ciphertext = new Uint8Array(engine.lengths.ciphertext);
      const sharedSecret = new Uint8Array(engine.lengths.sharedSecret);
      if (mode === 'run') {
        engine.run(Op.KemEncaps, publicKey, ciphertext, sharedSecret);
        engine.run(Op.KemDecaps, ciphertext, secretKey, new Uint8Array(engine.lengths.sharedSecret));
      } else {
        ciphertext.set((await engine.runAsync(Op.KemEncaps, 1, [publicKey])).outputs[0]![0]!);
        await engine.runAsync(Op.KemDecaps, 1, [ciphertext, secretKey]);
      }
      expectCombinedPartsWiped(combined, 2);
      expectEphemeralKeysWiped(generated, 1);
    });
  }
});

describe('X-Wing wipes its intermediate secrets after a successful operation', () => {
  const combinerInputs = () => hashed.filter(({ input }) => input.length === 32 + 3 * 32 + 6);

  for (const mode of ['run', 'runAsync'] as const) {
    it(`encapsulation (${mode}): both shared secrets, the ephemeral key, the combiner's input and hash`, async () => {
      const { engine, combined, generated } = recording(XWingEngine, 'X-Wing');
      hashed.length = 0;
      const publicKey = hex(xwingDraft[0]!.pk);
      if (mode === 'run') {
        engine.run(Op.KemEncaps, publicKey, new Uint8Array(engine.lengths.ciphertext), new Uint8Array(engine.lengths.sharedSecret));
      } else {
        await engine.runAsync(Op.KemEncaps, 2, [publicKey]);
      }
      const count = mode === 'run' ? 1 : 2;
      expectCombinedPartsWiped(combined, count);
      expectEphemeralKeysWiped(generated, count);
      expect(combinerInputs().length).toBe(count);
      for (const { input, output } of combinerInputs()) {
        expect(zero(input), "the combiner's input wiped").toBe(true);
        expect(zero(output), "the combiner's hash wiped").toBe(true);
      }
    });
  }

  itWith(['kemKeypairDerand'], "key generation and decapsulation: the seed's SHAKE256 expansion and both shared secrets", async () => {
    const { engine, pq, combined } = recording(XWingEngine, 'X-Wing');
    const publicKey = new Uint8Array(engine.lengths.publicKey);
    const secretKey = SecretBytes.alloc(engine.lengths.secretKey);
    engine.run(Op.KemKeypair, publicKey, secretKey);
    const { outputs } = await engine.runAsync(Op.KemEncaps, 1, [publicKey]);
    // A copy of the key is not remembered: it is expanded again.
    await engine.runAsync(Op.KemDecaps, 1, [outputs[0]![0]!, SecretBytes.copyOf(secretKey)]);
    const expansions = pq.filter(({ op }) => op === Op.KemKeypairDerand);
    expect(expansions.length).toBe(2);
    expansions.forEach(({ inputs }, i) => expect(zero(inputs[0]!), `expansion ${i} wiped`).toBe(true));
    expectCombinedPartsWiped(combined, 2);
  });
});
