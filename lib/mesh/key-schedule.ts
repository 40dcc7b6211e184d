import { createCipheriv, createDecipheriv, createHash, hkdfSync, type Hash } from 'node:crypto';
import { SecretBytes } from '../bytes.js';
import { fail } from './failure.js';

/** SHA-384 everywhere: the transcript hash and HKDF (a 192-bit margin against Grover). */
export const HASH = 'sha384';
export const HASH_LENGTH = 48;
export const KEY_LENGTH = 32;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
export const PROTOCOL_LABEL = 'x0tta6bl4-pq/1';

const label = (text: string) => Buffer.from(`${PROTOCOL_LABEL} ${text}`);

/** Domain-separation labels, one per use of a key or signature. */
export const LABELS = {
  transcript: label('transcript'),
  initiatorHandshakeKey: label('i hs key'),
  responderHandshakeKey: label('r hs key'),
  chainKey: label('chain key'),
  rotation: label('rotation'),
  initiatorSignature: label('initiator signature\0'),
  responderSignature: label('responder signature\0'),
  beacon: label('beacon\0'),
  i2rKey: label('i2r key'),
  i2rIv: label('i2r iv'),
  r2iKey: label('r2i key'),
  r2iIv: label('r2i iv'),
} as const;

/**
 * The running transcript hash: each message enters as u32 length ‖ bytes, so that no two
 * message sequences hash alike. `snapshot()` is the hash so far.
 */
export class Transcript {
  readonly #hash: Hash;

  constructor() {
    this.#hash = createHash(HASH).update(LABELS.transcript);
  }

  add(message: Uint8Array): this {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(message.length);
    this.#hash.update(length).update(message);
    return this;
  }

  snapshot(): Uint8Array {
    return new Uint8Array(this.#hash.copy().digest());
  }
}

/** HKDF-SHA-384(ikm, salt, info) into secret memory of its own. */
export function derive(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): SecretBytes {
  const out = new Uint8Array(hkdfSync(HASH, ikm, salt, info, length));
  const secret = SecretBytes.copyOf(out);
  out.fill(0);
  return secret;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** AES-256-GCM, the tag after the ciphertext. */
export function seal(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const out = new Uint8Array(head.length + tail.length + TAG_LENGTH);
  out.set(head);
  out.set(tail, head.length);
  out.set(cipher.getAuthTag(), head.length + tail.length);
  return out;
}

/** Opens what `seal` made; null when the tag does not verify (GCM checks it in constant time). */
export function open(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  if (sealed.length < TAG_LENGTH) fail('malformed', `a sealed field needs at least ${TAG_LENGTH} bytes, got ${sealed.length}`);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  const head = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
  try {
    const tail = decipher.final();
    return tail.length === 0 ? new Uint8Array(head.buffer, head.byteOffset, head.length) : Buffer.concat([head, tail]);
  } catch {
    head.fill(0);
    return null;
  }
}

export function wipeAll(...secrets: (Uint8Array | undefined)[]): void {
  for (const secret of secrets) {
    if (secret instanceof SecretBytes) secret.wipe();
    else secret?.fill(0);
  }
}
