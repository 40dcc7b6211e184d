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
  /** 64 bytes: the initiator's handshake key ‖ the responder's. */
  handshakeKeys: label('hs keys'),
  chainKey: label('chain key'),
  rotation: label('rotation'),
  initiatorSignature: label('initiator signature\0'),
  responderSignature: label('responder signature\0'),
  beacon: label('beacon\0'),
  /** 88 bytes per epoch: i2r key ‖ i2r IV ‖ r2i key ‖ r2i IV. */
  epochKeys: label('epoch keys'),
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

/**
 * HKDF-SHA-384(ikm, salt, info) as SecretBytes: one call per use, its output split by the
 * caller (each call costs as much as a few AES-GCM records). hkdfSync's output is an
 * ArrayBuffer of its own, off V8's heap, so it is the secret's memory.
 */
export function derive(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): SecretBytes {
  return new SecretBytes(hkdfSync(HASH, ikm, salt, info, length));
}

/** `secret` cut into consecutive views of `lengths` bytes. */
export function split(secret: SecretBytes, ...lengths: number[]): SecretBytes[] {
  let offset = 0;
  return lengths.map((length) => {
    const part = new SecretBytes(secret.buffer as ArrayBuffer, secret.byteOffset + offset, length);
    offset += length;
    return part;
  });
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** AES-256-GCM: `prefix ‖ ciphertext ‖ tag`, in one buffer (a record's header is its prefix and its AAD). */
export function seal(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, prefix?: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  // GCM is a stream mode: update() returns every byte and final() only computes the tag.
  cipher.final();
  const start = prefix?.length ?? 0;
  const out = new Uint8Array(start + body.length + TAG_LENGTH);
  if (prefix) out.set(prefix);
  out.set(body, start);
  out.set(cipher.getAuthTag(), start + body.length);
  return out;
}

/** Opens what `seal` made; null when the tag does not verify (GCM checks it in constant time). */
export function open(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  if (sealed.length < TAG_LENGTH) fail('malformed', `a sealed field needs at least ${TAG_LENGTH} bytes, got ${sealed.length}`);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  const body = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
  try {
    decipher.final();
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  } catch {
    body.fill(0);
    return null;
  }
}

export function wipeAll(...secrets: (Uint8Array | undefined)[]): void {
  for (const secret of secrets) {
    if (secret instanceof SecretBytes) secret.wipe();
    else secret?.fill(0);
  }
}
