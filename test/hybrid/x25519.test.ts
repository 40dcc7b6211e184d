import { createHash } from 'node:crypto';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it } from 'vitest';
import { Kem, PqcError, ready } from '../../lib/index.js';
import { loadAddon } from '../../lib/native/addon.js';
import type { X25519 } from '../../lib/x25519/index.js';
import { nativeX25519 } from '../../lib/x25519/native.js';
import { nodeCryptoX25519 } from '../../lib/x25519/node-crypto.js';
import { itWith } from '../support/capability.js';
import { hex, readVectors, toHex } from '../support/environment.js';

/**
 * The X25519 half: C2SP/wycheproof x25519_test.json through both implementations, then what each hybrid
 * does with the all-zero output of a small-order point. X25519MLKEM768 must reject it
 * (draft-ietf-tls-ecdhe-mlkem, via RFC 8446 section 7.4.2); X-Wing must not (the draft uses
 * RFC 7748's X25519 without the section 6.1 check).
 */

await ready();

interface XdhTest {
  tcId: number;
  comment: string;
  flags: string[];
  public: string;
  private: string;
  shared: string;
  result: 'valid' | 'acceptable' | 'invalid';
}
const file = readVectors<{ testGroups: { curve: string; tests: XdhTest[] }[] }>('wycheproof/x25519_test.json');
const tests = file.testGroups.flatMap((group) => group.tests);
const ZERO = '00'.repeat(32);
const lowOrder = tests.filter((t) => t.shared === ZERO);

// Both implementations are tested wherever they exist: the addon's needs only the addon (and
// Node's OpenSSL), not liboqs.
const native = nativeX25519();
const IMPLEMENTATIONS: [string, X25519 | null, string][] = [
  ['node:crypto', nodeCryptoX25519, ''],
  ['the addon (csrc/x25519.cc)', native, native ? '' : ' (skipped: the native addon does not load here)'],
];

describe.each(IMPLEMENTATIONS)('X25519 through %s on wycheproof x25519_test.json%s', (_, x25519, skipped) => {
  it('has the low-order cases this suite relies on', () => {
    expect(tests).toHaveLength(518);
    expect(lowOrder.length).toBeGreaterThan(20);
    expect(lowOrder.every((t) => t.flags.includes('ZeroSharedSecret'))).toBe(true);
  });

  for (const t of tests) {
    it.skipIf(!x25519)(`tcId ${t.tcId} ${t.result}: ${t.comment} (${t.flags.join(', ')})${skipped}`, () => {
      // Every vector here is valid or acceptable: RFC 7748's function gives `shared`, all zero included.
      expect(t.result).not.toBe('invalid');
      expect(toHex(x25519!.fromScalar(hex(t.private)).sharedSecret(hex(t.public)))).toBe(t.shared);
    });
  }

  it.skipIf(!x25519)(`generated and imported keys agree: X25519(a, X25519(b, 9)) = X25519(b, X25519(a, 9))${skipped}`, () => {
    const a = x25519!.generate();
    const b = x25519!.fromScalar(hex(tests[0]!.private));
    expect(toHex(a.sharedSecret(b.publicKey()))).toBe(toHex(b.sharedSecret(a.publicKey())));
    expect(toHex(x25519!.generate().publicKey())).not.toBe(toHex(a.publicKey()));
    // And each implementation's public key works with the other's.
    const other = x25519 === nodeCryptoX25519 ? native : nodeCryptoX25519;
    if (other) expect(toHex(other.fromScalar(hex(tests[0]!.private)).publicKey())).toBe(toHex(b.publicKey()));
  });
});

describe.skipIf(!native)(`the addon's X25519 functions refuse bad arguments${native ? '' : ' (skipped: no native addon)'}`, () => {
  it('throws ERR_PQC_INVALID_INPUT for wrong lengths and types', () => {
    const addon = loadAddon() as unknown as Record<string, (...args: unknown[]) => unknown>;
    const ok = new Uint8Array(32);
    const calls: [string, unknown[]][] = [
      ['x25519PublicKey', [ok]],
      ['x25519PublicKey', [ok.subarray(1), ok]],
      ['x25519PublicKey', ['abc', ok]],
      ['x25519GenerateKey', [ok, new Uint8Array(33)]],
      ['x25519GenerateKey', [new Uint8Array(16), ok]],
      ['x25519SharedSecret', [ok, ok, ok, new Uint8Array(31)]],
      ['x25519SharedSecret', [ok, ok, new Uint16Array(16), ok]],
      ['x25519SharedSecret', [ok, ok, ok]],
    ];
    for (const [name, args] of calls) {
      expect(() => addon[name]!(...args), name).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
    }
  });
});

