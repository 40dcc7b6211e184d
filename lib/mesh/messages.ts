import { fail, FAILURE_REASONS, type FailureReason } from './failure.js';
import { WireReader, WireWriter } from './wire.js';

/** Every message starts with the version byte and the type byte. */
export const PROTOCOL_VERSION = 1;

export const MessageType = {
  InitHello: 0x01,
  Retry: 0x02,
  RespHello: 0x03,
  InitAuth: 0x04,
  RespAuth: 0x05,
  /** Asks the channel's initiator for a fresh handshake (the sender saw key desync). */
  Rehandshake: 0x06,
  Abort: 0x0f,
  Data: 0x10,
  RekeyInit: 0x11,
  RekeyReply: 0x12,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const SESSION_ID_LENGTH = 16;
export const MAX_NODE_ID = 255;
export const MAX_SUITES = 8;
/** Larger than any suite's ephemeral public key or ciphertext (ML-KEM-1024: 1568 bytes). */
export const MAX_SHARE = 2048;
/** The largest extension payload an Auth message carries after its signature (handshake.ts `HandshakeExtension`). */
export const MAX_EXTENSION = 2048;
/** Larger than any ML-DSA signature (ML-DSA-87: 4627 bytes) and an extension payload, plus the AEAD tag. */
export const MAX_SEALED_AUTH = 4627 + MAX_EXTENSION + 16;
/** A bound on every handshake message (InitAuth and RespAuth with ML-DSA-87 are the largest in practice). */
export const MAX_HANDSHAKE_MESSAGE = 64 + 2 * (MAX_NODE_ID + 1) + MAX_SUITES + MAX_SHARE + MAX_SEALED_AUTH;

/** The first two bytes, checked before anything else; the type is returned. */
export function messageType(bytes: Uint8Array): number {
  if (bytes.length < 2) fail('malformed', `a message needs at least 2 bytes, got ${bytes.length}`);
  if (bytes[0] !== PROTOCOL_VERSION) fail('malformed', `unsupported protocol version ${bytes[0]} (this node speaks ${PROTOCOL_VERSION})`);
  return bytes[1]!;
}

function reader(bytes: Uint8Array, type: MessageType, what: string): WireReader {
  if (bytes.length > MAX_HANDSHAKE_MESSAGE) fail('malformed', `${what} is ${bytes.length} bytes, more than ${MAX_HANDSHAKE_MESSAGE}`);
  if (messageType(bytes) !== type) fail('malformed', `expected ${what}, got message type ${bytes[1]}`);
  const wire = new WireReader(bytes, what);
  // Stryker disable next-line StringLiteral: the field name shows only when the bytes are too few, and messageType above has already refused fewer than 2
  wire.bytesOf(2, 'the header');
  return wire;
}

const header = (type: MessageType) => new WireWriter().u8(PROTOCOL_VERSION).u8(type);

/**
 * The initiator's session id of an InitHello or InitAuth, read at its fixed offset without
 * parsing: for naming the handshake in an Abort, which is advisory, so a guess is harmless.
 */
export function initiatorSessionOf(bytes: Uint8Array): Uint8Array | undefined {
  const offset = bytes[1] === MessageType.InitHello ? 3 : bytes[1] === MessageType.InitAuth ? 2 : -1;
  return offset !== -1 && bytes.length >= offset + SESSION_ID_LENGTH ? bytes.slice(offset, offset + SESSION_ID_LENGTH) : undefined;
}

export interface InitHello {
  retried: boolean;
  sessionI: Uint8Array;
  /** Wall-clock milliseconds: bounds how long a replayed InitHello is worth remembering. */
  timestamp: number;
  initiatorId: Uint8Array;
  responderId: Uint8Array;
  offer: Uint8Array;
  shareSuite: number;
  share: Uint8Array;
}

export function encodeInitHello(m: InitHello): Uint8Array {
  return header(MessageType.InitHello)
    .u8(m.retried ? 1 : 0)
    .raw(m.sessionI)
    .u64(m.timestamp)
    .short(m.initiatorId)
    .short(m.responderId)
    .short(m.offer)
    .u8(m.shareSuite)
    .long(m.share)
    .finish();
}

export function parseInitHello(bytes: Uint8Array): InitHello {
  const wire = reader(bytes, MessageType.InitHello, 'InitHello');
  const flags = wire.u8();
  if (flags > 1) fail('malformed', `InitHello: unknown flags ${flags}`);
  const message: InitHello = {
    retried: flags === 1,
    sessionI: wire.bytesOf(SESSION_ID_LENGTH, 'the session id'),
    timestamp: wire.u64(),
    initiatorId: wire.short('the initiator id', 1, MAX_NODE_ID),
    responderId: wire.short('the responder id', 1, MAX_NODE_ID),
    offer: wire.short('the offer', 1, MAX_SUITES),
    shareSuite: wire.u8(),
    share: wire.long('the key share', 1, MAX_SHARE),
  };
  wire.end();
  if (new Set(message.offer).size !== message.offer.length) fail('malformed', 'InitHello: a suite is offered twice');
  if (!message.offer.includes(message.shareSuite)) fail('malformed', 'InitHello: the key share is for a suite not offered');
  return message;
}

export interface Retry {
  sessionI: Uint8Array;
  selected: number;
}

export function encodeRetry(m: Retry): Uint8Array {
  return header(MessageType.Retry).raw(m.sessionI).u8(m.selected).finish();
}

export function parseRetry(bytes: Uint8Array): Retry {
  const wire = reader(bytes, MessageType.Retry, 'Retry');
  const message = { sessionI: wire.bytesOf(SESSION_ID_LENGTH, 'the session id'), selected: wire.u8() };
  wire.end();
  return message;
}

export interface RespHello {
  sessionI: Uint8Array;
  sessionR: Uint8Array;
  selected: number;
  /** The offer as the responder received it: an offer changed on the way is a downgrade attempt. */
  offer: Uint8Array;
  /** Every suite the responder would accept, in its order: the initiator re-checks the choice. */
  accepted: Uint8Array;
  ciphertext: Uint8Array;
}

export function encodeRespHello(m: RespHello): Uint8Array {
  return header(MessageType.RespHello).raw(m.sessionI).raw(m.sessionR).u8(m.selected).short(m.offer).short(m.accepted).long(m.ciphertext).finish();
}

export function parseRespHello(bytes: Uint8Array): RespHello {
  const wire = reader(bytes, MessageType.RespHello, 'RespHello');
  const message = {
    sessionI: wire.bytesOf(SESSION_ID_LENGTH, 'the session id'),
    sessionR: wire.bytesOf(SESSION_ID_LENGTH, 'the responder session id'),
    selected: wire.u8(),
    offer: wire.short('the offer', 1, MAX_SUITES),
    accepted: wire.short('the accepted suites', 1, MAX_SUITES),
    ciphertext: wire.long('the ciphertext', 1, MAX_SHARE),
  };
  wire.end();
  return message;
}

/** InitAuth and RespAuth: both session ids in clear (the AEAD's associated data), the signature and any extension payload sealed. */
export interface Auth {
  sessionI: Uint8Array;
  sessionR: Uint8Array;
  /** The header, which is the AEAD's associated data. */
  aad: Uint8Array;
  sealed: Uint8Array;
}

export function encodeAuth(type: MessageType, sessionI: Uint8Array, sessionR: Uint8Array, seal: (aad: Uint8Array) => Uint8Array): Uint8Array {
  const aad = header(type).raw(sessionI).raw(sessionR).finish();
  return new WireWriter().raw(aad).long(seal(aad)).finish();
}

export function parseAuth(bytes: Uint8Array, type: MessageType): Auth {
  const what = type === MessageType.InitAuth ? 'InitAuth' : 'RespAuth';
  const wire = reader(bytes, type, what);
  const sessionI = wire.bytesOf(SESSION_ID_LENGTH, 'the session id');
  const sessionR = wire.bytesOf(SESSION_ID_LENGTH, 'the responder session id');
  const aad = bytes.subarray(0, wire.offset);
  const sealed = wire.long('the sealed signature', 17, MAX_SEALED_AUTH);
  wire.end();
  return { sessionI, sessionR, aad, sealed };
}

export interface Abort {
  sessionI: Uint8Array;
  reason: FailureReason;
}

export function encodeAbort(m: Abort): Uint8Array {
  return header(MessageType.Abort).raw(m.sessionI).u8(FAILURE_REASONS.indexOf(m.reason)).finish();
}

export function parseAbort(bytes: Uint8Array): Abort {
  const wire = reader(bytes, MessageType.Abort, 'Abort');
  const sessionI = wire.bytesOf(SESSION_ID_LENGTH, 'the session id');
  const reason = FAILURE_REASONS[wire.u8()];
  wire.end();
  if (!reason) fail('malformed', 'Abort: unknown reason');
  return { sessionI, reason };
}

export function encodeRehandshake(): Uint8Array {
  return header(MessageType.Rehandshake).finish();
}

export function parseRehandshake(bytes: Uint8Array): void {
  reader(bytes, MessageType.Rehandshake, 'Rehandshake').end();
}
