import { inspect, types } from 'node:util';
import { PqcError } from './errors.js';
import { mapInSlices } from './slices.js';

const wipeListeners: ((secret: Uint8Array) => void)[] = [];

/**
 * For a layer that keeps its own copies derived from secrets (the hybrids' expanded keys): told
 * of each secret wiped, to wipe its copies too.
 */
export function onSecretWiped(listener: (secret: Uint8Array) => void): void {
  wipeListeners.push(listener);
}

/** What SecretBytes.wipe() does, for secrets held in plain Uint8Arrays (a batch's outputs). */
export function wipeSecret(secret: Uint8Array): void {
  secret.fill(0);
  for (const listener of wipeListeners) listener(secret);
}

/**
 * Bytes that must not leak: secret keys and shared secrets. A plain Uint8Array everywhere
 * bytes are expected, but `inspect`, `toString` and `JSON.stringify` show no content.
 *
 * Make them with `alloc` or `copyOf` (or view `ownedBytes`), never `new SecretBytes(n)`: V8 keeps typed arrays of up
 * to 64 bytes on its garbage-collected heap, where a collection may move them and leave the old
 * bytes behind, out of reach of `wipe()`; an explicit ArrayBuffer lives outside it and stays put.
 */
export class SecretBytes extends Uint8Array {
  /** `length` zero bytes in memory of their own. */
  static alloc(length: number): SecretBytes {
    return new SecretBytes(new ArrayBuffer(length));
  }

  /** A copy of `bytes` in memory of its own. */
  static copyOf(bytes: Uint8Array): SecretBytes {
    const copy = SecretBytes.alloc(bytes.byteLength);
    copy.set(bytes);
    return copy;
  }

  override toString(): string {
    return `[SecretBytes ${this.length} bytes]`;
  }

  // Every inherited method that renders the bytes as text shows what toString shows.
  override toLocaleString(): string {
    return this.toString();
  }

  override join(_separator?: string): string {
    return this.toString();
  }

  // The copying methods that do not go through Symbol.species would hand out plain Uint8Arrays,
  // which render their bytes: their copies are SecretBytes too.
  override toReversed(): SecretBytes {
    return SecretBytes.copyOf(this).reverse() as SecretBytes;
  }

  override toSorted(compareFn?: (a: number, b: number) => number): SecretBytes {
    return SecretBytes.copyOf(this).sort(compareFn) as SecretBytes;
  }

  /** As Uint8Array's `with`: a copy with the byte at `index` (from the end when negative) replaced. */
  override with(index: number, value: number): SecretBytes {
    // Unary plus is ToNumber, as the built-in converts: a BigInt index or value is a TypeError.
    const relative = Math.trunc(+index) || 0;
    const at = relative < 0 ? this.length + relative : relative;
    const byte = +value;
    if (at < 0 || at >= this.length) throw new RangeError('Invalid typed array index');
    const copy = SecretBytes.copyOf(this);
    copy[at] = byte;
    return copy;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }

  /**
   * Overwrites the bytes with zeros, as soon as the caller is done with them, instead of
   * leaving them to the garbage collector (which frees memory without clearing it).
   */
  wipe(): void {
    wipeSecret(this);
  }

  /** `using secret = kem.decapsulate(…)` wipes the secret when the block ends. */
  [Symbol.dispose](): void {
    this.wipe();
  }

  /**
   * `bytes` as SecretBytes, sharing its memory (a batch's outputs, made by a backend). They must
   * live in an explicit ArrayBuffer, off V8's heap: see above.
   */
  static view(bytes: Uint8Array): SecretBytes {
    return bytes instanceof SecretBytes ? bytes : new SecretBytes(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  }
}

// Runtimes newer than the types this package compiles against render bytes as text with these too
// (the ES2026 Uint8Array hex and base64 methods).
for (const name of ['toHex', 'toBase64']) {
  if (name in Uint8Array.prototype) {
    Object.defineProperty(SecretBytes.prototype, name, { value: SecretBytes.prototype.toString, writable: true, configurable: true });
  }
}

// The typed array internals, read through the built-in getters: a Proxy of a Uint8Array passes
// `instanceof` but has none (its getters throw), and a view's own properties may lie.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const intrinsic = (name: PropertyKey) => Object.getOwnPropertyDescriptor(typedArrayPrototype, name)!.get!;
const typedArrayTag = intrinsic(Symbol.toStringTag) as (this: unknown) => string | undefined;
const typedArrayByteLength = intrinsic('byteLength') as (this: unknown) => number;
const typedArrayBuffer = intrinsic('buffer') as (this: unknown) => ArrayBufferLike;

/** A typed array's length in bytes, from the built-in getter: never the caller's code. */
export function byteLengthOf(view: ArrayBufferView): number {
  return typedArrayByteLength.call(view);
}

const SHOWN_STRING_LENGTH = 16;

/**
 * What `value` is, for an error message: `string "10"`, `ArrayBuffer(32)`, `Promise (missing
 * await?)`. It never throws and never runs the caller's code (no toString, getter or Proxy trap),
 * and quotes only short strings: a long one may be an encoded key.
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value.length <= SHOWN_STRING_LENGTH ? `string ${JSON.stringify(value)}` : `string of ${value.length} characters`;
    case 'number':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'bigint':
      return `bigint ${String(value)}n`;
    case 'object':
      return value === null ? 'null' : describeObject(value);
    default:
      return typeof value;
  }
}

function describeObject(value: object): string {
  if (types.isProxy(value)) return arrayOrRevoked(value) === 'revoked' ? 'revoked Proxy' : 'Proxy';
  const tag = typedArrayTag.call(value);
  if (tag !== undefined) return `${tag}(${typedArrayByteLength.call(value)} bytes)`;
  if (types.isPromise(value)) return 'Promise (missing await?)';
  if (types.isArrayBuffer(value)) return `ArrayBuffer(${value.byteLength})`;
  if (types.isSharedArrayBuffer(value)) return `SharedArrayBuffer(${value.byteLength})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === null || types.isProxy(proto)) return 'object';
  const constructor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
  if (typeof constructor !== 'function' || types.isProxy(constructor)) return 'object';
  const name = Object.getOwnPropertyDescriptor(constructor, 'name')?.value as unknown;
  if (typeof name !== 'string' || name === '' || name === 'Object') return 'object';
  // A real typed array was found above: this one only has the prototype.
  return TYPED_ARRAY_NAME.test(name) ? `${name} look-alike (not a real ${name})` : name;
}

const TYPED_ARRAY_NAME = /^(Big)?(Int|Uint|Float)\d+(Clamped)?Array$|^Buffer$/;

/**
 * `length` zero bytes in an ArrayBuffer of their own, off V8's heap: for outputs that may be
 * secrets (see SecretBytes).
 */
export function ownedBytes(length: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(length));
}

