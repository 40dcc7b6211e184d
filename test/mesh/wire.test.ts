import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireReader, WireWriter } from '../../lib/mesh/wire.js';
import { malformed } from './malformed.js';

// Big-endian integers and u8/u16 length prefixes, as docs/protocol.md's notation defines them.
const read = (...bytes: number[]) => new WireReader(Uint8Array.from(bytes), 'a test message');

describe('WireReader', () => {
  it('reads u8, u16 and u32 big-endian and moves past them', () => {
    const wire = read(0xab, 0x12, 0x34, 0xfe, 0xdc, 0xba, 0x98, 0x07);
    expect(wire.u8()).toBe(0xab);
    expect(wire.u16()).toBe(0x1234);
    expect(wire.u32()).toBe(0xfedcba98);
    expect([wire.offset, wire.remaining]).toEqual([7, 1]);
    expect(wire.u8()).toBe(0x07);
    expect(() => wire.end()).not.toThrow();
  });

  it('refuses to read past the end, naming the field, its size and what is left', () => {
    expect(() => read().u8()).toThrow(malformed('a test message is truncated: a byte needs 1 bytes, 0 left'));
    expect(() => read(1).u16()).toThrow(malformed('a test message is truncated: a 16-bit length needs 2 bytes, 1 left'));
    expect(() => read(1, 2, 3).u32()).toThrow(malformed('a test message is truncated: a 32-bit number needs 4 bytes, 3 left'));
    expect(() => read(1, 2, 3, 4).bytesOf(5, 'the field')).toThrow(malformed('a test message is truncated: the field needs 5 bytes, 4 left'));
    expect(read(1, 2, 3, 4).bytesOf(4, 'the field')).toEqual(Uint8Array.of(1, 2, 3, 4));
  });

  it('reads u64 up to 2^53 - 1 and refuses a value whose high 32 bits exceed 0x1fffff', () => {
    expect(read(0, 0, 0, 1, 0, 0, 0, 2).u64()).toBe(2 ** 32 + 2);
    expect(read(0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).u64()).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => read(0x00, 0x20, 0, 0, 0, 0, 0, 0).u64()).toThrow(malformed('a test message: a 64-bit field is out of range'));
    expect(() => read(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).u64()).toThrow(malformed('a test message: a 64-bit field is out of range'));
  });

  it('takes a length-prefixed field of min to max bytes and refuses one length past either bound', () => {
    expect(read(2, 9, 8).short('the field', 2, 4)).toEqual(Uint8Array.of(9, 8));
    expect(read(4, 9, 8, 7, 6).short('the field', 2, 4)).toEqual(Uint8Array.of(9, 8, 7, 6));
    expect(() => read(1, 9).short('the field', 2, 4)).toThrow(malformed('a test message: the field must be 2 to 4 bytes, got 1'));
    expect(() => read(5, 9, 8, 7, 6, 5).short('the field', 2, 4)).toThrow(malformed('a test message: the field must be 2 to 4 bytes, got 5'));
    // The prefix is within bounds but the bytes are not there.
    expect(() => read(3, 9).short('the field', 2, 4)).toThrow(malformed('a test message is truncated: the field needs 3 bytes, 1 left'));

    const long = (length: number) => new WireReader(Uint8Array.from([length >> 8, length & 0xff, ...new Uint8Array(length).fill(7)]), 'a test message');
    expect(long(0x0102).long('the field', 1, 0x0102)).toEqual(new Uint8Array(0x0102).fill(7));
    expect(() => long(0x0103).long('the field', 1, 0x0102)).toThrow(malformed('a test message: the field must be 1 to 258 bytes, got 259'));
  });

  it('decodes UTF-8 text, keeps a byte-order mark, and refuses bytes that are not UTF-8', () => {
    const text = (...bytes: number[]) => read(bytes.length, ...bytes).text('the name', 1, 16);
    expect(text(0x6e, 0xc5, 0x93, 0x75, 0x64)).toBe('nœud');
    expect(text(0xef, 0xbb, 0xbf, 0x61)).toBe('\ufeffa');
    // A stray continuation byte, an overlong NUL and an encoded UTF-16 surrogate.
    for (const bad of [[0x61, 0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80]]) {
      expect(() => text(...bad)).toThrow(malformed('a test message: the name is not UTF-8'));
    }
    expect(() => read(0).text('the name', 1, 16)).toThrow(malformed('a test message: the name must be 1 to 16 bytes, got 0'));
  });

  it('gives the rest, possibly nothing, after which the message has ended', () => {
    const wire = read(1, 2, 3);
    wire.u8();
    expect(wire.rest()).toEqual(Uint8Array.of(2, 3));
    expect(wire.remaining).toBe(0);
    expect(() => wire.end()).not.toThrow();
    expect(wire.rest()).toEqual(new Uint8Array(0));
  });

  it('refuses bytes after the last field, saying how many', () => {
    const wire = read(1, 2, 3, 4);
    wire.u8();
    expect(() => wire.end()).toThrow(malformed('a test message: 3 bytes after the last field'));
  });
});

