import { describe, expect, it } from 'vitest';
import { Kem, ready, SecretBytes } from '../lib/index.js';
import { Op } from '../lib/engine.js';
import { environment, toHex, tryTransfer } from './support/environment.js';
import { expectCode, expectRejectCode } from './support/errors.js';
import { expectIntoCallsAgree, expectTamperedCiphertextsRejected } from './support/kem-properties.js';

await ready();

// FIPS 203, table 3.
const ML_KEM = [
  { name: 'ML-KEM-512', publicKey: 800, secretKey: 1632, ciphertext: 768 },
  { name: 'ML-KEM-768', publicKey: 1184, secretKey: 2400, ciphertext: 1088 },
  { name: 'ML-KEM-1024', publicKey: 1568, secretKey: 3168, ciphertext: 1568 },
];

describe.each(ML_KEM)(`$name on the ${environment.backend} backend`, (params) => {
  const kem = new Kem(params.name);

  it('reports the FIPS 203 sizes', () => {
    expect(kem.backend).toBe(environment.backend);
    expect([kem.publicKeyLength, kem.secretKeyLength, kem.ciphertextLength, kem.sharedSecretLength]).toEqual([
      params.publicKey,
      params.secretKey,
      params.ciphertext,
      32,
    ]);
  });

  it('agrees on a shared secret (sync)', () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));
    // Two encapsulations to one key are independent.
    expect(toHex(kem.encapsulate(publicKey).sharedSecret)).not.toBe(toHex(sharedSecret));
  });

  it("writes into the caller's buffers with the …Into calls, and refuses bad or overlapping outputs", () => {
    expectIntoCallsAgree(kem);
  });

  it('agrees on a shared secret (async, off the main thread)', async () => {
    const { publicKey, secretKey } = await kem.generateKeyPairAsync();
    const { ciphertext, sharedSecret } = await kem.encapsulateAsync(publicKey);
    expect(toHex(await kem.decapsulateAsync(ciphertext, secretKey))).toBe(toHex(sharedSecret));
    expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));
  });

  it('runs batches, each item its own result', async () => {
    const pairs = await kem.generateKeyPairMany(6);
    expect(new Set(pairs.map((pair) => toHex(pair.publicKey))).size).toBe(6);
    const encapsulations = await kem.encapsulateMany(pairs.map((pair) => pair.publicKey));
    const perKey = await kem.decapsulateMany(
      encapsulations.map((e) => e.ciphertext),
      pairs.map((pair) => pair.secretKey),
    );
    perKey.forEach((secret, i) => expect(toHex(secret)).toBe(toHex(encapsulations[i]!.sharedSecret)));

    const one = pairs[0]!;
    const toOne = await kem.encapsulateMany(Array.from({ length: 5 }, () => one.publicKey));
    const sameKey = await kem.decapsulateMany(toOne.map((e) => e.ciphertext), one.secretKey);
    sameKey.forEach((secret, i) => expect(toHex(secret)).toBe(toHex(toOne[i]!.sharedSecret)));
  });

  it('runs a batch large enough to go to the pool in several parts, in order, each secret in memory of its own', async () => {
    const count = 150;
    const pairs = await kem.generateKeyPairMany(count);
    const encapsulations = await kem.encapsulateMany(pairs.map((pair) => pair.publicKey));
    const secrets = await kem.decapsulateMany(
      encapsulations.map((e) => e.ciphertext),
      pairs.map((pair) => pair.secretKey),
    );
    expect(secrets).toHaveLength(count);
    secrets.forEach((secret, i) => expect(toHex(secret), `item ${i}`).toBe(toHex(encapsulations[i]!.sharedSecret)));
    expect(new Set(pairs.map((pair) => toHex(pair.publicKey))).size).toBe(count);
    for (const secret of [...pairs.map((pair) => pair.secretKey), ...encapsulations.map((e) => e.sharedSecret), ...secrets]) {
      expect(secret).toBeInstanceOf(SecretBytes);
      expect(secret.buffer.byteLength).toBe(secret.byteLength);
    }
    // Transferring one public output's buffer leaves every other output whole.
    const last = encapsulations[count - 1]!.ciphertext;
    tryTransfer(last);
    const previous = encapsulations[count - 2]!;
    expect(toHex(kem.decapsulate(previous.ciphertext, pairs[count - 2]!.secretKey))).toBe(toHex(previous.sharedSecret));
  });

  it('rejects a batch whose bad key sits in a late part, once the earlier parts are done', async () => {
    const { publicKey } = kem.generateKeyPair();
    // Every coefficient 4095 ≥ q: fails FIPS 203's modulus check, in liboqs or in our own check.
    const unreduced = publicKey.slice().fill(0xff, 0, publicKey.length - 32);
    const keys = Array.from({ length: 150 }, (_, i) => (i === 140 ? unreduced : publicKey));
    await expectRejectCode(kem.encapsulateMany(keys), 'ERR_PQC_INVALID_INPUT');
    expect((await kem.encapsulateMany(keys.slice(0, 140))).length).toBe(140);
  });

  it('public outputs share memory that a transfer cannot detach', async () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const first = kem.encapsulate(publicKey);
    const second = kem.encapsulate(publicKey);
    const moved = tryTransfer(first.ciphertext);
    if (moved) expect(toHex(moved)).toBe(toHex(first.ciphertext));
    expect(second.ciphertext.byteLength).toBe(params.ciphertext);
    expect(toHex(kem.decapsulate(second.ciphertext, secretKey))).toBe(toHex(second.sharedSecret));
    expect(toHex(kem.decapsulate(first.ciphertext, secretKey))).toBe(toHex(first.sharedSecret));
    const batch = await kem.encapsulateMany([publicKey, publicKey]);
    tryTransfer(batch[0]!.ciphertext);
    expect(toHex(kem.decapsulate(batch[1]!.ciphertext, secretKey))).toBe(toHex(batch[1]!.sharedSecret));
  });

  it('refuses options that are not an object', async () => {
    expectCode(() => kem.generateKeyPair(null as never), 'ERR_PQC_INVALID_INPUT');
    expectCode(() => new Kem(params.name, 'native' as never), 'ERR_PQC_INVALID_INPUT');
    await expectRejectCode(kem.generateKeyPairAsync(null as never), 'ERR_PQC_INVALID_INPUT');
  });

  it('keeps secrets out of inspect, toString and JSON', async () => {
    const pair = kem.generateKeyPair();
    const { inspect } = await import('node:util');
    const [batched] = await kem.generateKeyPairMany(1);
    for (const secret of [pair.secretKey, batched!.secretKey]) {
      for (const shown of [inspect(secret), String(secret), JSON.stringify(secret)]) {
        expect(shown).toContain(`SecretBytes ${params.secretKey} bytes`);
        expect(shown).not.toMatch(/\d+, \d+/);
      }
    }
    expect(inspect(pair)).toContain(`secretKey: [SecretBytes ${params.secretKey} bytes]`);
    expect(JSON.stringify(pair)).toContain(`"secretKey":"[SecretBytes ${params.secretKey} bytes]"`);
    expect(pair.secretKey).toBeInstanceOf(SecretBytes);
    expect(pair.secretKey).toBeInstanceOf(Uint8Array);
  });

  it('wipes a secret on request, and on Symbol.dispose (what a `using` declaration calls)', () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    expect(sharedSecret.some((byte) => byte !== 0)).toBe(true);
    sharedSecret.wipe();
    expect(sharedSecret.every((byte) => byte === 0)).toBe(true);
    const secret = kem.decapsulate(ciphertext, secretKey);
    expect(secret.some((byte) => byte !== 0)).toBe(true);
    secret[Symbol.dispose]();
    expect(secret.every((byte) => byte === 0)).toBe(true);
    // The secret key still works: wiping one secret touches no other.
    expect(kem.decapsulate(ciphertext, secretKey).some((byte) => byte !== 0)).toBe(true);
  });

  it('decapsulates a tampered ciphertext to a different secret (implicit rejection), never throwing', () => {
    expectTamperedCiphertextsRejected(kem, kem.generateKeyPair(), 25);
  });

  describe('rejects bad input with ERR_PQC_INVALID_INPUT', () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { ciphertext } = kem.encapsulate(publicKey);
    const wrong: [string, unknown][] = [
      ['undefined', undefined],
      ['a string', 'abc'],
      ['an array of numbers', [1, 2, 3]],
      ['an ArrayBuffer', new ArrayBuffer(params.publicKey)],
      ['an Int16Array', new Int16Array(params.publicKey / 2)],
      ['one byte short', new Uint8Array(params.publicKey - 1)],
      ['one byte long', new Uint8Array(params.publicKey + 1)],
    ];

    it.each(wrong)('encapsulate(%s)', (_, value) => {
      expectCode(() => kem.encapsulate(value as Uint8Array), 'ERR_PQC_INVALID_INPUT');
    });

    it('decapsulate with a truncated ciphertext or key, or the two swapped', () => {
      expectCode(() => kem.decapsulate(ciphertext.subarray(1), secretKey), 'ERR_PQC_INVALID_INPUT');
      expectCode(() => kem.decapsulate(ciphertext, secretKey.subarray(0, 100)), 'ERR_PQC_INVALID_INPUT');
      expectCode(() => kem.decapsulate(secretKey, ciphertext), 'ERR_PQC_INVALID_INPUT');
    });

    it('a detached buffer', () => {
      const detached = publicKey.slice();
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      const error = expectCode(() => kem.encapsulate(detached), 'ERR_PQC_INVALID_INPUT');
      expect(error.message).toMatch(/detached|bytes/);
    });

    it('the async and batch forms, as rejected promises', async () => {
      await expectRejectCode(kem.encapsulateAsync(publicKey.subarray(2)), 'ERR_PQC_INVALID_INPUT');
      await expectRejectCode(kem.decapsulateAsync(ciphertext, publicKey), 'ERR_PQC_INVALID_INPUT');
      await expectRejectCode(kem.encapsulateMany([]), 'ERR_PQC_INVALID_INPUT');
      await expectRejectCode(kem.encapsulateMany([publicKey, new Uint8Array(3)]), 'ERR_PQC_INVALID_INPUT');
      await expectRejectCode(kem.decapsulateMany([ciphertext, ciphertext], [secretKey]), 'ERR_PQC_INVALID_INPUT');
      await expectRejectCode(kem.generateKeyPairMany(0), 'ERR_PQC_INVALID_INPUT');
      await expectRejectCode(kem.generateKeyPairMany(1.5), 'ERR_PQC_INVALID_INPUT');
    });

    it('names the algorithm and the expected length, and no key bytes', () => {
      const error = expectCode(() => kem.decapsulate(ciphertext, secretKey.subarray(1)), 'ERR_PQC_INVALID_INPUT');
      expect(error.message).toContain(`${params.secretKey} bytes`);
      expect(error.message).toContain(params.name);
      expect(error.message).not.toContain(toHex(secretKey).slice(0, 12));
    });
  });

  it.skipIf(!environment.capabilities.kemKeypairDerand || !environment.capabilities.kemEncapsDerand)(
    `…Into with a seed writes what the allocating call returns, and refuses a seed inside an output${
      environment.capabilities.kemEncapsDerand ? '' : ' (skipped: the backend has no ML-KEM derand)'
    }`,
    () => {
      const arena = new Uint8Array(64 + kem.publicKeyLength + kem.secretKeyLength).map((_, i) => i * 7);
      const seed = arena.slice(0, 64);
      const pair = { publicKey: arena.subarray(64, 64 + kem.publicKeyLength), secretKey: arena.subarray(64 + kem.publicKeyLength) };
      kem.generateKeyPairInto(pair, { seed });
      const expected = kem.generateKeyPair({ seed });
      expect(toHex(pair.publicKey)).toBe(toHex(expected.publicKey));
      expect(toHex(pair.secretKey)).toBe(toHex(expected.secretKey));
      const before = toHex(arena);
      // The seed's last bytes (z) inside the secret key it is written into.
      const inside = arena.subarray(64 + kem.publicKeyLength + kem.secretKeyLength - 64);
      expectCode(() => kem.generateKeyPairInto(pair, { seed: inside }), 'ERR_PQC_INVALID_INPUT');
      const out = { ciphertext: new Uint8Array(kem.ciphertextLength), sharedSecret: new Uint8Array(32) };
      expectCode(() => kem.encapsulateInto(expected.publicKey, out, { seed: out.ciphertext.subarray(0, 32) }), 'ERR_PQC_INVALID_INPUT');
      expect(toHex(arena)).toBe(before);
      kem.encapsulateInto(expected.publicKey, out, { seed: seed.subarray(0, 32) });
      const reference = kem.encapsulate(expected.publicKey, { seed: seed.subarray(0, 32) });
      expect(toHex(out.ciphertext)).toBe(toHex(reference.ciphertext));
      expect(toHex(out.sharedSecret)).toBe(toHex(reference.sharedSecret));
    },
  );

  it('refuses seeds it cannot use, with the capability named', () => {
    const seed = new Uint8Array(64);
    if (environment.capabilities.kemKeypairDerand) {
      expectCode(() => kem.generateKeyPair({ seed: seed.subarray(1) }), 'ERR_PQC_INVALID_INPUT');
    } else {
      const error = expectCode(() => kem.generateKeyPair({ seed }), 'ERR_PQC_UNSUPPORTED_CAPABILITY');
      expect(error.message).toMatch(/derand/);
    }
  });
});

describe('algorithm names', () => {
  it('an unknown or disabled algorithm is ERR_PQC_UNSUPPORTED_ALGORITHM', () => {
    expectCode(() => new Kem('ML-KEM-4096'), 'ERR_PQC_UNSUPPORTED_ALGORITHM');
    expectCode(() => new Kem('ML-DSA-65'), 'ERR_PQC_UNSUPPORTED_ALGORITHM');
  });

  it('a name that is not a string is ERR_PQC_INVALID_INPUT', () => {
    expectCode(() => new Kem(42 as unknown as string), 'ERR_PQC_INVALID_INPUT');
    expectCode(() => new Kem(''), 'ERR_PQC_INVALID_INPUT');
  });

  it('lists what the backend enables', () => {
    for (const name of ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024']) expect(environment.kems).toContain(name);
    expect(Op.KemDecaps).toBe(4);
  });
});
