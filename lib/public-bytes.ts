/**
 * Outputs that are public (public keys, ciphertexts) are views into shared 64 KiB slabs, as
 * Node's Buffer pool does: a fresh ArrayBuffer costs microseconds, as much as the difference
 * between this package and liboqs's own speed for ML-KEM. Only public bytes of this package
 * share a slab (`publicKey.buffer` may hold other public keys and ciphertexts, never anything
 * secret); secrets always get their own memory (SecretBytes).
 */
import { markAsUntransferable } from 'node:worker_threads';

const SLAB_SIZE = 64 * 1024;

/**
 * A transfer (postMessage, structuredClone) of one view's buffer must not detach every other
 * value in it: like Node's Buffer pool, a slab is untransferable, so it is copied instead.
 */
function sharedBuffer(length: number): ArrayBuffer {
  const buffer = new ArrayBuffer(length);
  markAsUntransferable(buffer);
  return buffer;
}

let slab = sharedBuffer(SLAB_SIZE);
let offset = 0;

export function publicBytes(length: number): Uint8Array {
  if (length > SLAB_SIZE / 8) return new Uint8Array(length);
  if (offset + length > SLAB_SIZE) {
    slab = sharedBuffer(SLAB_SIZE);
    offset = 0;
  }
  const bytes = new Uint8Array(slab, offset, length);
  // 8-byte alignment keeps every view word-aligned for the addon's copies.
  offset += (length + 7) & ~7;
  return bytes;
}
