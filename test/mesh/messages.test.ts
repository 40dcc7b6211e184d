import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FAILURE_REASONS } from '../../lib/mesh/failure.js';
import {
  encodeAbort,
  encodeAuth,
  encodeInitHello,
  encodeRehandshake,
  encodeRespHello,
  encodeRetry,
  initiatorSessionOf,
  MAX_HANDSHAKE_MESSAGE,
  MAX_NODE_ID,
  MAX_SEALED_AUTH,
  MAX_SHARE,
  MAX_SUITES,
  MessageType,
  messageType,
  parseAbort,
  parseAuth,
  parseInitHello,
  parseRehandshake,
  parseRespHello,
  parseRetry,
  SESSION_ID_LENGTH,
} from '../../lib/mesh/messages.js';
import { malformed } from './malformed.js';

// Every layout and bound below is docs/protocol.md §3's: messages are built from its tables
// byte by byte, not with the encoders under test.

type Part = number | ArrayLike<number>;
const concat = (...parts: Part[]) => Uint8Array.from(parts.flatMap((part) => (typeof part === 'number' ? [part] : Array.from(part))));
const u8Prefixed = (field: ArrayLike<number>) => [field.length, ...Array.from(field)];
const u16Prefixed = (field: ArrayLike<number>) => [field.length >> 8, field.length & 0xff, ...Array.from(field)];
const ascii = (text: string) => Array.from(Buffer.from(text, 'ascii'));

const sI = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const sR = Uint8Array.from({ length: 16 }, (_, i) => 0xb0 + i);
// 2^40 + 0x01020304 ms, as a u64.
const TIMESTAMP = 2 ** 40 + 0x01020304;
const TIMESTAMP_BYTES = [0, 0, 1, 0, 1, 2, 3, 4];
// An X25519MLKEM768 public key's size (docs/protocol.md, suites).
const share = randomBytes(1216);

interface InitHelloFields {
  flags: number;
  session: ArrayLike<number>;
  timestamp: ArrayLike<number>;
  initiator: ArrayLike<number>;
  responder: ArrayLike<number>;
  offer: ArrayLike<number>;
  shareSuite: number;
  share: ArrayLike<number>;
}
const initHelloFields: InitHelloFields = {
  flags: 0,
  session: sI,
  timestamp: TIMESTAMP_BYTES,
  initiator: ascii('node-a'),
  responder: ascii('node-b'),
  offer: [0x02],
  shareSuite: 0x02,
  share,
};
function initHello(changes: Partial<InitHelloFields> = {}): Uint8Array {
  const f = { ...initHelloFields, ...changes };
  return concat(1, 0x01, f.flags, f.session, f.timestamp, u8Prefixed(f.initiator), u8Prefixed(f.responder), u8Prefixed(f.offer), f.shareSuite, u16Prefixed(f.share));
}

const ciphertext = randomBytes(1120);
const respHello = (offer: Part[] = u8Prefixed([0x02]), accepted: Part[] = u8Prefixed([0x01, 0x02]), ct: Part[] = u16Prefixed(ciphertext)) =>
  concat(1, 0x03, sI, sR, 0x02, ...offer, ...accepted, ...ct);
const auth = (type: number, sealed: ArrayLike<number>) => concat(1, type, sI, sR, u16Prefixed(sealed));

describe('the bounds', () => {
  it('are the values docs/protocol.md gives', () => {
    expect([SESSION_ID_LENGTH, MAX_NODE_ID, MAX_SUITES, MAX_SHARE, MAX_SEALED_AUTH, MAX_HANDSHAKE_MESSAGE]).toEqual([16, 255, 8, 2048, 6691, 9323]);
  });
});

