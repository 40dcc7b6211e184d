import { inspect } from 'node:util';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { describe, expect, it } from 'vitest';
import { Kem, ready, SecretBytes } from '../../lib/index.js';
import { itWith, missingCapability, type Capability } from '../support/capability.js';
import { capabilities, environment, hex, readVectors, toHex } from '../support/environment.js';
import { expectCode, expectRejectCode } from '../support/errors.js';
import { expectIntoCallsAgree, expectTamperedCiphertextsRejected } from '../support/kem-properties.js';

await ready();

/**
 * The hybrids behind the Kem interface: sizes, agreement sync/async/batch, implicit rejection,
 * bad input, the remembered key expansion, and interoperation with @noble/post-quantum.
 */
const HYBRIDS = [
  // X-Wing's key pair comes from a seed expanded with ML-KEM derand: without it only encapsulation works.
  { name: 'X-Wing', publicKey: 1216, secretKey: 32, ciphertext: 1120, sharedSecret: 32, keys: ['kemKeypairDerand'] as Capability[] },
  { name: 'X25519MLKEM768', publicKey: 1216, secretKey: 2432, ciphertext: 1120, sharedSecret: 64, keys: [] as Capability[] },
];

describe.each(HYBRIDS)(`$name on the ${environment.backend} backend`, (params) => {
  const kem = new Kem(params.name);
  // Key pairs for the tests that need one, made only where the backend can.
  const pair = () => kem.generateKeyPair();

  it('reports its sizes and backend', () => {
    expect(kem.backend).toBe(environment.backend);
    expect([kem.publicKeyLength, kem.secretKeyLength, kem.ciphertextLength, kem.sharedSecretLength]).toEqual([
      params.publicKey,
      params.secretKey,
      params.ciphertext,
      params.sharedSecret,
    ]);
  });

  itWith(params.keys, 'agrees on a shared secret (sync)', () => {
    const { publicKey, secretKey } = pair();
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));
    expect(toHex(kem.encapsulate(publicKey).sharedSecret)).not.toBe(toHex(sharedSecret));
  });

  itWith(params.keys, "writes into the caller's buffers with the …Into calls, and refuses bad or overlapping outputs", () => {
    expectIntoCallsAgree(kem);
  });

  itWith(params.keys, 'agrees on a shared secret (async)', async () => {
    const { publicKey, secretKey } = await kem.generateKeyPairAsync();
    const { ciphertext, sharedSecret } = await kem.encapsulateAsync(publicKey);
    expect(toHex(await kem.decapsulateAsync(ciphertext, secretKey))).toBe(toHex(sharedSecret));
    expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));
  });

  itWith(params.keys, 'runs batches: one key per item, one shared key, repeated keys', async () => {
    const pairs = await kem.generateKeyPairMany(5);
    expect(new Set(pairs.map((p) => toHex(p.publicKey))).size).toBe(5);
    const encapsulations = await kem.encapsulateMany(pairs.map((p) => p.publicKey));
    const perKey = await kem.decapsulateMany(
      encapsulations.map((e) => e.ciphertext),
      pairs.map((p) => p.secretKey),
    );
    expect(perKey.map(toHex)).toEqual(encapsulations.map((e) => toHex(e.sharedSecret)));

    const one = pairs[0]!;
    const toOne = await kem.encapsulateMany([one.publicKey, one.publicKey, one.publicKey]);
    const shared = await kem.decapsulateMany(toOne.map((e) => e.ciphertext), one.secretKey);
    expect(shared.map(toHex)).toEqual(toOne.map((e) => toHex(e.sharedSecret)));

    // Fresh copies of the keys (nothing remembered for them), one repeated.
    const copies = [0, 1, 0].map((i) => Uint8Array.from(pairs[i]!.secretKey));
    const repeated = await kem.decapsulateMany([0, 1, 0].map((i) => encapsulations[i]!.ciphertext), copies);
    expect(repeated.map(toHex)).toEqual([0, 1, 0].map((i) => toHex(encapsulations[i]!.sharedSecret)));
  });

  itWith(params.keys, 'returns secrets as SecretBytes, hidden from inspect, toString and JSON', async () => {
    const sync = pair();
    const [batched] = await kem.generateKeyPairMany(1);
    const { sharedSecret } = kem.encapsulate(sync.publicKey);
    for (const secret of [sync.secretKey, batched!.secretKey, sharedSecret, kem.decapsulate(kem.encapsulate(sync.publicKey).ciphertext, sync.secretKey)]) {
      expect(secret).toBeInstanceOf(SecretBytes);
      for (const shown of [inspect(secret), String(secret), JSON.stringify(secret)]) {
        expect(shown).toMatch(/SecretBytes \d+ bytes/);
        expect(shown).not.toMatch(/\d+, \d+/);
      }
    }
  });

  itWith(params.keys, 'decapsulates a tampered ciphertext (either part) to a different secret, never throwing', () => {
    expectTamperedCiphertextsRejected(kem, pair(), 20);
  });

  itWith(params.keys, 'decapsulates with key bytes wherever they live: a view into a larger buffer, changed bytes', () => {
    const a = pair();
    const b = pair();
    const toA = kem.encapsulate(a.publicKey);
    const toB = kem.encapsulate(b.publicKey);
    // Two keys side by side in one ArrayBuffer, at non-zero offsets.
    const arena = new Uint8Array(3 + 2 * params.secretKey);
    arena.set(a.secretKey, 1);
    arena.set(b.secretKey, 2 + params.secretKey);
    const viewA = arena.subarray(1, 1 + params.secretKey);
    const viewB = arena.subarray(2 + params.secretKey, 2 + 2 * params.secretKey);
    expect(toHex(kem.decapsulate(toA.ciphertext, viewA))).toBe(toHex(toA.sharedSecret));
    expect(toHex(kem.decapsulate(toB.ciphertext, viewB))).toBe(toHex(toB.sharedSecret));
    // The key object a was generated as (its expansion remembered) now holds b's bytes.
    a.secretKey.set(b.secretKey);
    expect(toHex(kem.decapsulate(toB.ciphertext, a.secretKey))).toBe(toHex(toB.sharedSecret));
    viewA.set(b.secretKey);
    expect(toHex(kem.decapsulate(toB.ciphertext, viewA))).toBe(toHex(toB.sharedSecret));
  });

  describe('rejects bad input with ERR_PQC_INVALID_INPUT', () => {
    const other = HYBRIDS.find((h) => h.name !== params.name)!;
    const wrong: [string, unknown][] = [
      ['undefined', undefined],
      ['a string', 'abc'],
      ['an ArrayBuffer', new ArrayBuffer(params.publicKey)],
      ['one byte short', new Uint8Array(params.publicKey - 1)],
      ['one byte long', new Uint8Array(params.publicKey + 1)],
      ['only its ML-KEM-768 part', new Uint8Array(1184)],
    ];

    it.each(wrong)('encapsulate(%s)', (_, value) => {
      expectCode(() => kem.encapsulate(value as Uint8Array), 'ERR_PQC_INVALID_INPUT');
    });

    itWith(params.keys, 'decapsulate with a truncated ciphertext or key, the two swapped, or a key of the other hybrid', () => {
      const { publicKey, secretKey } = pair();
      const { ciphertext } = kem.encapsulate(publicKey);
      expectCode(() => kem.decapsulate(ciphertext.subarray(1), secretKey), 'ERR_PQC_INVALID_INPUT');
      expectCode(() => kem.decapsulate(ciphertext.subarray(0, 1088), secretKey), 'ERR_PQC_INVALID_INPUT');
      expectCode(() => kem.decapsulate(ciphertext, secretKey.subarray(0, secretKey.length - 1)), 'ERR_PQC_INVALID_INPUT');
      expectCode(() => kem.decapsulate(secretKey, ciphertext), 'ERR_PQC_INVALID_INPUT');
      expectCode(() => kem.decapsulate(ciphertext, new Uint8Array(other.secretKey)), 'ERR_PQC_INVALID_INPUT');
    });

    it('an encapsulation key whose ML-KEM part fails the FIPS 203 modulus check (wycheproof mlkem_768_encaps_test.json)', async () => {
      const file = readVectors<{ testGroups: { tests: { tcId: number; ek: string; result: string }[] }[] }>(
        'wycheproof/mlkem_768_encaps_test.json',
      );
      const unreduced = file.testGroups.flatMap((g) => g.tests).filter((t) => t.result === 'invalid' && t.ek.length === 2368);
      expect(unreduced.length).toBeGreaterThan(0);
      for (const t of unreduced) {
        const key = new Uint8Array(params.publicKey);
        key.set(hex(t.ek));
        expect(expectCode(() => kem.encapsulate(key), 'ERR_PQC_INVALID_INPUT').message, `tcId ${t.tcId}`).toMatch(/FIPS 203/);
        await expectRejectCode(kem.encapsulateAsync(key), 'ERR_PQC_INVALID_INPUT');
      }
    });

    it('seeds of the wrong length, or a seed where the backend has none', () => {
      const { publicKey } = ml_kem768_x25519.keygen();
      const code = (available: boolean) => (available ? 'ERR_PQC_INVALID_INPUT' : 'ERR_PQC_UNSUPPORTED_CAPABILITY');
      expectCode(() => kem.generateKeyPair({ seed: new Uint8Array(31) }), code(capabilities.kemKeypairDerand));
      expectCode(() => kem.encapsulate(publicKey, { seed: new Uint8Array(32) }), code(capabilities.kemEncapsDerand));
    });

    itWith(params.keys, 'the async and batch forms, as rejected promises', async () => {
      const { publicKey, secretKey } = pair();
      const { ciphertext } = kem.encapsulate(publicKey);
      await expectRejectCode(kem.encapsulateAsync(publicKey.subarray(2)), 'ERR_PQC_INVALID_INPUT');
      await expectRejectCode(kem.decapsulateAsync(ciphertext, publicKey), 'ERR_PQC_INVALID_INPUT');
      await expectRejectCode(kem.decapsulateMany([ciphertext, ciphertext], [secretKey]), 'ERR_PQC_INVALID_INPUT');
      await expectRejectCode(kem.encapsulateMany([publicKey, new Uint8Array(5)]), 'ERR_PQC_INVALID_INPUT');
    });
  });
});