describe('WireWriter', () => {
  it('writes big-endian integers and length prefixes in order', () => {
    const bytes = new WireWriter()
      .u8(0xab)
      .u16(0x1234)
      .u32(0xfedcba98)
      .u64(2 ** 40 + 0x01020304)
      .short(Uint8Array.of(9, 8))
      .long(Uint8Array.of(7))
      .raw(Uint8Array.of(6, 5))
      .finish();
    expect(Array.from(bytes)).toEqual([0xab, 0x12, 0x34, 0xfe, 0xdc, 0xba, 0x98, 0, 0, 1, 0, 1, 2, 3, 4, 2, 9, 8, 0, 1, 7, 6, 5]);
  });

  it('writes each integer field from 0 to its largest value, and refuses anything else instead of truncating it', () => {
    const fields = [
      ['u8', 0xff, 1],
      ['u16', 0xffff, 2],
      ['u32', 0xffff_ffff, 4],
      ['u64', Number.MAX_SAFE_INTEGER, 8],
    ] as const;
    for (const [field, max, length] of fields) {
      const write = (value: number) => new WireWriter()[field](value).finish();
      expect(write(0)).toEqual(new Uint8Array(length));
      const read = new WireReader(write(max), 'a test message');
      expect(read[field]()).toBe(max);
      for (const value of [max + 1, -1, 1.5, Number.NaN]) {
        expect(() => write(value), `${field}(${value})`).toThrow(new RangeError(`a ${field} field cannot hold ${value}`));
      }
    }
  });

  it('takes a u8-prefixed field of up to 255 bytes and a u16-prefixed field of up to 65535', () => {
    expect(new WireWriter().short(new Uint8Array(255)).finish()).toHaveLength(256);
    expect(() => new WireWriter().short(new Uint8Array(256))).toThrow(new RangeError('a u8-prefixed field is longer than 255 bytes'));
    expect(new WireWriter().long(new Uint8Array(65535)).finish()).toHaveLength(65537);
    expect(() => new WireWriter().long(new Uint8Array(65536))).toThrow(new RangeError('a u16-prefixed field is longer than 65535 bytes'));
  });

  it('writes what WireReader reads back (fast-check)', () => {
    fc.assert(
      fc.property(fc.nat(0xff), fc.nat(0xffff), fc.nat(0xffffffff), fc.maxSafeNat(), fc.uint8Array({ maxLength: 255 }), fc.uint8Array({ maxLength: 600 }), (a, b, c, d, short, long) => {
        const wire = new WireReader(new WireWriter().u8(a).u16(b).u32(c).u64(d).short(short).long(long).finish(), 'a test message');
        expect([wire.u8(), wire.u16(), wire.u32(), wire.u64(), wire.short('s', 0, 255), wire.long('l', 0, 0xffff)]).toEqual([a, b, c, d, short, long]);
        wire.end();
      }),
      { numRuns: 200, seed: 5869 },
    );
  });
});