describe('messageType', () => {
  it('returns the type byte of a version-1 message', () => {
    expect(messageType(Uint8Array.of(1, 0x0f))).toBe(0x0f);
  });

  it('refuses fewer than 2 bytes and another protocol version', () => {
    expect(() => messageType(new Uint8Array(0))).toThrow(malformed('a message needs at least 2 bytes, got 0'));
    expect(() => messageType(Uint8Array.of(1))).toThrow(malformed('a message needs at least 2 bytes, got 1'));
    expect(() => messageType(Uint8Array.of(2, 0x01))).toThrow(malformed('unsupported protocol version 2 (this node speaks 1)'));
    expect(() => messageType(Uint8Array.of(0, 0x01))).toThrow(malformed('unsupported protocol version 0 (this node speaks 1)'));
  });
});

const PARSERS: [name: string, type: number, parse: (bytes: Uint8Array) => unknown][] = [
  ['InitHello', MessageType.InitHello, parseInitHello],
  ['Retry', MessageType.Retry, parseRetry],
  ['RespHello', MessageType.RespHello, parseRespHello],
  ['InitAuth', MessageType.InitAuth, (bytes) => parseAuth(bytes, MessageType.InitAuth)],
  ['RespAuth', MessageType.RespAuth, (bytes) => parseAuth(bytes, MessageType.RespAuth)],
  ['Abort', MessageType.Abort, parseAbort],
  ['Rehandshake', MessageType.Rehandshake, parseRehandshake],
];

describe.each(PARSERS)('every parser: %s', (name, type, parse) => {
  it('refuses a message of another type, naming both', () => {
    const other = type === MessageType.Retry ? MessageType.Abort : MessageType.Retry;
    expect(() => parse(concat(1, other, new Uint8Array(40)))).toThrow(malformed(`expected ${name}, got message type ${other}`));
  });

  it('refuses another protocol version', () => {
    expect(() => parse(concat(2, type, new Uint8Array(40)))).toThrow(malformed('unsupported protocol version 2 (this node speaks 1)'));
  });

  it('refuses more than MAX_HANDSHAKE_MESSAGE bytes before reading any field', () => {
    expect(() => parse(concat(1, type, new Uint8Array(9322)))).toThrow(malformed(`${name} is 9324 bytes, more than 9323`));
    // Even of the wrong type: the size is checked first.
    expect(() => parse(concat(1, 0x7f, new Uint8Array(9322)))).toThrow(malformed(`${name} is 9324 bytes, more than 9323`));
  });

  it('refuses a header with nothing after it but an empty Rehandshake', () => {
    if (type === MessageType.Rehandshake) expect(() => parse(Uint8Array.of(1, type))).not.toThrow();
    else expect(() => parse(Uint8Array.of(1, type))).toThrow(malformed(`${name} is truncated: ${type === MessageType.InitHello ? 'a byte needs 1' : 'the session id needs 16'} bytes, 0 left`));
  });
});