describe('X-Wing and X25519MLKEM768 share the public key and ciphertext format', () => {
  // Neither encoding carries the algorithm: a ciphertext of one is a well-formed ciphertext of the
  // other, so it cannot be refused as bad input. It decapsulates to an unrelated secret, and the
  // protocol must bind which KEM it negotiated (as TLS does with the NamedGroup).
  itWith(['kemKeypairDerand'], "a ciphertext of the other hybrid decapsulates to an unrelated secret, never the sender's", () => {
    const xwing = new Kem('X-Wing');
    const tls = new Kem('X25519MLKEM768');
    const xwingPair = xwing.generateKeyPair();
    const tlsPair = tls.generateKeyPair();
    const toTls = tls.encapsulate(tlsPair.publicKey);
    const toXWing = xwing.encapsulate(xwingPair.publicKey);
    const asXWing = xwing.decapsulate(toTls.ciphertext, xwingPair.secretKey);
    const asTls = tls.decapsulate(toXWing.ciphertext, tlsPair.secretKey);
    expect(toHex(asXWing)).not.toBe(toHex(toTls.sharedSecret.subarray(0, 32)));
    expect(toHex(asXWing)).not.toBe(toHex(toXWing.sharedSecret));
    expect(toHex(asTls.subarray(0, 32))).not.toBe(toHex(toXWing.sharedSecret));
    expect(toHex(asTls)).not.toBe(toHex(toTls.sharedSecret));
  });

  it('a secret key of the other hybrid is refused by length', () => {
    expectCode(() => new Kem('X-Wing').decapsulate(new Uint8Array(1120), new Uint8Array(2432)), 'ERR_PQC_INVALID_INPUT');
    expectCode(() => new Kem('X25519MLKEM768').decapsulate(new Uint8Array(1120), new Uint8Array(32)), 'ERR_PQC_INVALID_INPUT');
  });
});

