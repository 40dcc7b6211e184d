import { timingSafeEqual } from 'node:crypto';
import { onSecretWiped } from '../bytes.js';
import type { X25519Key } from '../x25519/index.js';

/** What decapsulation needs from a hybrid secret key, computed once per key. */
export interface ExpandedKey {
  /** A copy of the secret key's bytes, to confirm that a later key is still the same. */
  readonly secretKey: Uint8Array;
  /** The ML-KEM decapsulation key (FIPS 203 format). */
  readonly pqSecretKey: Uint8Array;
  readonly x25519: X25519Key;
}

function wipeExpanded({ secretKey, pqSecretKey, x25519 }: ExpandedKey): void {
  secretKey.fill(0);
  pqSecretKey.fill(0);
  x25519.wipe();
}

/**
 * Expanded keys kept beside the secret keys they came from, as the X-Wing draft allows
 * ("Keeping expanded decapsulation key around"): decapsulating again with a key, or right after
 * generating it, skips the expansion while the secret key's wire format stays what it is.
 *
 * An entry is found by where the key's bytes live (ArrayBuffer and offset, so that views such as
 * SecretBytes.view find it too) and used only while those bytes still equal its copy. It lasts as
 * long as that memory, and its secrets are wiped when the memory is collected, or at once when
 * the secret key is wiped (`SecretBytes.wipe()`: the caller is done with the key). An entry
 * replaced because the bytes changed is dropped unwiped: an operation still running may be
 * reading it.
 */
export class ExpandedKeyCache {
  readonly #entries = new WeakMap<ArrayBufferLike, Map<number, ExpandedKey>>();
  readonly #wipe = new FinalizationRegistry<ExpandedKey>(wipeExpanded);

  constructor() {
    onSecretWiped((secret) => this.#forget(secret));
  }

  #forget(secretKey: Uint8Array): void {
    const byOffset = this.#entries.get(secretKey.buffer);
    const entry = byOffset?.get(secretKey.byteOffset);
    if (!entry) return;
    byOffset!.delete(secretKey.byteOffset);
    this.#wipe.unregister(entry);
    wipeExpanded(entry);
  }

  get(secretKey: Uint8Array): ExpandedKey | undefined {
    const entry = this.#entries.get(secretKey.buffer)?.get(secretKey.byteOffset);
    return entry && entry.secretKey.byteLength === secretKey.byteLength && timingSafeEqual(entry.secretKey, secretKey)
      ? entry
      : undefined;
  }

  set(secretKey: Uint8Array, expanded: ExpandedKey): void {
    let byOffset = this.#entries.get(secretKey.buffer);
    if (!byOffset) this.#entries.set(secretKey.buffer, (byOffset = new Map()));
    const replaced = byOffset.get(secretKey.byteOffset);
    if (replaced) this.#wipe.unregister(replaced);
    byOffset.set(secretKey.byteOffset, expanded);
    this.#wipe.register(secretKey.buffer, expanded, expanded);
  }
}
