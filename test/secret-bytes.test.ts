import { describe, expect, it, vi } from 'vitest';
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

  it('the methods that render bytes as text render what toString does', () => {
    const secret = SecretBytes.copyOf(Uint8Array.from(BYTES));
    expect(secret.toString()).toBe(REDACTED);
    expect(secret.toLocaleString()).toBe(REDACTED);
    expect(secret.join()).toBe(REDACTED);
    expect(secret.join('-')).toBe(REDACTED);
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
    // Refused as the built-in refuses: an index out of range, and (converted as numbers are) a
    // BigInt index or value.
    for (const [index, value] of [[6, 0], [-7, 0], [Infinity, 0], [2n, 0], [1, 5n]]) {
      const call = (bytes: Uint8Array) => () => (bytes.with as (index: unknown, value: unknown) => Uint8Array)(index, value);
      const expected = thrown(call(plain));
      expect(expected).toBeInstanceOf(typeof index === 'bigint' || typeof value === 'bigint' ? TypeError : RangeError);
      const error = thrown(call(secret()));
      expect(error.constructor, `with(${index}, ${value})`).toBe(expected.constructor);
      expect(error.message, `with(${index}, ${value})`).toBe(expected.message);
    }
    // The original is left as it was.
    const original = secret();
    original.toReversed();
    original.with(0, 0);
    expect(Array.from(original)).toEqual(BYTES);
  });
});

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
}

describe("the ES2026 hex and base64 methods (Uint8Array's toHex and toBase64)", () => {
  const NAMES = ['toHex', 'toBase64'] as const;

  it('SecretBytes has them only where Uint8Array has them', () => {
    for (const name of NAMES) expect(name in SecretBytes.prototype, name).toBe(name in Uint8Array.prototype);
  });

  // A runtime that has them is stood in for by defining them, as ECMA-262 does, before a fresh
  // import of lib/bytes.ts (Node 20 to 24 lack them; Node 26 has them).
  it('on a runtime that has them they render what toString does, and are methods like the others', async () => {
    const hadThem = NAMES.filter((name) => Object.hasOwn(Uint8Array.prototype, name));
    const render = { toHex: 'hex', toBase64: 'base64' } as const;
    for (const name of NAMES) {
      if (hadThem.includes(name)) continue;
      Object.defineProperty(Uint8Array.prototype, name, {
        value(this: Uint8Array) {
          return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString(render[name]);
        },
        writable: true,
        enumerable: false,
        configurable: true,
      });
    }
    try {
      vi.resetModules();
      const { SecretBytes: Fresh } = await import('../lib/bytes.js');
      const secret = Fresh.copyOf(Uint8Array.from(BYTES)) as unknown as Record<string, () => string>;
      const { value: _toString, ...method } = Object.getOwnPropertyDescriptor(Fresh.prototype, 'toString')!;
      for (const name of NAMES) {
        expect(secret[name]!(), name).toBe(REDACTED);
        const { value: _value, ...attributes } = Object.getOwnPropertyDescriptor(Fresh.prototype, name)!;
        expect(attributes, name).toEqual(method);
        // A caller may still replace it on one instance, as on a Uint8Array.
        secret[name] = () => 'replaced';
        expect(secret[name]!()).toBe('replaced');
      }
      // The plain Uint8Array still renders its bytes.
      expect((Uint8Array.of(0xab) as unknown as Record<string, () => string>).toHex!()).toBe('ab');
    } finally {
      for (const name of NAMES) if (!hadThem.includes(name)) delete (Uint8Array.prototype as unknown as Record<string, unknown>)[name];
      vi.resetModules();
    }
  });
});