describe('X25519MLKEM768 secret keys', () => {
  it('refuses a key whose ML-KEM part fails the FIPS 203 hash check, sync and async', async () => {
    const kem = new Kem('X25519MLKEM768');
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { ciphertext } = kem.encapsulate(publicKey);
    const broken = Uint8Array.from(secretKey);
    broken[2400 - 40]! ^= 1; // inside H(ek)
    expect(expectCode(() => kem.decapsulate(ciphertext, broken), 'ERR_PQC_INVALID_INPUT').message).toMatch(/hash check/);
    await expectRejectCode(kem.decapsulateAsync(ciphertext, broken), 'ERR_PQC_INVALID_INPUT');
  });
});

describe('X-Wing interoperates with @noble/post-quantum ml_kem768_x25519', () => {
  const kem = new Kem('X-Wing');

  it("encapsulates to noble's public key; noble decapsulates (any backend)", async () => {
    const noble = ml_kem768_x25519.keygen();
    const { ciphertext, sharedSecret } = kem.encapsulate(noble.publicKey);
    expect(toHex(ml_kem768_x25519.decapsulate(ciphertext, noble.secretKey))).toBe(toHex(sharedSecret));
    const [batched] = await kem.encapsulateMany([noble.publicKey]);
    expect(toHex(ml_kem768_x25519.decapsulate(batched!.ciphertext, noble.secretKey))).toBe(toHex(batched!.sharedSecret));
  });

  itWith(['kemKeypairDerand'], "decapsulates noble's ciphertexts with noble's and its own keys", () => {
    const noble = ml_kem768_x25519.keygen();
    const toNoble = ml_kem768_x25519.encapsulate(noble.publicKey);
    expect(toHex(kem.decapsulate(toNoble.cipherText, noble.secretKey))).toBe(toHex(toNoble.sharedSecret));
    const ours = kem.generateKeyPair();
    expect(toHex(ml_kem768_x25519.getPublicKey(ours.secretKey))).toBe(toHex(ours.publicKey));
    const toOurs = ml_kem768_x25519.encapsulate(ours.publicKey);
    expect(toHex(kem.decapsulate(toOurs.cipherText, ours.secretKey))).toBe(toHex(toOurs.sharedSecret));
  });
});

