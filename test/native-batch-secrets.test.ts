import { describe, expect, it } from 'vitest';
import { Kem, Sig } from '../lib/index.js';
import { native, NATIVE_SKIP } from './support/environment.js';
import { freedMemoryScanner, rawAlgorithm, runScanned } from './support/freed-memory.js';

/**
 * The addon copies a batch's inputs off the JS heap; the copies of secret ones (keys, seeds)
 * must be wiped before they are freed, on every path: a batch that ran, an item or an operand
 * refused after others were copied, the size cap. Each case calls the raw addon in a fresh
 * process whose free() looks for the secret key (test/support/freed-memory.ts); the child wipes
 * its own copy of the key before it exits.
 */
const scanner = freedMemoryScanner();
const skip = !native ? NATIVE_SKIP : scanner.missing;

/** Runs `body` after rawAlgorithm's binding; it prints one JSON value. The needle: 32 bytes of `secret`. */
function scanned(family: 'kem' | 'sig', name: string, secret: Uint8Array, body: string) {
  const code = `${rawAlgorithm(family, name)}
    const outcome = async (run) => { try { await run(); return 'resolved'; } catch (error) { return error.code; } };
    ${body}`;
  const { status, stdout, stderr, hits } = runScanned(code, secret.subarray(0, 32), secret);
  expect(status, stderr).toBe(0);
  return { result: JSON.parse(stdout), hits };
}

describe.skipIf(skip !== '')(`secret batch inputs are wiped before they are freed${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const kem = native ? new Kem('ML-KEM-512') : (undefined as never);
  const pair = native ? kem.generateKeyPair() : (undefined as never);
  const ciphertext = native ? kem.encapsulate(pair.publicKey).ciphertext : (undefined as never);
  const decapsulating = (body: string) =>
    scanned('kem', 'ML-KEM-512', pair.secretKey, `const ciphertext = Uint8Array.from(${JSON.stringify(Array.from(ciphertext))});\n${body}`);

  it('(control) the scanner sees the secret key when the child leaves its own copy unwiped', () => {
    const { result, hits } = decapsulating('console.log(JSON.stringify(secret.length));');
    expect(result).toBe(kem.secretKeyLength);
    expect(hits.length).toBeGreaterThan(0);
  });

  it('after a batch that ran', () => {
    const { result, hits } = decapsulating(`
      const [shared, , values] = await algorithm.runAsync(Op.KemDecaps, 2, 1, ciphertext, [secret, secret]);
      for (const item of shared) new Uint8Array(item).fill(0);
      secret.fill(0);
      console.log(JSON.stringify(Array.from(values)));`);
    expect(result).toEqual([0, 0]);
    expect(hits).toEqual([]);
  });

  it('when an item is refused after earlier items were copied', () => {
    const { result, hits } = decapsulating(`
      const code = await outcome(() => algorithm.runAsync(Op.KemDecaps, 3, 1, ciphertext, [secret, secret, new Uint8Array(5)]));
      secret.fill(0);
      console.log(JSON.stringify(code));`);
    expect(result).toBe('ERR_PQC_INVALID_INPUT');
    expect(hits).toEqual([]);
  });

  it('when the batch would copy more than the size cap: refused before anything is reserved or copied', () => {
    // 2^20 secret keys of 1,632 bytes: 1.7 GB, over the 1 GiB cap.
    const { result, hits } = decapsulating(`
      const before = process.resourceUsage().maxRSS;
      const code = await outcome(() => algorithm.runAsync(Op.KemDecaps, 2 ** 20, 1, ciphertext, new Array(2 ** 20).fill(secret)));
      const grownMiB = Math.round((process.resourceUsage().maxRSS - before) / 1024);
      secret.fill(0);
      console.log(JSON.stringify({ code, grownMiB }));`);
    expect(result.code).toBe('ERR_PQC_INVALID_INPUT');
    expect(result.grownMiB).toBeLessThan(64);
    expect(hits).toEqual([]);
  });

  it('when a later operand is refused after a secret one was copied', () => {
    const sig = new Sig('ML-DSA-44');
    const { result, hits } = scanned('sig', 'ML-DSA-44', sig.generateKeyPair().secretKey, `
      const message = new Uint8Array(8);
      const code = await outcome(() => algorithm.runAsync(Op.SigSign, 2, 1, [message, message], secret, new Uint8Array(256)));
      secret.fill(0);
      console.log(JSON.stringify(code));`);
    expect(result).toBe('ERR_PQC_INVALID_INPUT');
    expect(hits).toEqual([]);
  });
});
