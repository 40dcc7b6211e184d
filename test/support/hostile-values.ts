/**
 * What a caller may pass where bytes belong, besides the bytes: shared by the property tests of the
 * public API (test/hostile-arguments.test.ts) and of the raw addon (test/native-addon-fuzz.test.ts).
 */
/** Hostile stand-ins for a byte argument whose valid value is `base` (built afresh for each call). */
export function hostileBytes(base: Uint8Array): unknown[] {
  const revocable = Proxy.revocable(base, {});
  revocable.revoke();
  const detached = base.slice();
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  const lying = base.slice(0, 1);
  Object.defineProperties(lying, { byteLength: { value: base.byteLength }, length: { value: base.length } });
  const shared = new Uint8Array(new SharedArrayBuffer(base.byteLength));
  shared.set(base);
  // ES2024's resizable buffers, which the ES2023 types this package compiles against do not know.
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
  const resizable = new Uint8Array(new Resizable(base.byteLength, { maxByteLength: 2 * base.byteLength + 1 }));
  resizable.set(base);
  // The right bytes at an offset into a larger buffer; views over a resizable buffer that shrank.
  const offset = new Uint8Array(new ArrayBuffer(base.byteLength + 7), 3, base.byteLength);
  offset.set(base);
  const shrinking = new Resizable(base.byteLength, { maxByteLength: base.byteLength + 1 }) as ArrayBuffer & { resize(length: number): void };
  const tracking = new Uint8Array(shrinking);
  const outOfBounds = new Uint8Array(shrinking, 0, base.byteLength);
  shrinking.resize(Math.max(0, base.byteLength - 1));
  return [
    undefined,
    null,
    0,
    -1,
    1.5,
    Number.NaN,
    '',
    '10',
    'a'.repeat(100),
    true,
    10n,
    Symbol('hostile'),
    [Symbol('hostile')],
    () => base,
    {},
    Object.create(null),
    { toString: () => { throw new Error('toString ran') } },
    { [Symbol.toPrimitive]: () => { throw new Error('toPrimitive ran') } },
    [],
    [, base],
    base.buffer,
    new SharedArrayBuffer(8),
    new DataView(base.buffer, base.byteOffset, base.byteLength),
    Promise.resolve(base),
    new Proxy(base, {}),
    revocable.proxy,
    Object.create(Uint8Array.prototype),
    Object.setPrototypeOf(new DataView(new ArrayBuffer(base.byteLength)), Uint8Array.prototype),
    new Uint16Array(Math.ceil(base.byteLength / 2)),
    new Int8Array(base),
    new Uint8ClampedArray(base),
    new Float64Array(2),
    detached,
    lying,
    base.subarray(1),
    new Uint8Array(base.byteLength + 1),
    new Uint8Array(0),
    shared,
    resizable,
    offset,
    tracking,
    outOfBounds,
    Buffer.from(base),
    new Map(),
    new Date(0),
  ];
}