describe('seeds and key expansion follow the ML-KEM engine', () => {
  const xwing = new Kem('X-Wing');

  it('X-Wing key generation and decapsulation work exactly where ML-KEM key generation from a seed does', () => {
    const { publicKey } = ml_kem768_x25519.keygen();
    const { ciphertext } = xwing.encapsulate(publicKey);
    if (capabilities.kemKeypairDerand) {
      expect(xwing.generateKeyPair().secretKey).toHaveLength(32);
      expect(xwing.decapsulate(ciphertext, new Uint8Array(32))).toHaveLength(32);
      return;
    }
    const reason = missingCapability(['kemKeypairDerand'])!;
    expect(reason).toBeDefined();
    for (const fn of [() => xwing.generateKeyPair(), () => xwing.decapsulate(ciphertext, new Uint8Array(32))]) {
      expect(expectCode(fn, 'ERR_PQC_UNSUPPORTED_CAPABILITY').message).toMatch(/ML-KEM key generation from a seed/);
    }
  });

  itWith(['kemKeypairDerand', 'kemEncapsDerand'], 'both hybrids take seeds where ML-KEM derand is available', () => {
    const seed = new Uint8Array(64).fill(7);
    const { publicKey } = xwing.generateKeyPair({ seed: seed.subarray(0, 32) });
    expect(xwing.encapsulate(publicKey, { seed }).ciphertext).toHaveLength(1120);
    const tls = new Kem('X25519MLKEM768');
    const pair = tls.generateKeyPair({ seed: new Uint8Array(96).fill(9) });
    expect(tls.encapsulate(pair.publicKey, { seed }).sharedSecret).toHaveLength(64);
  });

  it('MLKEM768-X25519 is X-Wing under its concrete-hybrid-kems name', () => {
    const alias = new Kem('MLKEM768-X25519');
    expect(alias.name).toBe('MLKEM768-X25519');
    const noble = ml_kem768_x25519.keygen();
    const { ciphertext, sharedSecret } = alias.encapsulate(noble.publicKey);
    expect(toHex(ml_kem768_x25519.decapsulate(ciphertext, noble.secretKey))).toBe(toHex(sharedSecret));
  });
});
