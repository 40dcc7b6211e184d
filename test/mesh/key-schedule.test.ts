import { describe, expect, it } from 'vitest';
import { onSecretWiped, SecretBytes } from '../../lib/bytes.js';
import { MeshError } from '../../lib/mesh/failure.js';
import { open, seal, wipeAll } from '../../lib/mesh/key-schedule.js';
import { toHex } from '../support/environment.js';

const hex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

// McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", test case 16 (AES-256, 60-byte plaintext, 20-byte AAD).
const GCM_16 = {
  key: hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'),
  iv: hex('cafebabefacedbaddecaf888'),
  plaintext: hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39'),
  aad: hex('feedfacedeadbeeffeedfacedeadbeefabaddad2'),
  ciphertext: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
  tag: '76fc6ece0f4e1768cddf8853bb2d551b',
};

describe('AES-256-GCM seal and open', () => {
  it('seal is prefix ‖ ciphertext ‖ tag of the published GCM vector, and open inverts it', () => {
    const { key, iv, plaintext, aad, ciphertext, tag } = GCM_16;
    expect(toHex(seal(key, iv, aad, plaintext))).toBe(ciphertext + tag);
    const prefix = hex('0102');
    const sealed = seal(key, iv, aad, plaintext, prefix);
    expect(toHex(sealed)).toBe('0102' + ciphertext + tag);
    expect(toHex(open(key, iv, aad, sealed.subarray(2))!)).toBe(toHex(plaintext));
  });

  it('open gives null, not an error, when the tag or the AAD does not verify', () => {
    const { key, iv, aad, ciphertext, tag } = GCM_16;
    const sealed = hex(ciphertext + tag);
    expect(open(key, iv, hex('00'), sealed)).toBeNull();
    sealed[sealed.length - 1]! ^= 1;
    expect(open(key, iv, aad, sealed)).toBeNull();
  });

  it('open refuses a sealed field shorter than the 16-byte tag as malformed, and takes one of exactly 16', () => {
    const { key, iv, aad } = GCM_16;
    for (const length of [0, 5, 15]) {
      expect(() => open(key, iv, aad, new Uint8Array(length))).toThrow(
        expect.objectContaining({ constructor: MeshError, reason: 'malformed', code: 'ERR_PQC_MALFORMED_MESSAGE', message: `a sealed field needs at least 16 bytes, got ${length}` }),
      );
    }
    expect(open(key, iv, aad, seal(key, iv, aad, new Uint8Array(0)))).toEqual(new Uint8Array(0));
  });
});

describe('wipeAll', () => {
  it('wipes SecretBytes as SecretBytes (their copies are told), zeroes plain bytes and skips undefined', () => {
    const told: Uint8Array[] = [];
    onSecretWiped((secret) => told.push(secret));
    const secret = SecretBytes.copyOf(new Uint8Array([1, 2, 3]));
    const plain = new Uint8Array([4, 5]);
    wipeAll(secret, undefined, plain);
    expect([...secret, ...plain]).toEqual([0, 0, 0, 0, 0]);
    expect(told).toContain(secret);
    expect(told).not.toContain(plain);
  });
});
