import { readFileSync } from 'node:fs';
import { describe as group, expect, it } from 'vitest';
import {
  byteLengthOf,
  describe,
  isArray,
  MAX_BATCH,
  onSecretWiped,
  ownedBytes,
  requireArray,
  requireBytes,
  requireByteArray,
  requireCount,
  requireDisjoint,
  requireOptions,
  requireOutputObject,
  SecretBytes,
  wipeSecret,
} from '../lib/bytes.js';
import { expectCode } from './support/errors.js';

/**
 * lib/bytes.ts's argument checks on their own: what each accepts and refuses, and the message a
 * refusal carries (README: messages say what was given instead, and never quote what may be a key).
 */

/** A Proxy of `target` whose handler records every trap the engine looks up on it (and runs none). */
function watched<T extends object>(target: T): { proxy: T; traps: PropertyKey[] } {
  const traps: PropertyKey[] = [];
  const handler = new Proxy({}, { get: (_, trap) => void traps.push(trap) });
  return { proxy: new Proxy(target, handler), traps };
}

function revoked(target: object = {}): object {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

function detachedView(): Uint8Array {
  const buffer = new ArrayBuffer(8);
  const view = new Uint8Array(buffer, 2, 4);
  structuredClone(buffer, { transfer: [buffer] });
  return view;
}

/** A function whose own `name` property is `descriptor`. */
function named(descriptor: PropertyDescriptor): new () => object {
  const constructor = function () {} as unknown as new () => object;
  Object.defineProperty(constructor, 'name', { configurable: true, ...descriptor });
  return constructor;
}

const instanceOf = (constructor: new () => object) => Object.create(constructor.prototype as object) as object;

/** The message of the ERR_PQC_INVALID_INPUT that `run` must throw. */
const refusal = (run: () => unknown) => expectCode(run, 'ERR_PQC_INVALID_INPUT').message;

group('describe', () => {
  it('a primitive: its type, then its value where that cannot be a secret', () => {
    expect(describe(5)).toBe('number 5');
    expect(describe(-1.5)).toBe('number -1.5');
    expect(describe(Number.NaN)).toBe('number NaN');
    expect(describe(-Infinity)).toBe('number -Infinity');
    expect(describe(true)).toBe('boolean true');
    expect(describe(false)).toBe('boolean false');
    // As a bigint is written in source, so that it reads apart from a number.
    expect(describe(2n)).toBe('bigint 2n');
    expect(describe(-(2n ** 70n))).toBe(`bigint -${2n ** 70n}n`);
    expect(describe(undefined)).toBe('undefined');
    expect(describe(null)).toBe('null');
    expect(describe(Symbol('a description is the caller\'s text'))).toBe('symbol');
    expect(describe(() => 1)).toBe('function');
    expect(describe(class Widget {})).toBe('function');
  });

  it('quotes a string of up to 16 characters, and only counts a longer one (it may be an encoded key)', () => {
    const sixteen = 'abcdefghijklmnop';
    expect(sixteen).toHaveLength(16);
    expect(describe(sixteen)).toBe('string "abcdefghijklmnop"');
    expect(describe(`${sixteen}q`)).toBe('string of 17 characters');
    expect(describe('')).toBe('string ""');
    // Quoted as JSON, so that the message shows where the string ends.
    expect(describe('a"b\n')).toBe('string "a\\"b\\n"');
  });

  it('a typed array, by its type and byte length; a Buffer is a Uint8Array', () => {
    expect(describe(new Uint8Array(3))).toBe('Uint8Array(3 bytes)');
    expect(describe(new Float64Array(2))).toBe('Float64Array(16 bytes)');
    expect(describe(new BigInt64Array(1))).toBe('BigInt64Array(8 bytes)');
    expect(describe(new Uint8ClampedArray(5))).toBe('Uint8ClampedArray(5 bytes)');
    expect(describe(Buffer.alloc(4))).toBe('Uint8Array(4 bytes)');
    expect(describe(SecretBytes.alloc(2))).toBe('Uint8Array(2 bytes)');
    expect(describe(detachedView())).toBe('Uint8Array(0 bytes)');
  });

  it('buffers, promises and arrays', () => {
    expect(describe(new ArrayBuffer(32))).toBe('ArrayBuffer(32)');
    expect(describe(new SharedArrayBuffer(8))).toBe('SharedArrayBuffer(8)');
    expect(describe(Promise.resolve(new Uint8Array(1)))).toBe('Promise (missing await?)');
    expect(describe([1, 2, 3])).toBe('Array(3)');
    expect(describe(new Array(MAX_BATCH + 1))).toBe(`Array(${MAX_BATCH + 1})`);
  });

  it('a Proxy, without running any of its traps, and a revoked one', () => {
    const { proxy, traps } = watched(new Uint8Array(4));
    expect(describe(proxy)).toBe('Proxy');
    expect(describe(watched([1]).proxy)).toBe('Proxy');
    expect(traps).toEqual([]);
    expect(describe(revoked())).toBe('revoked Proxy');
    expect(describe(revoked([]))).toBe('revoked Proxy');
  });

  it('an instance of a class, by its constructor name', () => {
    expect(describe(new (class Widget {})())).toBe('Widget');
    expect(describe(new Map())).toBe('Map');
    expect(describe(new DataView(new ArrayBuffer(2)))).toBe('DataView');
    expect(describe(new TypeError('x'))).toBe('TypeError');
  });

  it("a plain object, or one whose constructor or its name cannot be read without the caller's code, is an object", () => {
    expect(describe({})).toBe('object');
    expect(describe({ constructor: Uint8Array })).toBe('object');
    expect(describe(Object.create(null))).toBe('object');
    // A prototype without a constructor of its own.
    expect(describe(Object.create({}))).toBe('object');
    // A constructor that is no function: its name is no class's.
    expect(describe(Object.create({ constructor: { name: 'Widget' } }))).toBe('object');
    expect(describe(Object.create({ constructor: 'Widget' }))).toBe('object');
    // Names that are not a class's name.
    expect(describe(instanceOf(named({ value: '' })))).toBe('object');
    expect(describe(instanceOf(named({ value: 42 })))).toBe('object');
    let getterRan = false;
    const withNameGetter = named({
      get: () => {
        getterRan = true;
        return 'Widget';
      },
    });
    expect(describe(instanceOf(withNameGetter))).toBe('object');
    expect(getterRan).toBe(false);
    // Proxies on the way to the name run no trap either.
    const prototype = watched({});
    expect(describe(Object.create(prototype.proxy))).toBe('object');
    const constructor = watched(class Widget {});
    expect(describe(Object.create({ constructor: constructor.proxy }))).toBe('object');
    expect([...prototype.traps, ...constructor.traps]).toEqual([]);
  });

  it('an object with only the prototype of a typed array or Buffer is a look-alike', () => {
    for (const type of [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, Buffer]) {
      const lookAlike = Object.create(type.prototype as object) as object;
      expect(describe(lookAlike)).toBe(`${type.name} look-alike (not a real ${type.name})`);
    }
    // A class that merely claims the name.
    const claimed = class Uint8Array {};
    expect(describe(new claimed())).toBe('Uint8Array look-alike (not a real Uint8Array)');
  });

  it('a class whose name only contains a typed array name is itself', () => {
    for (const name of ['MyUint8Array', 'Uint8ArrayThing', 'MyUint8ArrayThing', 'Uint8Arrays', 'IntArray', 'Float64ArrayBuilder', 'MyBuffer', 'BufferList', 'Buffers']) {
      expect(describe(instanceOf(named({ value: name }))), name).toBe(name);
    }
  });
});

group('requireBytes', () => {
  it('returns the Uint8Array it is given, of any length when none is required', () => {
    for (const bytes of [new Uint8Array(3), new Uint8Array(0), Buffer.alloc(2), SecretBytes.alloc(1), new Uint8Array(new SharedArrayBuffer(4))]) {
      expect(requireBytes(bytes, 'key')).toBe(bytes);
    }
  });

  it('refuses a view of a detached buffer, but not a genuine view of no bytes', () => {
    expect(refusal(() => requireBytes(detachedView(), 'key'))).toBe('key is a detached buffer');
    expect(refusal(() => requireBytes(detachedView(), 'keys', 4, 'a public key', 2))).toBe('keys[2] is a detached buffer');
    const empty = new Uint8Array(new ArrayBuffer(8), 8, 0);
    expect(requireBytes(empty, 'key')).toBe(empty);
    expect(requireBytes(empty, 'key', 0)).toBe(empty);
  });

  it('requires the length when one is given, and says what the bytes are for when told', () => {
    expect(requireBytes(new Uint8Array(4), 'key', 4)).toBeInstanceOf(Uint8Array);
    expect(refusal(() => requireBytes(new Uint8Array(3), 'key', 4))).toBe('key must be 4 bytes, got 3');
    expect(refusal(() => requireBytes(new Uint8Array(5), 'key', 4, 'an ML-KEM-512 seed'))).toBe('key must be 4 bytes (an ML-KEM-512 seed), got 5');
    expect(refusal(() => requireBytes(new Uint8Array(0), 'keys', 4, undefined, 0))).toBe('keys[0] must be 4 bytes, got 0');
  });

  it('refuses what is not a Uint8Array, saying what it is', () => {
    expect(refusal(() => requireBytes(new Uint16Array(2), 'key'))).toBe('key must be a Uint8Array, got Uint16Array(4 bytes)');
    expect(refusal(() => requireBytes(Object.create(Uint8Array.prototype), 'key', 4, undefined, 1))).toBe(
      'key[1] must be a Uint8Array, got Uint8Array look-alike (not a real Uint8Array)',
    );
    expect(refusal(() => requireBytes(new Proxy(new Uint8Array(4), {}), 'key'))).toBe('key must be a Uint8Array, got Proxy');
  });
});

group('byteLengthOf', () => {
  it("is a view's length in bytes, from the built-in getter, never from the caller's code", () => {
    expect(byteLengthOf(new Uint8Array(new ArrayBuffer(16), 4, 7))).toBe(7);
    expect(byteLengthOf(new Uint16Array(3))).toBe(6);
    class Lying extends Uint8Array {
      override get byteLength(): number {
        throw new Error('the caller ran');
      }
    }
    expect(byteLengthOf(new Lying(5))).toBe(5);
  });
});

group('requireArray and requireByteArray', () => {
  const limit = `must be an array of 1 to ${MAX_BATCH} Uint8Array`;

  it('MAX_BATCH is the largest batch the addon takes (csrc/algorithm_handle.cc)', () => {
    const source = readFileSync(new URL('../csrc/algorithm_handle.cc', import.meta.url), 'utf8');
    const shift = /constexpr uint32_t kMaxBatch = 1u << (\d+);/.exec(source);
    expect(shift).not.toBeNull();
    expect(MAX_BATCH).toBe(2 ** Number(shift![1]));
  });

  it('checks each item once, in order, and gives back what the checks returned', async () => {
    const seen: [unknown, number][] = [];
    const result = await requireArray(['a', 'b', 'c'], 'items', (item, i) => {
      seen.push([item, i]);
      return `${String(item)}${i}`;
    });
    expect(result).toEqual(['a0', 'b1', 'c2']);
    expect(seen).toEqual([['a', 0], ['b', 1], ['c', 2]]);
  });

  it('takes exactly MAX_BATCH items and refuses one more', async () => {
    const full = new Array<number>(MAX_BATCH).fill(7);
    const checked = await requireArray(full, 'items', (item) => item);
    expect(checked).toHaveLength(MAX_BATCH);
    expect(checked[MAX_BATCH - 1]).toBe(7);
    full.push(7);
    expect(refusal(() => requireArray(full, 'items', (item) => item))).toBe(`items ${limit}, got Array(${MAX_BATCH + 1})`);
  });

  it('refuses an empty array and what is not an array, without running the checks', () => {
    const never = () => {
      throw new Error('a check ran');
    };
    expect(refusal(() => requireArray([], 'items', never))).toBe(`items ${limit}, got Array(0)`);
    expect(refusal(() => requireArray(new Uint8Array(2), 'items', never))).toBe(`items ${limit}, got Uint8Array(2 bytes)`);
    expect(refusal(() => requireArray({ length: 1, 0: new Uint8Array(1) }, 'items', never))).toBe(`items ${limit}, got object`);
    expect(refusal(() => requireArray(revoked([]), 'items', never))).toBe(`items ${limit}, got revoked Proxy`);
  });

  it('requireByteArray names the item that fails', async () => {
    const items = [new Uint8Array(4), new Uint8Array(3)];
    await expect(requireByteArray(items, 'keys', 4, 'public keys')).rejects.toThrow('keys[1] must be 4 bytes (public keys), got 3');
    await expect(requireByteArray([new Uint8Array(4)], 'keys', 4)).resolves.toEqual([new Uint8Array(4)]);
  });

  it('isArray: an array or a Proxy of one; false for a revoked Proxy instead of a TypeError', () => {
    expect(isArray([])).toBe(true);
    expect(isArray(new Proxy([], {}))).toBe(true);
    expect(isArray(new Uint8Array(1))).toBe(false);
    expect(isArray(revoked([]))).toBe(false);
  });
});

group('requireCount', () => {
  it('takes an integer from 1 to MAX_BATCH', () => {
    for (const count of [1, 2, MAX_BATCH - 1, MAX_BATCH]) expect(requireCount(count)).toBe(count);
  });

  it('refuses anything else, saying what it got', () => {
    const refused: [unknown, string][] = [
      [0, 'number 0'],
      [MAX_BATCH + 1, `number ${MAX_BATCH + 1}`],
      [1.5, 'number 1.5'],
      [Number.NaN, 'number NaN'],
      [Infinity, 'number Infinity'],
      ['2', 'string "2"'],
      [2n, 'bigint 2n'],
      [new Number(2), 'Number'],
      [undefined, 'undefined'],
    ];
    for (const [count, got] of refused) {
      expect(refusal(() => requireCount(count))).toBe(`count must be an integer from 1 to ${MAX_BATCH}, got ${got}`);
    }
  });
});

group('requireOptions and requireOutputObject', () => {
  it('no options are none', () => {
    expect(requireOptions(undefined)).toEqual({});
  });

  it('take any object whose properties can be read, as it is', () => {
    for (const value of [{ seed: new Uint8Array(1) }, Object.create(null) as object, [], new Map(), new Proxy({}, {})]) {
      expect(requireOptions(value)).toBe(value);
      expect(requireOutputObject(value)).toBe(value);
    }
  });

  it('refuse null, primitives and a revoked Proxy, saying what they got', () => {
    const refused: [unknown, string][] = [
      [null, 'null'],
      [5, 'number 5'],
      ['seed', 'string "seed"'],
      [true, 'boolean true'],
      [Symbol('s'), 'symbol'],
      [() => ({}), 'function'],
      [revoked(), 'revoked Proxy'],
    ];
    for (const [value, got] of refused) {
      expect(refusal(() => requireOptions(value as object))).toBe(`options must be an object, got ${got}`);
      expect(refusal(() => requireOutputObject(value as object))).toBe(`the outputs must be an object of Uint8Array, got ${got}`);
    }
    expect(refusal(() => requireOutputObject(undefined as unknown as object))).toBe('the outputs must be an object of Uint8Array, got undefined');
  });
});

group('requireDisjoint', () => {
  const buffer = new ArrayBuffer(16);
  const at = (offset: number, length: number) => new Uint8Array(buffer, offset, length);

  it('passes views that only touch, in either order, and views of other buffers', () => {
    requireDisjoint(at(0, 8), 'output', at(8, 8), 'input');
    requireDisjoint(at(8, 8), 'output', at(0, 8), 'input');
    requireDisjoint(at(0, 8), 'output', new Uint8Array(16).subarray(0, 8), 'input');
  });

  it('refuses views that share a byte, in either order', () => {
    expect(refusal(() => requireDisjoint(at(0, 9), 'sharedSecret', at(8, 8), 'ciphertext'))).toBe('sharedSecret and ciphertext must not overlap');
    expect(refusal(() => requireDisjoint(at(8, 8), 'sharedSecret', at(0, 9), 'ciphertext'))).toBe('sharedSecret and ciphertext must not overlap');
    expect(refusal(() => requireDisjoint(at(4, 2), 'output', at(0, 16), 'input'))).toBe('output and input must not overlap');
    expect(refusal(() => requireDisjoint(at(0, 16), 'output', at(4, 2), 'input'))).toBe('output and input must not overlap');
    expect(refusal(() => requireDisjoint(at(3, 5), 'output', at(3, 5), 'input'))).toBe('output and input must not overlap');
  });
});

group('ownedBytes', () => {
  it('zero bytes in an ArrayBuffer of their own', () => {
    const bytes = ownedBytes(40);
    expect(bytes).toEqual(new Uint8Array(40));
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(40);
    expect(ownedBytes(40).buffer).not.toBe(bytes.buffer);
  });
});

group('onSecretWiped', () => {
  it('tells each listener of each secret wiped, once its bytes are zero', () => {
    const told: [Uint8Array, number[]][] = [];
    onSecretWiped((secret) => told.push([secret, Array.from(secret)]));
    const plain = Uint8Array.of(1, 2, 3);
    wipeSecret(plain);
    const secret = SecretBytes.copyOf(Uint8Array.of(4, 5));
    secret.wipe();
    const disposed = SecretBytes.copyOf(Uint8Array.of(6));
    disposed[Symbol.dispose]();
    expect(told).toEqual([
      [plain, [0, 0, 0]],
      [secret, [0, 0]],
      [disposed, [0]],
    ]);
    expect(told[1]![0]).toBe(secret);
  });
});
