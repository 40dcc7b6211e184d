import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { PqcError } from '../errors.js';
import type { X25519, X25519Key } from './index.js';

const JWK = { kty: 'OKP', crv: 'X25519' } as const;

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Raw key import, where node:crypto has it (Node 24 and later): no encoding, and nothing left of
 * a scalar but the caller's own bytes. Earlier releases import raw X25519 keys fast only as JWK
 * (DER goes through OpenSSL 3's decoders at about ten times the cost of the multiplication), so
 * there an imported scalar passes through a base64url string and a Buffer that JavaScript cannot
 * wipe; the releases with raw import also refuse the JWK without `x` that those accept.
 */
const rawKeys = (() => {
  try {
    createPublicKey({ key: new Uint8Array(32), format: 'raw-public', asymmetricKeyType: 'x25519' } as never);
    return true;
  } catch {
    return false;
  }
})();

function importScalar(scalar: Uint8Array): KeyObject {
  if (rawKeys) return createPrivateKey({ key: scalar, format: 'raw-private', asymmetricKeyType: 'x25519' } as never);
  // Node < 24 requires `x` to be a string but computes the public key from `d` itself.
  return createPrivateKey({ key: { ...JWK, d: base64url(scalar), x: '' }, format: 'jwk' });
}

function importPeer(peer: Uint8Array): KeyObject {
  if (rawKeys) return createPublicKey({ key: peer, format: 'raw-public', asymmetricKeyType: 'x25519' } as never);
  return createPublicKey({ key: { ...JWK, x: base64url(peer) }, format: 'jwk' });
}

/**
 * A key held by node:crypto as a KeyObject, so that a key imported once serves every later
 * exchange without being parsed, or its public key computed, again; generated keys never leave
 * OpenSSL.
 */
class KeyObjectX25519Key implements X25519Key {
  readonly #key: KeyObject;
  readonly #publicKey: Uint8Array;

  constructor(key: KeyObject, publicKey: JsonWebKey) {
    this.#key = key;
    this.#publicKey = Buffer.from(publicKey.x!, 'base64url');
  }

  publicKey(): Uint8Array {
    return this.#publicKey;
  }

  sharedSecret(peer: Uint8Array): Uint8Array {
    const publicKey = importPeer(peer);
    try {
      return diffieHellman({ privateKey: this.#key, publicKey });
    } catch (cause) {
      // OpenSSL applies RFC 7748 section 6.1's check itself and refuses an all-zero result with
      // this reason, which it raises for no other X25519 failure.
      if ((cause as { code?: unknown }).code === 'ERR_OSSL_FAILED_DURING_DERIVATION') return new Uint8Array(32);
      throw new PqcError('ERR_PQC_OPERATION_FAILED', 'X25519: node:crypto failed to derive the shared secret', { cause });
    }
  }

  // The scalar lives inside OpenSSL, which clears it when the KeyObject is collected.
  wipe(): void {}
}

export const nodeCryptoX25519: X25519 = {
  implementation: 'node:crypto',
  fromScalar(scalar) {
    const key = importScalar(scalar);
    return new KeyObjectX25519Key(key, createPublicKey(key).export({ format: 'jwk' }));
  },
  generate() {
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
    return new KeyObjectX25519Key(privateKey, publicKey.export({ format: 'jwk' }));
  },
};