describe('InitHello', () => {
  it('has the layout of docs/protocol.md: 6-byte ids, one suite and an X25519MLKEM768 share make 1262 bytes', () => {
    const bytes = initHello();
    expect(bytes).toHaveLength(1262);
    const message = { retried: false, sessionI: sI, timestamp: TIMESTAMP, initiatorId: Uint8Array.from(ascii('node-a')), responderId: Uint8Array.from(ascii('node-b')), offer: Uint8Array.of(0x02), shareSuite: 0x02, share: Uint8Array.from(share) };
    expect(encodeInitHello(message)).toEqual(bytes);
    expect(parseInitHello(bytes)).toEqual(message);
    expect(parseInitHello(encodeInitHello({ ...message, retried: true })).retried).toBe(true);
  });

  it('reads flags 1 as retried and refuses any other flag', () => {
    expect(parseInitHello(initHello({ flags: 1 })).retried).toBe(true);
    expect(() => parseInitHello(initHello({ flags: 2 }))).toThrow(malformed('InitHello: unknown flags 2'));
    expect(() => parseInitHello(initHello({ flags: 0x80 }))).toThrow(malformed('InitHello: unknown flags 128'));
  });

  it('refuses a short session id and timestamp', () => {
    expect(() => parseInitHello(concat(1, 0x01, 0, sI.subarray(0, 5)))).toThrow(malformed('InitHello is truncated: the session id needs 16 bytes, 5 left'));
    expect(() => parseInitHello(concat(1, 0x01, 0, sI, 0, 0, 1))).toThrow(malformed('InitHello is truncated: a 32-bit number needs 4 bytes, 3 left'));
  });

  it('refuses a timestamp of 2^53 or more', () => {
    expect(parseInitHello(initHello({ timestamp: [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] })).timestamp).toBe(2 ** 53 - 1);
    expect(() => parseInitHello(initHello({ timestamp: [0, 0x20, 0, 0, 0, 0, 0, 0] }))).toThrow(malformed('InitHello: a 64-bit field is out of range'));
  });

  it('takes node ids of 1 to 255 bytes', () => {
    expect(parseInitHello(initHello({ initiator: [0x61], responder: new Uint8Array(255).fill(0x62) })).responderId).toHaveLength(255);
    expect(() => parseInitHello(initHello({ initiator: [] }))).toThrow(malformed('InitHello: the initiator id must be 1 to 255 bytes, got 0'));
    expect(() => parseInitHello(initHello({ responder: [] }))).toThrow(malformed('InitHello: the responder id must be 1 to 255 bytes, got 0'));
  });

  it('takes an offer of 1 to 8 distinct suites that holds the share suite', () => {
    expect(parseInitHello(initHello({ offer: [1, 2, 3, 4, 5, 6, 7, 8] })).offer).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(() => parseInitHello(initHello({ offer: [] }))).toThrow(malformed('InitHello: the offer must be 1 to 8 bytes, got 0'));
    expect(() => parseInitHello(initHello({ offer: [1, 2, 3, 4, 5, 6, 7, 8, 9] }))).toThrow(malformed('InitHello: the offer must be 1 to 8 bytes, got 9'));
    expect(() => parseInitHello(initHello({ offer: [0x02, 0x01, 0x02] }))).toThrow(malformed('InitHello: a suite is offered twice'));
    expect(() => parseInitHello(initHello({ offer: [0x01, 0x03] }))).toThrow(malformed('InitHello: the key share is for a suite not offered'));
  });

  it('takes a key share of 1 to 2048 bytes', () => {
    expect(parseInitHello(initHello({ share: new Uint8Array(2048) })).share).toHaveLength(2048);
    expect(() => parseInitHello(initHello({ share: [] }))).toThrow(malformed('InitHello: the key share must be 1 to 2048 bytes, got 0'));
    expect(() => parseInitHello(initHello({ share: new Uint8Array(2049) }))).toThrow(malformed('InitHello: the key share must be 1 to 2048 bytes, got 2049'));
  });

  it('refuses a trailing byte', () => {
    expect(() => parseInitHello(concat(initHello(), 0))).toThrow(malformed('InitHello: 1 bytes after the last field'));
  });
});

describe('Retry', () => {
  it('is 19 bytes: the header, sI and the selected suite', () => {
    const bytes = concat(1, 0x02, sI, 0x03);
    expect(encodeRetry({ sessionI: sI, selected: 0x03 })).toEqual(bytes);
    expect(parseRetry(bytes)).toEqual({ sessionI: sI, selected: 0x03 });
  });

  it('refuses a short session id, a missing suite and a trailing byte', () => {
    expect(() => parseRetry(concat(1, 0x02, sI.subarray(0, 3)))).toThrow(malformed('Retry is truncated: the session id needs 16 bytes, 3 left'));
    expect(() => parseRetry(concat(1, 0x02, sI))).toThrow(malformed('Retry is truncated: a byte needs 1 bytes, 0 left'));
    expect(() => parseRetry(concat(1, 0x02, sI, 0x03, 0))).toThrow(malformed('Retry: 1 bytes after the last field'));
  });
});

