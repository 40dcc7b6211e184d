import fc from 'fast-check';
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBytes } from '../../lib/bytes.js';
import { MeshError } from '../../lib/mesh/failure.js';
import type { Session } from '../../lib/mesh/handshake.js';
import { publicKeys } from '../../lib/mesh/identity.js';
import { MessageType } from '../../lib/mesh/messages.js';
import { DEFAULT_REKEY_LIMITS, RecordLayer, RECORD_HEADER_LENGTH, type RekeyLimits } from '../../lib/mesh/record-layer.js';
import { X25519MLKEM768_SUITE } from '../../lib/mesh/suites.js';
import { toHex } from '../support/environment.js';

/** An initiator's and a responder's record layer of one session; by default a clock that ticks 1 ms per reading. */
function sessionPair(options: { limits?: RekeyLimits; now?: () => number } = {}): [RecordLayer, RecordLayer] {
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
  const { limits = DEFAULT_REKEY_LIMITS, now: clock = () => now++ } = options;
  return [new RecordLayer(session('initiator'), limits, clock), new RecordLayer(session('responder'), limits, clock)];
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

/**
 * A record made from docs/protocol.md alone (§3 "Records", §5 "epoch e keys"), with node:crypto:
 * `key_i2r ‖ iv_i2r ‖ key_r2i ‖ iv_r2i = HKDF-SHA-384(CK_e, u32(e), "x0tta6bl4-pq/1 epoch keys", 88)`,
 * the 18-byte header as AAD, nonce = IV XOR (0⁴ ‖ u64 counter).
 */
function specRecord(layer: RecordLayer, chainKey: Uint8Array, direction: 'i2r' | 'r2i', epoch: number, counter: number, plaintext: Uint8Array, type: number = MessageType.Data): Uint8Array {
  const salt = Buffer.alloc(4);
  salt.writeUInt32BE(epoch);
  const keys = Buffer.from(hkdfSync('sha384', chainKey, salt, 'x0tta6bl4-pq/1 epoch keys', 88));
  const at = direction === 'i2r' ? 0 : 44;
  const nonce = Buffer.from(keys.subarray(at + 32, at + 44));
  nonce.writeBigUInt64BE(nonce.readBigUInt64BE(4) ^ BigInt(counter), 4);
  const header = Buffer.alloc(18);
  header[0] = 1;
  header[1] = type;
  header.set(layer.session.transcript.subarray(0, 4), 2);
  header.writeUInt32BE(epoch, 6);
  header.writeBigUInt64BE(BigInt(counter), 10);
  const cipher = createCipheriv('aes-256-gcm', keys.subarray(at, at + 32), nonce).setAAD(header);
  return new Uint8Array(Buffer.concat([header, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
}

/** What `fn` threw, as the reason, code and message a MeshError carries; or 'accepted'. */
function refusal(fn: () => unknown): { reason: string; code: string; message: string } | 'accepted' {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MeshError);
    const { reason, code, message } = error as MeshError;
    return { reason, code, message };
  }
  return 'accepted';
}

/** `record` with its header field at `offset` (1, 4 or 8 bytes big-endian) set to `value`; the tag is not recomputed. */
function withField(record: Uint8Array, offset: number, length: 1 | 4 | 8, value: number): Uint8Array {
  const out = Buffer.from(record);
  if (length === 1) out[offset] = value;
  else if (length === 4) out.writeUInt32BE(value, offset);
  else out.writeBigUInt64BE(BigInt(value), offset);
  return new Uint8Array(out);
}

describe('the record format (docs/protocol.md)', () => {
  it('seals as the protocol specifies: the initiator with the i2r keys, the responder with r2i, counters from 0', () => {
    const [i, r] = sessionPair();
    const chainKey = Uint8Array.from(i.session.chainKey);
    const plaintext = new Uint8Array(randomBytes(40));
    expect(toHex(i.seal(MessageType.Data, plaintext))).toBe(toHex(specRecord(i, chainKey, 'i2r', 0, 0, plaintext)));
    expect(toHex(i.seal(MessageType.RekeyInit, plaintext))).toBe(toHex(specRecord(i, chainKey, 'i2r', 0, 1, plaintext, MessageType.RekeyInit)));
    expect(toHex(r.seal(MessageType.RekeyReply, plaintext))).toBe(toHex(specRecord(r, chainKey, 'r2i', 0, 0, plaintext, MessageType.RekeyReply)));
  });

  it('opens counters at and above 2^32, whose high half is XORed into IV bytes 4 to 7', () => {
    const [i, r] = sessionPair();
    const chainKey = Uint8Array.from(i.session.chainKey);
    for (const counter of [2 ** 32, 2 ** 32 + 7, 2 ** 52 + 2 ** 33 + 3]) {
      const plaintext = new Uint8Array(randomBytes(8));
      const opened = r.open(specRecord(i, chainKey, 'i2r', 0, counter, plaintext));
      expect({ type: opened.type, epoch: opened.epoch, plaintext: toHex(opened.plaintext) }).toEqual({ type: MessageType.Data, epoch: 0, plaintext: toHex(plaintext) });
    }
  });

  it('ownsRecord: bytes 2 to 5 equal the session tag, the first 4 bytes of the transcript hash', () => {
    const [i] = sessionPair();
    const header = new Uint8Array([1, MessageType.Data, ...i.session.transcript.subarray(0, 4)]);
    expect(i.ownsRecord(header)).toBe(true);
    expect(i.ownsRecord(header.subarray(0, 5))).toBe(false);
    expect(i.ownsRecord(new Uint8Array(0))).toBe(false);
    for (let at = 2; at < 6; at++) expect(i.ownsRecord(withField(header, at, 1, header[at]! ^ 0x80))).toBe(false);
  });
});

describe('the record checks, in their order (docs/protocol.md §6, "Record"): reason, code and message of each', () => {
  const malformed = (message: string) => ({ reason: 'malformed', code: 'ERR_PQC_MALFORMED_MESSAGE', message });
  const desync = (message: string) => ({ reason: 'key_desync', code: 'ERR_PQC_KEY_DESYNC', message });
  const replay = (message: string) => ({ reason: 'replay', code: 'ERR_PQC_REPLAY', message });

  it('1–4: length (34 bytes), version, type and session tag', () => {
    const [i, r] = sessionPair();
    const record = i.seal(MessageType.Data, new Uint8Array(0));
    expect(record.length).toBe(34);
    expect(refusal(() => r.open(record.subarray(0, 33)))).toEqual(malformed('a record needs at least 34 bytes, got 33'));
    expect(refusal(() => r.open(new Uint8Array(0)))).toEqual(malformed('a record needs at least 34 bytes, got 0'));
    expect(refusal(() => r.open(withField(record, 0, 1, 2)))).toEqual(malformed('a record of another protocol version'));
    expect(refusal(() => r.open(withField(record, 1, 1, 0x13)))).toEqual(malformed('record type 19 is unknown'));
    expect(refusal(() => r.open(withField(record, 1, 1, MessageType.Abort)))).toEqual(malformed(`record type ${MessageType.Abort} is unknown`));
    expect(refusal(() => r.open(withField(record, 2, 1, record[2]! ^ 1)))).toEqual(
      desync('a record of another session (sealed before a fresh handshake, or by a session this side does not hold)'),
    );
    expect(refusal(() => r.open(record))).toBe('accepted');
  });

  it('a counter of 2^53 or more is malformed', () => {
    const [i, r] = sessionPair();
    const record = i.seal(MessageType.Data, new Uint8Array(1));
    expect(refusal(() => r.open(withField(record, 10, 4, 0x200000)))).toEqual(malformed('a record: a 64-bit field is out of range'));
  });

  it('5: an epoch that is neither current nor previous is key desync, naming the epochs this side has', () => {
    const [i, r] = sessionPair();
    const record = i.seal(MessageType.Data, new Uint8Array(1));
    expect(refusal(() => r.open(withField(record, 6, 4, 5)))).toEqual(desync('a record for epoch 5; this side has 0'));
    const secret = new Uint8Array(32);
    r.install(r.nextChainKey(secret, secret, secret));
    expect(refusal(() => r.open(withField(record, 6, 4, 7)))).toEqual(desync('a record for epoch 7; this side has 0 and 1'));
  });

  it('6: keys as old as rejectAfterMs (by the receiver’s clock) are key desync; a millisecond younger they open', () => {
    let now = 1_000;
    const limits = { ...DEFAULT_REKEY_LIMITS, rejectAfterMs: 200 };
    const [i, r] = sessionPair({ limits, now: () => now });
    const records = [i.seal(MessageType.Data, new Uint8Array(1)), i.seal(MessageType.Data, new Uint8Array(1))];
    now += 199;
    expect(refusal(() => r.open(records[0]!))).toBe('accepted');
    now += 1;
    expect(refusal(() => r.open(records[1]!))).toEqual(desync('a record under keys of epoch 0, which are past their lifetime'));
  });

  it('6: past rejectAfterMs, RekeyInit and RekeyReply under the current epoch still open (they replace the spent keys); under the previous epoch they do not', () => {
    let now = 1_000;
    const limits = { ...DEFAULT_REKEY_LIMITS, rejectAfterMs: 200 };
    const [i, r] = sessionPair({ limits, now: () => now });
    const init = i.seal(MessageType.RekeyInit, new Uint8Array(4));
    const reply = i.seal(MessageType.RekeyReply, new Uint8Array(4));
    const data = i.seal(MessageType.Data, new Uint8Array(1));
    const late = i.seal(MessageType.RekeyInit, new Uint8Array(4));
    now += 200;
    expect(refusal(() => r.open(init))).toBe('accepted');
    expect(refusal(() => r.open(reply))).toBe('accepted');
    expect(refusal(() => r.open(data))).toEqual(desync('a record under keys of epoch 0, which are past their lifetime'));
    const secret = new Uint8Array(32);
    r.install(r.nextChainKey(secret, secret, secret));
    expect(refusal(() => r.open(late))).toEqual(desync('a record under keys of epoch 0, which are past their lifetime'));
  });

  it('7: a counter already received, or as far below the highest as the window (4064), is replay, each with its message', () => {
    const [i, r] = sessionPair();
    const chainKey = Uint8Array.from(i.session.chainKey);
    const first = i.seal(MessageType.Data, new Uint8Array(1));
    r.open(first);
    expect(refusal(() => r.open(first))).toEqual(replay('record 0 of epoch 0 was already received'));
    const second = i.seal(MessageType.Data, new Uint8Array(1));
    r.open(specRecord(i, chainKey, 'i2r', 0, 4065, new Uint8Array(1)));
    expect(refusal(() => r.open(second))).toEqual(replay('record 1 is older than the replay window'));
  });

  it('8: a record that does not authenticate is forged, and leaves the window as it was', () => {
    const [i, r] = sessionPair();
    const record = i.seal(MessageType.Data, new Uint8Array(16));
    const tampered = Uint8Array.from(record);
    tampered[RECORD_HEADER_LENGTH]! ^= 1;
    expect(refusal(() => r.open(tampered))).toEqual({ reason: 'forged', code: 'ERR_PQC_FORGED_RECORD', message: 'record 0 of epoch 0 does not authenticate' });
    expect(refusal(() => r.open(record))).toBe('accepted');
  });
});

describe('the record layer’s limits and wiping', () => {
  it('sendState turns rekey at exactly rekeyAfterMs and reject at exactly rejectAfterMs of age', () => {
    let now = 5_000;
    const [layer] = sessionPair({ limits: { ...DEFAULT_REKEY_LIMITS, rekeyAfterMs: 100, rejectAfterMs: 200 }, now: () => now });
    const states = [99, 100, 199, 200].map((age) => {
      now = 5_000 + age;
      return layer.sendState();
    });
    expect(states).toEqual(['ok', 'rekey', 'rekey', 'reject']);
  });

  it('refuses to seal Data past rejectAfterMessages with ERR_PQC_KEYS_EXPIRED, telling to rotate first', () => {
    const [layer] = sessionPair({ limits: { ...DEFAULT_REKEY_LIMITS, rekeyAfterMessages: 1, rejectAfterMessages: 1 } });
    layer.seal(MessageType.Data, new Uint8Array(1));
    expect(() => layer.seal(MessageType.Data, new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_KEYS_EXPIRED', message: 'these keys sealed as many records as they may: rotate first (rotateKeys())' }),
    );
  });

  it('wipe() wipes the keys of the current and the previous epoch: records of either no longer open', () => {
    const [i, r] = sessionPair();
    const secret = new Uint8Array(32);
    const inEpoch0 = i.seal(MessageType.Data, new Uint8Array(1));
    i.install(i.nextChainKey(secret, secret, secret));
    r.install(r.nextChainKey(secret, secret, secret));
    const inEpoch1 = i.seal(MessageType.Data, new Uint8Array(1));
    r.wipe();
    expect([refusal(() => r.open(inEpoch0)), refusal(() => r.open(inEpoch1))]).toEqual([
      expect.objectContaining({ reason: 'forged' }),
      expect.objectContaining({ reason: 'forged' }),
    ]);
  });
});
