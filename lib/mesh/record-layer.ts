import { createHash } from 'node:crypto';
import type { SecretBytes } from '../bytes.js';
import { PqcError } from '../errors.js';
import { fail } from './failure.js';
import { concat, derive, HASH_LENGTH, IV_LENGTH, KEY_LENGTH, LABELS, open, seal, split, TAG_LENGTH, wipeAll } from './key-schedule.js';
import { MessageType, PROTOCOL_VERSION } from './messages.js';
import { ReplayWindow } from './replay-window.js';
import type { Session } from './handshake.js';
import { WireReader } from './wire.js';

/**
 * When a channel's keys must be replaced. WireGuard's REKEY_AFTER_TIME (120 s) and
 * REJECT_AFTER_TIME (180 s); message limits inside AES-GCM's per-key bound (TLS 1.3 allows
 * 2^24.5 records per key), exact in JS numbers.
 */
export interface RekeyLimits {
  rekeyAfterMessages: number;
  rejectAfterMessages: number;
  rekeyAfterMs: number;
  rejectAfterMs: number;
}

export const DEFAULT_REKEY_LIMITS: RekeyLimits = {
  rekeyAfterMessages: 2 ** 23,
  rejectAfterMessages: 2 ** 24,
  rekeyAfterMs: 120_000,
  rejectAfterMs: 180_000,
};

/** version, type, session tag (4 bytes), u32 epoch, u64 counter */
export const RECORD_HEADER_LENGTH = 18;
export const SESSION_TAG_LENGTH = 4;
const TAG_OFFSET = 2;


export const RECORD_OVERHEAD = RECORD_HEADER_LENGTH + TAG_LENGTH;
const ROTATION_RECORDS_PAST_REJECT = 16;

const u32 = (value: number) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
};

interface Direction {
  key: SecretBytes;
  iv: SecretBytes;
}

/** One epoch's keys: a key and IV per direction, the send counter and the receive window. */
class Epoch {
  sent = 0;
  readonly window = new ReplayWindow();

  constructor(
    readonly number: number,
    readonly send: Direction,
    readonly receive: Direction,
    readonly createdAt: number,
  ) {}

  wipe(): void {
    wipeAll(this.send.key, this.send.iv, this.receive.key, this.receive.iv);
  }
}

function nonce(iv: Uint8Array, counter: number): Buffer {
  const out = Buffer.from(iv);
  // The counter (below 2^53) XORed into the IV's last 8 bytes, as TLS 1.3 does.
  const high = Math.floor(counter / 2 ** 32);
  out.writeUInt32BE((out.readUInt32BE(4) ^ high) >>> 0, 4);
  out.writeUInt32BE((out.readUInt32BE(8) ^ (counter >>> 0)) >>> 0, 8);
  return out;
}

export interface OpenedRecord {
  type: number;
  epoch: number;
  plaintext: Uint8Array;
}

/**
 * A session's records: AES-256-GCM with per-direction keys and counters as nonces, epochs
 * numbered from 0, each with its own chain key. The receiving side keeps the previous epoch
 * next to the current one, for records sent before the peer saw the rotation.
 */
export class RecordLayer {
  #chainKey: SecretBytes;
  #current: Epoch;
  #previous: Epoch | undefined;
  readonly tag: Uint8Array;

  constructor(
    readonly session: Session,
    readonly limits: RekeyLimits,
    readonly now: () => number,
  ) {
    this.tag = session.transcript.slice(0, SESSION_TAG_LENGTH);
    this.#chainKey = session.chainKey;
    this.#current = this.#epoch(0, this.#chainKey);
  }

  get epoch(): number {
    return this.#current.number;
  }

  /**
   * Whether `record` names this session: its tag (the first bytes of the handshake's transcript
   * hash, the same on both sides) lets records on the caller's own transport find their channel
   * when two channels with one peer are open (simultaneous initiation), as WireGuard's receiver
   * index does.
   */
  ownsRecord(record: Uint8Array): boolean {
    // Past a short record's end an index reads undefined, which equals no byte of the tag.
    for (let i = 0; i < SESSION_TAG_LENGTH; i++) if (record[TAG_OFFSET + i] !== this.tag[i]) return false;
    return true;
  }

  /** 'ok', 'rekey' (time to rotate) or 'reject' (these keys must no longer send). */
  sendState(): 'ok' | 'rekey' | 'reject' {
    const { sent, createdAt } = this.#current;
    const age = this.now() - createdAt;
    if (sent >= this.limits.rejectAfterMessages || age >= this.limits.rejectAfterMs) return 'reject';
    if (sent >= this.limits.rekeyAfterMessages || age >= this.limits.rekeyAfterMs) return 'rekey';
    return 'ok';
  }

