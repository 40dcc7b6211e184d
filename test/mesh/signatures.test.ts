import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { Sig } from '../../lib/sig.js';
import { sigFor, verifyAll, type SignedItem } from '../../lib/mesh/signatures.js';
import { NATIVE_SKIP } from '../support/environment.js';

/**
 * lib/mesh/signatures.ts: one shared Sig per algorithm and backend, and verifyAll, which batches
 * ML-DSA verifications by algorithm and must give each item's answer at the item's place.
 */
await ready();
/** One key pair per algorithm; each item signs its own message. */
const signers = Object.fromEntries(
  await Promise.all(
    ['ML-DSA-44', 'ML-DSA-65'].map(async (algorithm) => {
      const sig = new Sig(algorithm);
      return [algorithm, { sig, pair: await sig.generateKeyPairAsync() }] as const;
    }),
  ),
);

describe('sigFor', () => {
  it('gives one Sig per algorithm and backend, "auto" when none is named', () => {
    const sig = sigFor('ML-DSA-65');
    expect(sig).toBeInstanceOf(Sig);
    expect(sig.name).toBe('ML-DSA-65');
    expect(sigFor('ML-DSA-65')).toBe(sig);
    expect(sigFor('ML-DSA-65', 'auto')).toBe(sig);
    expect(sig.backend).toBe(new Sig('ML-DSA-65').backend);
    expect(sigFor('ML-DSA-44')).not.toBe(sig);
    expect(sigFor('ML-DSA-44').name).toBe('ML-DSA-44');
  });

  it('keeps a Sig asked for by backend apart from the automatic one', () => {
    const wasm = sigFor('ML-DSA-65', 'wasm');
    expect(wasm.backend).toBe('wasm');
    expect(sigFor('ML-DSA-65', 'wasm')).toBe(wasm);
    expect(sigFor('ML-DSA-65', 'auto')).not.toBe(wasm);
  });

  it.skipIf(NATIVE_SKIP !== '')(`keeps the native and WebAssembly Sigs apart${NATIVE_SKIP ? `: skipped, ${NATIVE_SKIP}` : ''}`, () => {
    expect(sigFor('ML-DSA-65', 'native').backend).toBe('native');
    expect(sigFor('ML-DSA-65', 'wasm').backend).toBe('wasm');
  });
});

describe('verifyAll', () => {
  const message = (i: number) => new TextEncoder().encode(`item ${i}`);

  async function signed(algorithm: string, i: number): Promise<SignedItem> {
    const { sig, pair } = signers[algorithm]!;
    const data = message(i);
    return { data, signature: await sig.signAsync(data, pair.secretKey), algorithm, publicKey: pair.publicKey };
  }

  it('answers each item at its place, across algorithms interleaved, a bad signature false', async () => {
    const items = await Promise.all([signed('ML-DSA-65', 0), signed('ML-DSA-44', 1), signed('ML-DSA-65', 2), signed('ML-DSA-44', 3), signed('ML-DSA-65', 4)]);
    expect(await verifyAll(items)).toEqual([true, true, true, true, true]);
    // Item 2 with item 0's signature, item 3 with another message: false at their places only.
    const tampered = items.map((item) => ({ ...item }));
    tampered[2]!.signature = items[0]!.signature;
    tampered[3]!.data = message(99);
    expect(await verifyAll(tampered)).toEqual([true, true, false, false, true]);
  });

  it('answers an empty list with an empty list', async () => {
    expect(await verifyAll([])).toEqual([]);
  });
});