describe('RespHello', () => {
  it('has the layout of docs/protocol.md: X25519MLKEM768 with k = 1, a = 2 makes 1162 bytes', () => {
    const bytes = respHello();
    expect(bytes).toHaveLength(1162);
    const message = { sessionI: sI, sessionR: sR, selected: 0x02, offer: Uint8Array.of(0x02), accepted: Uint8Array.of(0x01, 0x02), ciphertext: Uint8Array.from(ciphertext) };
    expect(encodeRespHello(message)).toEqual(bytes);
    expect(parseRespHello(bytes)).toEqual(message);
  });

  it('refuses short session ids', () => {
    expect(() => parseRespHello(concat(1, 0x03, sI.subarray(0, 15)))).toThrow(malformed('RespHello is truncated: the session id needs 16 bytes, 15 left'));
    expect(() => parseRespHello(concat(1, 0x03, sI, sR.subarray(0, 2)))).toThrow(malformed('RespHello is truncated: the responder session id needs 16 bytes, 2 left'));
  });

  it('takes an offer echo and an accepted list of 1 to 8 suites, and a ciphertext of 1 to 2048 bytes', () => {
    expect(parseRespHello(respHello(u8Prefixed(new Uint8Array(8)), u8Prefixed(new Uint8Array(8)), u16Prefixed(new Uint8Array(2048)))).ciphertext).toHaveLength(2048);
    expect(() => parseRespHello(respHello(u8Prefixed([])))).toThrow(malformed('RespHello: the offer must be 1 to 8 bytes, got 0'));
    expect(() => parseRespHello(respHello(undefined, u8Prefixed(new Uint8Array(9))))).toThrow(malformed('RespHello: the accepted suites must be 1 to 8 bytes, got 9'));
    expect(() => parseRespHello(respHello(undefined, undefined, u16Prefixed([])))).toThrow(malformed('RespHello: the ciphertext must be 1 to 2048 bytes, got 0'));
    expect(() => parseRespHello(respHello(undefined, undefined, u16Prefixed(new Uint8Array(2049))))).toThrow(malformed('RespHello: the ciphertext must be 1 to 2048 bytes, got 2049'));
  });

  it('refuses a trailing byte', () => {
    expect(() => parseRespHello(concat(respHello(), 0))).toThrow(malformed('RespHello: 1 bytes after the last field'));
  });
});

describe.each([
  ['InitAuth', MessageType.InitAuth],
  ['RespAuth', MessageType.RespAuth],
] as const)('%s', (name, type) => {
  it('is the header, sI, sR and the sealed field; the AAD is bytes 0..33', () => {
    const sealed = randomBytes(3309 + 16);
    let aadSeen: Uint8Array | undefined;
    const bytes = encodeAuth(type, sI, sR, (aad) => {
      aadSeen = aad;
      return sealed;
    });
    const header = concat(1, type, sI, sR);
    expect(aadSeen).toEqual(header);
    expect(bytes).toEqual(concat(header, u16Prefixed(sealed)));
    expect(parseAuth(bytes, type)).toEqual({ sessionI: sI, sessionR: sR, aad: header, sealed: Uint8Array.from(sealed) });
  });

  it('refuses short session ids', () => {
    expect(() => parseAuth(concat(1, type, sI.subarray(0, 4)), type)).toThrow(malformed(`${name} is truncated: the session id needs 16 bytes, 4 left`));
    expect(() => parseAuth(concat(1, type, sI, sR.subarray(0, 9)), type)).toThrow(malformed(`${name} is truncated: the responder session id needs 16 bytes, 9 left`));
  });

  it('takes a sealed field of 17 to 6691 bytes', () => {
    expect(parseAuth(auth(type, new Uint8Array(17)), type).sealed).toHaveLength(17);
    expect(parseAuth(auth(type, new Uint8Array(6691)), type).sealed).toHaveLength(6691);
    expect(() => parseAuth(auth(type, new Uint8Array(16)), type)).toThrow(malformed(`${name}: the sealed signature must be 17 to 6691 bytes, got 16`));
    expect(() => parseAuth(auth(type, new Uint8Array(6692)), type)).toThrow(malformed(`${name}: the sealed signature must be 17 to 6691 bytes, got 6692`));
  });

  it('refuses exactly MAX_HANDSHAKE_MESSAGE bytes by its fields, not its size', () => {
    const bytes = auth(type, new Uint8Array(9323 - 36));
    expect(bytes).toHaveLength(9323);
    expect(() => parseAuth(bytes, type)).toThrow(malformed(`${name}: the sealed signature must be 17 to 6691 bytes, got 9287`));
  });

  it('refuses a trailing byte', () => {
    expect(() => parseAuth(concat(auth(type, new Uint8Array(17)), 0), type)).toThrow(malformed(`${name}: 1 bytes after the last field`));
  });
});