  seal(type: number, plaintext: Uint8Array): Uint8Array {
    const epoch = this.#current;
    // A few rotation records past the limit (still far inside AES-GCM's bound) let spent keys rotate out.
    const limit = this.limits.rejectAfterMessages + (type === MessageType.Data ? 0 : ROTATION_RECORDS_PAST_REJECT);
    if (epoch.sent >= limit) {
      throw new PqcError('ERR_PQC_KEYS_EXPIRED', 'these keys sealed as many records as they may: rotate first (rotateKeys())');
    }
    const counter = epoch.sent++;
    const header = Buffer.alloc(RECORD_HEADER_LENGTH);
    header[0] = PROTOCOL_VERSION;
    header[1] = type;
    header.set(this.tag, TAG_OFFSET);
    header.writeUInt32BE(epoch.number, 6);
    header.writeUInt32BE(Math.floor(counter / 2 ** 32), 10);
    header.writeUInt32BE(counter >>> 0, 14);
    return seal(epoch.send.key, nonce(epoch.send.iv, counter), header, plaintext, header);
  }

  /**
   * Checks a record cheapest first — length, version, session, epoch, window — then decrypts, and only
   * a record that authenticated moves the window.
   */
  open(record: Uint8Array): OpenedRecord {
    if (record.length < RECORD_OVERHEAD) fail('malformed', `a record needs at least ${RECORD_OVERHEAD} bytes, got ${record.length}`);
    const wire = new WireReader(record, 'a record');
    if (wire.u8() !== PROTOCOL_VERSION) fail('malformed', 'a record of another protocol version');
    const type = wire.u8();
    if (type !== MessageType.Data && type !== MessageType.RekeyInit && type !== MessageType.RekeyReply) fail('malformed', `record type ${type} is unknown`);
    // Stryker disable next-line StringLiteral: the field's name appears only if the record is too short for it, and one of RECORD_OVERHEAD (34) bytes holds the tag (bytes 2 to 5)
    wire.bytesOf(SESSION_TAG_LENGTH, 'the session tag');
    if (!this.ownsRecord(record)) {
      fail('key_desync', 'a record of another session (sealed before a fresh handshake, or by a session this side does not hold)');
    }
    const number = wire.u32();
    const counter = wire.u64();
    const epoch = number === this.#current.number ? this.#current : number === this.#previous?.number ? this.#previous : undefined;
    if (!epoch) fail('key_desync', `a record for epoch ${number}; this side has ${this.#previous ? `${this.#previous.number} and ` : ''}${this.#current.number}`);
    // The current epoch's rotation records still open past its lifetime, as `seal` lets them out: they are what replaces spent keys.
    const rotatesOut = type !== MessageType.Data && epoch === this.#current;
    if (!rotatesOut && this.now() - epoch.createdAt >= this.limits.rejectAfterMs) fail('key_desync', `a record under keys of epoch ${number}, which are past their lifetime`);
    const seen = epoch.window.check(counter);
    if (seen !== 'ok') fail('replay', seen === 'replay' ? `record ${counter} of epoch ${number} was already received` : `record ${counter} is older than the replay window`);
    const plaintext = open(epoch.receive.key, nonce(epoch.receive.iv, counter), record.subarray(0, RECORD_HEADER_LENGTH), wire.rest());
    if (!plaintext) fail('forged', `record ${counter} of epoch ${number} does not authenticate`);
    epoch.window.accept(counter);
    return { type, epoch: number, plaintext };
  }

  /** The chain key of epoch `current + 1`, from a rotation's KEM secret and what it exchanged. */
  nextChainKey(sharedSecret: Uint8Array, publicKey: Uint8Array, ciphertext: Uint8Array): SecretBytes {
    const exchanged = createHash('sha384').update(publicKey).update(ciphertext).digest();
    return derive(sharedSecret, this.#chainKey, concat(LABELS.rotation, u32(this.epoch + 1), exchanged), HASH_LENGTH);
  }

  /** Moves to epoch `current + 1`: the current epoch becomes the previous, the old previous is wiped. */
  install(chainKey: SecretBytes): void {
    this.#previous?.wipe();
    this.#previous = this.#current;
    wipeAll(this.#chainKey);
    this.#chainKey = chainKey;
    this.#current = this.#epoch(this.#current.number + 1, chainKey);
  }

  wipe(): void {
    this.#previous?.wipe();
    this.#current.wipe();
    wipeAll(this.#chainKey);
  }

  #epoch(number: number, chainKey: Uint8Array): Epoch {
    const keys = derive(chainKey, u32(number), LABELS.epochKeys, 2 * (KEY_LENGTH + IV_LENGTH));
    const [i2rKey, i2rIv, r2iKey, r2iIv] = split(keys, KEY_LENGTH, IV_LENGTH, KEY_LENGTH, IV_LENGTH);
    const i2r = { key: i2rKey!, iv: i2rIv! };
    const r2i = { key: r2iKey!, iv: r2iIv! };
    const initiator = this.session.role === 'initiator';
    return new Epoch(number, initiator ? i2r : r2i, initiator ? r2i : i2r, this.now());
  }
}