/**
 * Checks `value` is a Uint8Array, not detached, of `length` bytes when given. `index` names an
 * item of a batch (`name[index]`); the name is made only for the error.
 */
export function requireBytes(value: unknown, name: string, length?: number, what?: string, index?: number): Uint8Array {
  const label = () => (index === undefined ? name : `${name}[${index}]`);
  if (!types.isUint8Array(value) || !(value instanceof Uint8Array)) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `${label()} must be a Uint8Array, got ${describe(value)}`);
  }
  const byteLength = typedArrayByteLength.call(value);
  // Stryker disable next-line ConditionalExpression: `byteLength === 0` → true only tests every view for detachment; a view of any bytes is never detached, so only the work changes
  if (byteLength === 0 && isDetached(value)) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `${label()} is a detached buffer`);
  }
  if (length !== undefined && byteLength !== length) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `${label()} must be ${length} bytes${what ? ` (${what})` : ''}, got ${byteLength}`);
  }
  return value;
}

/**
 * Array.isArray(value), or 'revoked' for a revoked Proxy: it throws on every use, and
 * Array.isArray is the one test that finds one without running a live Proxy's traps.
 */
function arrayOrRevoked(value: unknown): boolean | 'revoked' {
  try {
    return Array.isArray(value);
  } catch {
    return 'revoked';
  }
}

/** Array.isArray, false (instead of a TypeError) for a revoked Proxy. */
export function isArray(value: unknown): value is unknown[] {
  return arrayOrRevoked(value) === true;
}

/**
 * `check(item, i)` of each item of the array `value`, each read once by index, in slices
 * (lib/slices.ts): a hole is an undefined item (which the checks then refuse), and what was
 * checked is what runs, whatever the array does later.
 */
export function requireArray<T>(value: unknown, name: string, check: (item: unknown, i: number) => T): Promise<T[]> {
  const length = isArray(value) ? value.length : undefined;
  if (!isInteger(length) || length < 1 || length > MAX_BATCH) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `${name} must be an array of 1 to ${MAX_BATCH} Uint8Array, got ${describe(value)}`);
  }
  return mapInSlices(length, (i) => check((value as unknown[])[i], i));
}

export function requireByteArray(value: unknown, name: string, length?: number, what?: string): Promise<Uint8Array[]> {
  return requireArray(value, name, (item, i) => requireBytes(item, name, length, what, i));
}

// Node 20 has no ArrayBuffer.prototype.detached; a view over a detached buffer cannot be made.
function isDetached(view: Uint8Array): boolean {
  try {
    new Uint8Array(typedArrayBuffer.call(view));
    return false;
  } catch {
    return true;
  }
}

/** Largest batch the addon accepts in one call (csrc/algorithm_handle.cc). */
export const MAX_BATCH = 1 << 20;

/** Number.isInteger, typed as the test for a number that it is. */
const isInteger = Number.isInteger as (value: unknown) => value is number;

export function requireCount(count: unknown): number {
  if (!isInteger(count) || count < 1 || count > MAX_BATCH) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `count must be an integer from 1 to ${MAX_BATCH}, got ${describe(count)}`);
  }
  return count;
}

// Shared by every call without options: one object less for each of a server's concurrent calls.
const NO_OPTIONS = Object.freeze({});

/** An options argument: undefined (none) or an object; null or a primitive is a caller's mistake. */
export function requireOptions<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) return NO_OPTIONS;
  if (!isReadableObject(value)) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `options must be an object, got ${describe(value)}`);
  }
  return value;
}

/** The output object of an `…Into` call, e.g. `{ ciphertext, sharedSecret }`. */
export function requireOutputObject<T extends object>(out: T): T {
  if (!isReadableObject(out)) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `the outputs must be an object of Uint8Array, got ${describe(out)}`);
  }
  return out;
}

/** Whether the properties of `value` can be read: an object, and not a revoked Proxy. */
function isReadableObject(value: unknown): value is object {
  return value !== null && typeof value === 'object' && arrayOrRevoked(value) !== 'revoked';
}

/** `output` must not overlap `other`: liboqs may read an input after it has written an output. */
export function requireDisjoint(output: Uint8Array, outputName: string, other: Uint8Array, otherName: string): void {
  if (
    output.buffer === other.buffer &&
    output.byteOffset < other.byteOffset + other.byteLength &&
    other.byteOffset < output.byteOffset + output.byteLength
  ) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `${outputName} and ${otherName} must not overlap`);
  }
}
