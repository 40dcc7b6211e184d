import { SecretBytes } from '../bytes.js';
import { loadAddon, type Addon } from '../native/addon.js';
import type { X25519, X25519Key } from './index.js';

/** The addon's X25519 functions, once known to be present. */
type X25519Functions = Required<Pick<Addon, 'x25519PublicKey' | 'x25519GenerateKey' | 'x25519SharedSecret'>>;

const LENGTH = 32;

class NativeX25519Key implements X25519Key {
  readonly #publicKey = new Uint8Array(LENGTH);
  readonly #scalar: SecretBytes;
  readonly #addon: X25519Functions;

  /** A key for a copy of `scalar`, or a random one. */
  constructor(addon: X25519Functions, scalar?: Uint8Array) {
    this.#addon = addon;
    if (scalar) {
      this.#scalar = SecretBytes.copyOf(scalar);
      addon.x25519PublicKey(this.#scalar, this.#publicKey);
    } else {
      this.#scalar = SecretBytes.alloc(LENGTH);
      addon.x25519GenerateKey(this.#scalar, this.#publicKey);
    }
  }

  publicKey(): Uint8Array {
    return this.#publicKey;
  }

  sharedSecret(peer: Uint8Array): Uint8Array {
    const out = SecretBytes.alloc(LENGTH);
    // false means the all-zero result, which `out` then holds.
    this.#addon.x25519SharedSecret(this.#scalar, this.#publicKey, peer, out);
    return out;
  }

  wipe(): void {
    this.#scalar.fill(0);
  }
}

let native: X25519 | null | undefined;

/** The addon's X25519, or null when the addon does not load or lacks it. */
export function nativeX25519(): X25519 | null {
  if (native !== undefined) return native;
  let addon: Addon;
  try {
    addon = loadAddon();
  } catch {
    return (native = null);
  }
  const { x25519PublicKey, x25519GenerateKey, x25519SharedSecret } = addon;
  if (!x25519PublicKey || !x25519GenerateKey || !x25519SharedSecret) return (native = null);
  const functions: X25519Functions = { x25519PublicKey, x25519GenerateKey, x25519SharedSecret };
  return (native = {
    implementation: 'native',
    fromScalar: (scalar) => new NativeX25519Key(functions, scalar),
    generate: () => new NativeX25519Key(functions),
  });
}