function invalidInput(fn: () => unknown): PqcError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PqcError);
    expect((error as PqcError).code).toBe('ERR_PQC_INVALID_INPUT');
    return error as PqcError;
  }
  throw new Error('expected ERR_PQC_INVALID_INPUT, nothing was thrown');
}

describe('X25519MLKEM768 rejects an all-zero X25519 shared secret', () => {
  const kem = new Kem('X25519MLKEM768');
  const { publicKey, secretKey } = kem.generateKeyPair();
  const { ciphertext } = kem.encapsulate(publicKey);

  for (const t of lowOrder) {
    it(`tcId ${t.tcId}: ${t.comment}, as the X25519 share of a public key and of a ciphertext`, async () => {
      const badKey = Uint8Array.from(publicKey);
      badKey.set(hex(t.public), 1184);
      expect(invalidInput(() => kem.encapsulate(badKey)).message).toBe(
        "X25519MLKEM768: the X25519 shared secret is all zero, so the peer's X25519 share (in the public key or the " +
          'ciphertext) is a small-order point; draft-ietf-tls-ecdhe-mlkem requires rejecting it',
      );
      const badCiphertext = Uint8Array.from(ciphertext);
      badCiphertext.set(hex(t.public), 1088);
      expect(invalidInput(() => kem.decapsulate(badCiphertext, secretKey)).message).toMatch(/all zero/);
      await expect(kem.decapsulateAsync(badCiphertext, secretKey)).rejects.toMatchObject({ code: 'ERR_PQC_INVALID_INPUT' });
    });
  }
});

/**
 * X-Wing's shared secret with ss_X all zero, computed from the draft's definition with an
 * independent ML-KEM (@noble/post-quantum, which refuses the zero X25519 output itself, so its
 * X-Wing cannot serve as the reference here).
 */
function xwingWithZeroX25519(ssM: Uint8Array, ciphertext: Uint8Array, publicKey: Uint8Array): string {
  return createHash('sha3-256')
    .update(ssM)
    .update(new Uint8Array(32))
    .update(ciphertext.subarray(1088))
    .update(publicKey.subarray(1184))
    .update(Buffer.from('5c2e2f2f5e5c', 'hex'))
    .digest('hex');
}

describe('X-Wing keeps an all-zero X25519 shared secret (the draft has no check)', () => {
  const kem = new Kem('X-Wing');
  const noble = ml_kem768_x25519.keygen();
  const nobleMlKemKey = ml_kem768.keygen(createHash('shake256', { outputLength: 64 }).update(noble.secretKey).digest()).secretKey;

  for (const t of lowOrder) {
    it(`tcId ${t.tcId}: ${t.comment}, as pk_X: encapsulation succeeds`, () => {
      const badKey = Uint8Array.from(noble.publicKey);
      badKey.set(hex(t.public), 1184);
      expect(kem.encapsulate(badKey).sharedSecret).toHaveLength(32);
    });

    itWith(['kemEncapsDerand'], `tcId ${t.tcId}: as pk_X, encapsulation from a seed hashes ss_X = 0`, () => {
      const badKey = Uint8Array.from(noble.publicKey);
      badKey.set(hex(t.public), 1184);
      const seed = Uint8Array.from({ length: 64 }, (_, i) => i * 7 + t.tcId);
      const { ciphertext, sharedSecret } = kem.encapsulate(badKey, { seed });
      const mlKem = ml_kem768.encapsulate(badKey.subarray(0, 1184), seed.subarray(0, 32));
      expect(toHex(ciphertext.subarray(0, 1088))).toBe(toHex(mlKem.cipherText));
      // ct_X depends on the ephemeral scalar alone.
      expect(toHex(ciphertext.subarray(1088))).toBe(toHex(kem.encapsulate(noble.publicKey, { seed }).ciphertext.subarray(1088)));
      expect(toHex(sharedSecret)).toBe(xwingWithZeroX25519(mlKem.sharedSecret, ciphertext, badKey));
    });

    itWith(['kemKeypairDerand'], `tcId ${t.tcId}: as ct_X, decapsulation hashes ss_X = 0`, () => {
      const { cipherText } = ml_kem768_x25519.encapsulate(noble.publicKey);
      const badCiphertext = Uint8Array.from(cipherText);
      badCiphertext.set(hex(t.public), 1088);
      const ssM = ml_kem768.decapsulate(badCiphertext.subarray(0, 1088), nobleMlKemKey);
      expect(toHex(kem.decapsulate(badCiphertext, noble.secretKey))).toBe(xwingWithZeroX25519(ssM, badCiphertext, noble.publicKey));
    });
  }
});
