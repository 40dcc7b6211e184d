import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBytes } from '../../lib/bytes.js';
import { MeshError } from '../../lib/mesh/failure.js';
import type { Session } from '../../lib/mesh/handshake.js';
import { publicKeys } from '../../lib/mesh/identity.js';
import { MessageType } from '../../lib/mesh/messages.js';
import { DEFAULT_REKEY_LIMITS, RecordLayer, RECORD_HEADER_LENGTH } from '../../lib/mesh/record-layer.js';
import { X25519MLKEM768_SUITE } from '../../lib/mesh/suites.js';
import { toHex } from '../support/environment.js';

function sessionPair(): [RecordLayer, RecordLayer] {
  const chainKey = randomBytes(48);
  const transcript = new Uint8Array(randomBytes(48));
  const peer = publicKeys('peer', 'ML-DSA-65', new Uint8Array(1952));
  const session = (role: Session['role']): Session => ({
    role,
    peer,
    suite: X25519MLKEM768_SUITE,
    sessionId: new Uint8Array(32),
    chainKey: SecretBytes.copyOf(chainKey),
    transcript,
    startedAt: 0,
  });
  let now = 0;
  const clock = () => now++;
  return [new RecordLayer(session('initiator'), DEFAULT_REKEY_LIMITS, clock), new RecordLayer(session('responder'), DEFAULT_REKEY_LIMITS, clock)];
}

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MeshError);
    return (error as MeshError).reason;
  }
  return 'accepted';
};

describe('the record layer', () => {
  it('never repeats a (key, nonce) pair across epochs: the same plaintext seals differently at every counter and epoch', () => {
    const [i, r] = sessionPair();
    const sealed = new Set<string>();
    const plaintext = new Uint8Array(32);
    for (let epoch = 0; epoch < 4; epoch++) {
      for (let n = 0; n < 50; n++) {
        const record = i.seal(MessageType.Data, plaintext);
        sealed.add(toHex(record.subarray(RECORD_HEADER_LENGTH)));
        expect(toHex(r.open(record).plaintext)).toBe(toHex(plaintext));
      }
      const secret = new Uint8Array(randomBytes(32));
      const pk = new Uint8Array(randomBytes(64));
      const ct = new Uint8Array(randomBytes(64));
      i.install(i.nextChainKey(secret, pk, ct));
      r.install(r.nextChainKey(secret, pk, ct));
    }
    expect(sealed.size).toBe(200);
    // The two directions have their own keys: the initiator's record does not open as the responder's own.
    const record = i.seal(MessageType.Data, plaintext);
    expect(reason(() => i.open(record))).toBe('forged');
  });

  it('keeps the previous epoch for records in flight, and refuses older ones as key desync', () => {
    const [i, r] = sessionPair();
    const inEpoch0 = i.seal(MessageType.Data, new Uint8Array(1));
    const secret = new Uint8Array(32);
    const step = () => {
      const next = [i.nextChainKey(secret, secret, secret), r.nextChainKey(secret, secret, secret)] as const;
      i.install(next[0]);
      r.install(next[1]);
    };
    step();
    expect(reason(() => r.open(inEpoch0))).toBe('accepted');
    const alsoEpoch0 = Uint8Array.from(inEpoch0);
    expect(reason(() => r.open(alsoEpoch0))).toBe('replay');
    const another = i.seal(MessageType.Data, new Uint8Array(1));
    step();
    step();
    expect(reason(() => r.open(another))).toBe('key_desync');
  });

  it('refuses mutated and random records without moving the window (fast-check)', () => {
    const [i, r] = sessionPair();
    const records = Array.from({ length: 8 }, (_, n) => i.seal(MessageType.Data, new Uint8Array(n * 10)));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.constantFrom(...records), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([record, index, bits]) => {
            const mutated = Uint8Array.from(record);
            mutated[index % mutated.length]! ^= bits;
            return mutated;
          }),
          fc.tuple(fc.constantFrom(...records), fc.nat()).map(([record, length]) => record.subarray(0, length % record.length)),
        ),
        (bytes) => {
          expect(['malformed', 'forged', 'key_desync', 'replay']).toContain(reason(() => r.open(bytes)));
        },
      ),
      { numRuns: 500, seed: 3 },
    );
    // Every genuine record still opens exactly once.
    for (const record of records) expect(reason(() => r.open(record))).toBe('accepted');
    for (const record of records) expect(reason(() => r.open(record))).toBe('replay');
  });

  it('asks for rotation by message count and age, and refuses to seal past the reject limits', () => {
    let now = 0;
    const [base] = sessionPair();
    const layer = new RecordLayer(
      { ...base.session, chainKey: SecretBytes.copyOf(new Uint8Array(48)) },
      { rekeyAfterMessages: 3, rejectAfterMessages: 5, rekeyAfterMs: 100, rejectAfterMs: 200 },
      () => now,
    );
    expect(layer.sendState()).toBe('ok');
    for (let n = 0; n < 3; n++) layer.seal(MessageType.Data, new Uint8Array(1));
    expect(layer.sendState()).toBe('rekey');
    layer.seal(MessageType.Data, new Uint8Array(1));
    layer.seal(MessageType.Data, new Uint8Array(1));
    expect(layer.sendState()).toBe('reject');
    expect(() => layer.seal(MessageType.Data, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'ERR_PQC_KEYS_EXPIRED' }));
    // Spent keys can still carry the rotation that replaces them.
    layer.seal(MessageType.RekeyInit, new Uint8Array(1));
    layer.install(layer.nextChainKey(new Uint8Array(32), new Uint8Array(1), new Uint8Array(1)));
    expect(layer.sendState()).toBe('ok');
    now += 150;
    expect(layer.sendState()).toBe('rekey');
    now += 100;
    expect(layer.sendState()).toBe('reject');
  });
});
