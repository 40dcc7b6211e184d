import { describe, expect, it } from 'vitest';
import { info, Sig } from '../lib/index.js';
import { loadAddon } from '../lib/native/addon.js';
import { wasmCatalog } from '../lib/wasm/wasm-backend.js';
import { native, NATIVE_SKIP } from './support/environment.js';
import { expectCode } from './support/errors.js';

/**
 * Every signature scheme the native liboqs enables, not only ML-DSA: schemes without context
 * support (Falcon, MAYO, CROSS, UOV, …) take the empty context only as NULL, which the native
 * backend once failed to pass (signing failed, every valid signature was rejected). Where the
 * WebAssembly backend has the scheme too, signatures cross over in both directions.
 */
const text = (s: string) => new TextEncoder().encode(s);
const nativeSigs = native ? info().sigs : [];
const wasmSigs = new Set([...wasmCatalog()].filter(([, algorithm]) => algorithm.type === 'sig').map(([name]) => name));
// liboqs's own claims, for the schemes whose answer is certain: FIPS 204 defines the context.
const TAKES_CONTEXT = (name: string) => (name.startsWith('ML-DSA-') ? true : name.startsWith('Falcon-') ? false : undefined);

describe.skipIf(!native)(`every enabled signature scheme on the native backend${native ? '' : ` (skipped: ${NATIVE_SKIP})`}`, () => {
  it('the installed liboqs enables ML-DSA and at least one scheme without context support', () => {
    expect(nativeSigs).toContain('ML-DSA-65');
    expect(nativeSigs.some((name) => TAKES_CONTEXT(name) === false)).toBe(true);
  });

  describe.each(nativeSigs)('%s', (name) => {
    const sig = new Sig(name, { backend: 'native' });
    const { publicKey, secretKey } = sig.generateKeyPair();
    const message = text(`signed with ${name}`);

    it('signs and verifies, sync and pooled; a changed message, signature or key fails', async () => {
      const signature = sig.sign(message, secretKey);
      expect(signature.length).toBeLessThanOrEqual(sig.signatureLength);
      expect(sig.verify(message, signature, publicKey)).toBe(true);
      expect(sig.verify(text('another message'), signature, publicKey)).toBe(false);
      const forged = signature.slice();
      forged[forged.length >> 1]! ^= 1;
      expect(sig.verify(message, forged, publicKey)).toBe(false);
      expect(sig.verify(message, signature, sig.generateKeyPair().publicKey)).toBe(false);

      const messages = [message, text(''), text('third')];
      const signatures = await sig.signMany(messages, secretKey);
      expect(await sig.verifyMany(messages, signatures, publicKey)).toEqual([true, true, true]);
      expect(await sig.verifyMany(messages, [signatures[1]!, signatures[0]!, signatures[2]!], publicKey)).toEqual([false, false, true]);
    });

    it('says whether it takes a context string, and honours what it says', () => {
      const { contextSupported } = new (loadAddon().Algorithm)('sig', name);
      expect(typeof contextSupported).toBe('boolean');
      const expected = TAKES_CONTEXT(name);
      if (expected !== undefined) expect(contextSupported).toBe(expected);
      const context = text('x0tta6bl4 test');
      if (contextSupported) {
        const signature = sig.sign(message, secretKey, { context });
        expect(sig.verify(message, signature, publicKey, { context })).toBe(true);
        expect(sig.verify(message, signature, publicKey, { context: text('another context') })).toBe(false);
        expect(sig.verify(message, signature, publicKey)).toBe(false);
      } else {
        expectCode(() => sig.sign(message, secretKey, { context }), 'ERR_PQC_UNSUPPORTED_CAPABILITY');
        expectCode(() => sig.verify(message, sig.sign(message, secretKey), publicKey, { context }), 'ERR_PQC_UNSUPPORTED_CAPABILITY');
      }
      // An empty context is no context, on every scheme.
      expect(sig.verify(message, sig.sign(message, secretKey, { context: new Uint8Array(0) }), publicKey)).toBe(true);
    });

    it.skipIf(!wasmSigs.has(name))(
      `signatures cross between the native and WebAssembly backends${wasmSigs.has(name) ? '' : ' (skipped: the WebAssembly backend lacks it)'}`,
      async () => {
        const wasm = new Sig(name, { backend: 'wasm' });
        await wasm.ready();
        const wasmPair = wasm.generateKeyPair();
        const fromWasm = wasm.sign(message, wasmPair.secretKey);
        expect(wasm.verify(message, fromWasm, wasmPair.publicKey)).toBe(true);
        expect(sig.verify(message, fromWasm, wasmPair.publicKey)).toBe(true);
        expect(sig.verify(text('another message'), fromWasm, wasmPair.publicKey)).toBe(false);
        const fromNative = sig.sign(message, secretKey);
        expect(wasm.verify(message, fromNative, publicKey)).toBe(true);
        expect(wasm.verify(text('another message'), fromNative, publicKey)).toBe(false);
      },
    );
  });
});
