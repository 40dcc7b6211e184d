import { nativeX25519 } from './native.js';
import { nodeCryptoX25519 } from './node-crypto.js';

export const X25519_LENGTH = 32;

/** An X25519 private key (RFC 7748) with its public key. */
export interface X25519Key {
  /** X25519(k, 9). */
  publicKey(): Uint8Array;
  /**
   * X25519(k, u) exactly as RFC 7748 section 5 defines it: every 32-byte u is accepted, and a
   * small-order u gives the all-zero value. Whether to reject that (section 6.1) is the
   * construction's decision.
   */
  sharedSecret(peer: Uint8Array): Uint8Array;
  /** Overwrites whatever of the key is held in JavaScript memory. */
  wipe(): void;
}

export interface X25519 {
  readonly implementation: 'native' | 'node:crypto';
  /** The key whose scalar is `scalar` (clamped by X25519 itself). */
  fromScalar(scalar: Uint8Array): X25519Key;
  /** A fresh random key. */
  generate(): X25519Key;
}

/** node:crypto's X25519, for callers with no ML-KEM backend to follow (lib/policy/x25519-kem.ts). */
export const X25519Key: X25519 = nodeCryptoX25519;

/**
 * X25519 for hybrids whose ML-KEM part runs on `backend`: on the native backend the addon's
 * (OpenSSL inside Node, called directly), else node:crypto's (the same OpenSSL through
 * KeyObjects: slower, and without loading the addon when the WebAssembly backend was chosen).
 */
export function x25519For(backend: string): X25519 {
  return (backend === 'native' && nativeX25519()) || nodeCryptoX25519;
}
