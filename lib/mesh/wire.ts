import { fail } from './failure.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads a message field by field, checking every length against what is left before reading,
 * so that a parser fails with a 'malformed' MeshError and never reads past the end.
 */
export class WireReader {
  #offset = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {}

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.bytes.length - this.#offset;
  }

  u8(): number {
    this.#need(1, 'a byte');
    return this.bytes[this.#offset++]!;
  }

  u16(): number {
    this.#need(2, 'a 16-bit length');
    const value = (this.bytes[this.#offset]! << 8) | this.bytes[this.#offset + 1]!;
    this.#offset += 2;
    return value;
  }

  u32(): number {
    this.#need(4, 'a 32-bit number');
    const b = this.bytes;
    const o = this.#offset;
    this.#offset += 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  /** A 64-bit big-endian number; refused above 2^53 - 1, which no counter or time of ours reaches. */
  u64(): number {
    const high = this.u32();
    const low = this.u32();
    if (high > 0x1fffff) fail('malformed', `${this.what}: a 64-bit field is out of range`);
    return high * 2 ** 32 + low;
  }

  bytesOf(length: number, field: string): Uint8Array {
    this.#need(length, field);
    const out = this.bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  /** A field with a u8 length prefix, of at least `min` and at most `max` bytes. */
  short(field: string, min: number, max: number): Uint8Array {
    return this.#bounded(this.u8(), field, min, max);
  }

  /** A u8-prefixed UTF-8 string (a byte-order mark kept as a character): 'malformed' unless it decodes. */
  text(field: string, min: number, max: number): string {
    const bytes = this.short(field, min, max);
    try {
      return utf8.decode(bytes);
    } catch {
      return fail('malformed', `${this.what}: ${field} is not UTF-8`);
    }
  }

  /** A field with a u16 length prefix. */
  long(field: string, min: number, max: number): Uint8Array {
    return this.#bounded(this.u16(), field, min, max);
  }

  rest(): Uint8Array {
    // Stryker disable next-line StringLiteral: the field name shows only when the bytes are too few, and this asks for exactly what is left
    return this.bytesOf(this.remaining, 'the rest');
  }

  end(): void {
    if (this.remaining !== 0) fail('malformed', `${this.what}: ${this.remaining} bytes after the last field`);
  }

  #bounded(length: number, field: string, min: number, max: number): Uint8Array {
    if (length < min || length > max) fail('malformed', `${this.what}: ${field} must be ${min} to ${max} bytes, got ${length}`);
    return this.bytesOf(length, field);
  }

  #need(length: number, field: string): void {
    if (this.remaining < length) fail('malformed', `${this.what} is truncated: ${field} needs ${length} bytes, ${this.remaining} left`);
  }
}

/**
 * Encoders write values they have checked, but a value too large for its field would otherwise
 * be truncated in silence into another, valid-looking message.
 */
function fitting(value: number, max: number, field: string): number {
  if (!(Number.isInteger(value) && value >= 0 && value <= max)) throw new RangeError(`a ${field} field cannot hold ${value}`);
  return value;
}

/** Builds a message; every integer and length prefix is checked against its field's size. */
export class WireWriter {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  u8(value: number): this {
    return this.raw(Uint8Array.of(fitting(value, 0xff, 'u8')));
  }

  u16(value: number): this {
    fitting(value, 0xffff, 'u16');
    return this.raw(Uint8Array.of(value >>> 8, value & 0xff));
  }

  u32(value: number): this {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, fitting(value, 0xffff_ffff, 'u32'));
    return this.raw(out);
  }

  u64(value: number): this {
    fitting(value, Number.MAX_SAFE_INTEGER, 'u64');
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    view.setUint32(0, Math.floor(value / 2 ** 32));
    view.setUint32(4, value >>> 0);
    return this.raw(out);
  }

  short(bytes: Uint8Array): this {
    if (bytes.length > 0xff) throw new RangeError('a u8-prefixed field is longer than 255 bytes');
    return this.u8(bytes.length).raw(bytes);
  }

  long(bytes: Uint8Array): this {
    if (bytes.length > 0xffff) throw new RangeError('a u16-prefixed field is longer than 65535 bytes');
    return this.u16(bytes.length).raw(bytes);
  }

  raw(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    this.#length += bytes.length;
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}