describe('Abort', () => {
  it('is 19 bytes: the header, sI and the index of the reason in FAILURE_REASONS', () => {
    // docs/protocol.md §9: `downgrade` is 7, `keys_expired` the last, 17.
    expect(encodeAbort({ sessionI: sI, reason: 'downgrade' })).toEqual(concat(1, 0x0f, sI, 7));
    expect(parseAbort(concat(1, 0x0f, sI, 17))).toEqual({ sessionI: sI, reason: 'keys_expired' });
    for (const reason of FAILURE_REASONS) expect(parseAbort(encodeAbort({ sessionI: sI, reason })).reason).toBe(reason);
  });

  it('refuses an unknown reason, a short session id and a trailing byte', () => {
    expect(() => parseAbort(concat(1, 0x0f, sI, 18))).toThrow(malformed('Abort: unknown reason'));
    expect(() => parseAbort(concat(1, 0x0f, sI, 0xff))).toThrow(malformed('Abort: unknown reason'));
    expect(() => parseAbort(concat(1, 0x0f, sI.subarray(0, 1)))).toThrow(malformed('Abort is truncated: the session id needs 16 bytes, 1 left'));
    expect(() => parseAbort(concat(1, 0x0f, sI, 0, 0))).toThrow(malformed('Abort: 1 bytes after the last field'));
  });
});

describe('Rehandshake', () => {
  it('is exactly 01 06', () => {
    expect(encodeRehandshake()).toEqual(Uint8Array.of(1, 0x06));
    expect(() => parseRehandshake(Uint8Array.of(1, 0x06, 0))).toThrow(malformed('Rehandshake: 1 bytes after the last field'));
  });
});

describe('initiatorSessionOf', () => {
  it('reads sI at offset 3 of an InitHello and offset 2 of an InitAuth, without parsing', () => {
    expect(initiatorSessionOf(initHello())).toEqual(sI);
    expect(initiatorSessionOf(concat(1, 0x01, 0, sI))).toEqual(sI);
    expect(initiatorSessionOf(concat(1, 0x04, sI))).toEqual(sI);
    expect(initiatorSessionOf(auth(MessageType.InitAuth, new Uint8Array(17)))).toEqual(sI);
  });

  it('gives nothing when the session id is cut short', () => {
    expect(initiatorSessionOf(concat(1, 0x01, 0, sI.subarray(0, 15)))).toBeUndefined();
    expect(initiatorSessionOf(concat(1, 0x04, sI.subarray(0, 15)))).toBeUndefined();
  });

  it('gives nothing for any other message, even one with sI at offset 2', () => {
    for (const type of [MessageType.Retry, MessageType.RespHello, MessageType.RespAuth, MessageType.Abort, MessageType.Rehandshake, MessageType.Data]) {
      expect(initiatorSessionOf(concat(1, type, sI, sR, 0))).toBeUndefined();
    }
  });
});
