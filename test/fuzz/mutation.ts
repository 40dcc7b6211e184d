import fc from 'fast-check';

/**
 * A change to a valid message, as data (so that a corpus file can hold it and replay it on the
 * messages of a fresh run): positions are taken modulo the current length, so one mutation
 * applies to any message. `splice` copies a range of another valid message (a donor) in.
 */
export type MutationStep =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'extend'; bytes: number[] }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number }
  | { op: 'splice'; at: number; donor: number; start: number; length: number };

export interface Mutation {
  /** Which valid message is changed (modulo how many there are). */
  seed: number;
  steps: MutationStep[];
}

const position = fc.nat({ max: 0xffff });
const someBytes = fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 16 });
// Values that sit on the edges of length and type fields.
const edgeByte = fc.constantFrom(0x00, 0x01, 0x02, 0x0f, 0x10, 0x7f, 0x80, 0xfe, 0xff);

const step: fc.Arbitrary<MutationStep> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), at: position, value: fc.oneof(edgeByte, fc.nat({ max: 255 })) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('extend' as const), bytes: someBytes }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, bytes: someBytes }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('splice' as const), at: position, donor: fc.nat({ max: 15 }), start: position, length: fc.integer({ min: 1, max: 256 }) }),
  },
);

export const mutation: fc.Arbitrary<Mutation> = fc.record({ seed: fc.nat({ max: 15 }), steps: fc.array(step, { minLength: 1, maxLength: 4 }) });

function applyStep(bytes: Uint8Array, s: MutationStep, donors: readonly Uint8Array[]): Uint8Array {
  const at = (n: number, room = bytes.length) => (room === 0 ? 0 : n % room);
  const join = (...parts: ArrayLike<number>[]) => {
    const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  };
  switch (s.op) {
    case 'flip': {
      if (bytes.length === 0) return bytes;
      const out = Uint8Array.from(bytes);
      out[at(s.at)]! ^= 1 << s.bit;
      return out;
    }
    case 'set': {
      if (bytes.length === 0) return bytes;
      const out = Uint8Array.from(bytes);
      out[at(s.at)] = s.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, at(s.at));
    case 'extend':
      return join(bytes, s.bytes);
    case 'insert': {
      const i = at(s.at, bytes.length + 1);
      return join(bytes.subarray(0, i), s.bytes, bytes.subarray(i));
    }
    case 'delete': {
      const i = at(s.at);
      return join(bytes.subarray(0, i), bytes.subarray(i + s.length));
    }
    case 'duplicate': {
      const i = at(s.at);
      return join(bytes.subarray(0, i + s.length), bytes.subarray(i));
    }
    case 'splice': {
      const donor = donors[s.donor % donors.length]!;
      const start = donor.length === 0 ? 0 : s.start % donor.length;
      const part = donor.subarray(start, start + s.length);
      const i = at(s.at, bytes.length + 1);
      return join(bytes.subarray(0, i), part, bytes.subarray(i + part.length));
    }
  }
}

/** `mutation` applied to one of `seeds` (the others are its splice donors). */
export function mutate(seeds: readonly Uint8Array[], m: Mutation): Uint8Array {
  return m.steps.reduce((bytes, s) => applyStep(bytes, s, seeds), seeds[m.seed % seeds.length]!);
}

export const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
