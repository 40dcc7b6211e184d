import { describe, expect, it } from 'vitest';
import { SecretBytes } from '../lib/index.js';

/**
 * Every method a SecretBytes inherits, called as a caller might (no arguments, a separator, a
 * locale, a callback): none may return the bytes as text, or a copy that is not SecretBytes. Enumerating the prototypes, rather than
 * listing the methods known today, catches the ones a newer runtime adds.
 */
const BYTES = [0x41, 0x7a, 0x09, 0xff, 0x00, 0x80];
const REDACTED = `[SecretBytes ${BYTES.length} bytes]`;
const ARGUMENTS: unknown[][] = [[], [','], [''], ['en-US'], ['de-DE', { style: 'currency', currency: 'EUR' }], [(byte: number) => byte]];

function inheritedMethods(): string[] {
  const names = new Set<string>();
  for (let proto: object | null = Uint8Array.prototype; proto; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (typeof Object.getOwnPropertyDescriptor(proto, name)!.value === 'function' && name !== 'constructor') names.add(name);
    }
  }
  return [...names];
}

describe('SecretBytes renders no bytes as text', () => {
  const methods = inheritedMethods();

  it('enumerates the typed array methods that render text', () => {
    for (const name of ['toString', 'toLocaleString', 'join']) expect(methods).toContain(name);
  });

  it.each(methods)('%s', (name) => {
    for (const args of ARGUMENTS) {
      const secret = SecretBytes.copyOf(Uint8Array.from(BYTES));
      let result: unknown;
      try {
        result = (secret as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
      } catch {
        continue; // refused these arguments: rendered nothing
      }
      const call = `${name}(${args.map(String).join(', ')})`;
      if (typeof result === 'string') expect(result, call).toBe(REDACTED);
      // A copy of the bytes must not render them either.
      if (ArrayBuffer.isView(result)) expect(result, call).toBeInstanceOf(SecretBytes);
    }
  });

  it('as do the generic Array methods, which call join', () => {
    const secret = SecretBytes.copyOf(Uint8Array.from(BYTES));
    expect(Array.prototype.toString.call(secret)).toBe(REDACTED);
    expect(`${secret}`).toBe(REDACTED);
  });
});

describe("SecretBytes' own copies behave as Uint8Array's", () => {
  const plain = Uint8Array.from(BYTES);
  const secret = () => SecretBytes.copyOf(plain);

  it('toReversed, toSorted and with', () => {
    expect(Array.from(secret().toReversed())).toEqual(Array.from(plain.toReversed()));
    const descending = (a: number, b: number) => b - a;
    expect(Array.from(secret().toSorted(descending))).toEqual(Array.from(plain.toSorted(descending)));
    expect(Array.from(secret().toSorted())).toEqual(Array.from(plain.toSorted()));
    for (const [index, value] of [[0, 7], [-1, 300], [2.7, -1], [-6, 1], [Number.NaN, 5]] as const) {
      expect(Array.from(secret().with(index, value)), `with(${index}, ${value})`).toEqual(Array.from(plain.with(index, value)));
    }
    for (const index of [6, -7, Infinity]) {
      expect(() => secret().with(index, 0)).toThrow(RangeError);
      expect(() => plain.with(index, 0)).toThrow(RangeError);
    }
    // The original is left as it was.
    const original = secret();
    original.toReversed();
    original.with(0, 0);
    expect(Array.from(original)).toEqual(BYTES);
  });
});
