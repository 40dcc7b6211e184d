import { EventEmitter } from 'node:events';
import type { SecretBytes } from '../bytes.js';
import { PqcError } from '../errors.js';
import type { Clock } from '../policy/clock.js';
import { asMeshError, fail, kemStep, MeshError, type FailureReason } from './failure.js';
import type { HandshakeLimits, Session } from './handshake.js';
import { concat, wipeAll } from './key-schedule.js';
import { MessageType } from './messages.js';
import { RecordLayer, type RekeyLimits } from './record-layer.js';
import type { MeshSuite } from './suites.js';
import type { Kem } from '../kem.js';
import { WireReader } from './wire.js';

/** What a channel needs from its node and its connection. */
export interface ChannelHost {
  readonly clock: Clock;
  readonly rekeyLimits: RekeyLimits;
  readonly handshakeLimits: HandshakeLimits;
  kem(suite: MeshSuite): Kem;
  sendFrame(frame: Uint8Array): Promise<void>;
  /**
   * Starts a fresh handshake over the same connection (the initiator side) or asks the peer for
   * one; false when it declined (rate limit): the record is then only refused.
   */
  resynchronize(): boolean;
  closeConnection(error?: PqcError): void;
  recordRejected(reason: FailureReason): void;
  /** A key desync: counted once per episode as a handshake failure, as the seed lists it. */
  keyDesync(error: MeshError): void;
  rotationSucceeded(channel: SecureChannel): void;
  rotationFailed(channel: SecureChannel, reason: FailureReason): void;
  closed(channel: SecureChannel): void;
}

export interface SecureChannelEvents {
  message: [Uint8Array];
  /** A rotation finished: the channel now seals under `epoch`. */
  rotated: [{ epoch: number }];
  /** A fresh handshake on the connection replaced the session (after key desync): epochs start from 0. */
  resynchronized: [{ sessionId: string }];
  /** A refused record or a failed rotation; the channel stays open unless 'close' follows. */
  error: [PqcError];
  /**
   * A record that did not open (forged, replayed, under keys out of step): dropped and counted.
   * Over a connection that promises every byte in order (libp2p's), the stream it carried now
   * has a hole, and the connection must end (lib/libp2p/secured-stream.ts).
   */
  refused: [MeshError];
  close: [PqcError | undefined];
}

interface Rotation {
  epoch: number;
  secretKey?: SecretBytes;
  publicKey?: Uint8Array;
  /** The peer's rotation to the same epoch won; this one ends when that one installs. */
  abandoned?: boolean;
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: PqcError) => void;
  timer: unknown;
}

const u32 = (value: number) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
};

/**
 * An authenticated, encrypted channel with one peer: 'message' events carry what the peer
 * sent, `send` seals and sends. Keys rotate by a KEM exchange inside the channel (each epoch's
 * keys from the last chain key and a fresh shared secret), on request, after
 * `rekeyAfterMessages` records or `rekeyAfterMs`. A record under an epoch this side does not
 * hold is key desync: refused, counted, and repaired by a fresh handshake on the connection.
 *
 * 'error' events are emitted only while someone listens (an unheard 'error' would crash the
 * process); the refusals are counted either way.
 */
export class SecureChannel extends EventEmitter<SecureChannelEvents> {
  readonly peerId: string;
  #session: Session;
  #layer: RecordLayer;
  #rotation: Rotation | undefined;
  #resync: { promise: Promise<void>; resolve: () => void; timer: unknown } | undefined;
  #rekeyTimer: unknown;
  /** Record layers whose next epoch a RekeyReply of ours is being made for: one answer per epoch. */
  readonly #answering = new WeakSet<RecordLayer>();
  #closed = false;

  constructor(
    session: Session,
    readonly host: ChannelHost,
  ) {
    super();
    this.peerId = session.peer.nodeId;
    this.#session = session;
    this.#layer = new RecordLayer(session, host.rekeyLimits, () => host.clock.now());
    this.#scheduleRekey();
  }

  /** This side's role in the current session's handshake: its initiator starts timed rotations and repairs. */
  get role(): 'initiator' | 'responder' {
    return this.#session.role;
  }

  get suite(): string {
    return this.#session.suite.name;
  }

  get suiteInfo(): MeshSuite {
    return this.#session.suite;
  }

  get epoch(): number {
    return this.#layer.epoch;
  }

  /** sessionI ‖ sessionR in hex: changes with every handshake, not with rotations. */
  get sessionId(): string {
    return Buffer.from(this.#session.sessionId).toString('hex');
  }

  get peerKeyId(): string {
    return this.#session.peer.keyId;
  }

  /** What the connection's HandshakeExtension made of the peer's payload in the current session. */
  get extension(): unknown {
    return this.#session.extension;
  }

  /** Whether `record` names this channel's current session. */
  ownsRecord(record: Uint8Array): boolean {
    return this.#layer.ownsRecord(record);
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** Seals `bytes` and sends it; waits for a rotation when the keys may no longer send. */
  async send(bytes: Uint8Array): Promise<void> {
    const plaintext = this.#plaintext(bytes);
    if (this.#resync) await this.#resync.promise;
    if (this.#layer.sendState() === 'reject') await this.rotateKeys();
    await this.host.sendFrame(this.#seal(MessageType.Data, plaintext));
  }

  /** A record for the caller's own transport, from the same keys and counters as `send`. */
  encrypt(bytes: Uint8Array): Uint8Array {
    const plaintext = this.#plaintext(bytes);
    if (this.#resync) throw new PqcError('ERR_PQC_KEY_DESYNC', `the channel with ${this.peerId} is re-handshaking after key desync`);
    if (this.#layer.sendState() === 'reject') throw new PqcError('ERR_PQC_KEYS_EXPIRED', `the keys of the channel with ${this.peerId} must rotate first (rotateKeys())`);
    return this.#seal(MessageType.Data, plaintext);
  }

  /** Opens a record that `encrypt` (or `send`) made on the peer's side; the same window refuses replays. */
  decrypt(record: Uint8Array): Uint8Array {
    if (!(record instanceof Uint8Array)) throw new PqcError('ERR_PQC_INVALID_INPUT', 'the record must be a Uint8Array');
    this.#requireOpen();
    const opened = this.#open(record);
    if (opened.type !== MessageType.Data) {
      this.host.recordRejected('malformed');
      throw new MeshError('malformed', 'a rotation record belongs on the channel, not on the caller’s transport');
    }
    return opened.plaintext;
  }

  /** Rotates to fresh keys (a KEM exchange inside the channel); resolves once both directions use them. */
  rotateKeys(): Promise<void> {
    this.#requireOpen();
    if (this.#rotation) return this.#rotation.promise;
    const rotation = this.#newRotation(this.#layer.epoch + 1);
    void this.#startRotation(rotation);
    return rotation.promise;
  }

  close(error?: PqcError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.host.clock.clearTimeout(this.#rekeyTimer);
    if (this.#rotation) this.#endRotation(new PqcError('ERR_PQC_CHANNEL_CLOSED', 'the channel closed during a key rotation'));
    this.#endResync();
    this.#layer.wipe();
    this.host.closeConnection(error);
    this.host.closed(this);
    this.emit('close', error);
  }

  /** Makes `send` wait until a fresh handshake replaces the session (the connection starts one). */
  holdSends(): void {
    if (!this.#closed) this.#startResync();
  }

  /** Holds sends until the session is replaced; once per repair (an 'error' listener may already have asked for it). */
  #startResync(): void {
    if (this.#resync) return;
    let resolve!: () => void;
    const promise = new Promise<void>((done) => (resolve = done));
    // A repair that never comes (the peer ignored or never got the request) ends the channel, not a hang.
    const timer = this.host.clock.setTimeout(
      () => this.close(new MeshError('key_desync', `the channel with ${this.peerId} could not be repaired after key desync`)),
      2 * this.host.handshakeLimits.timeoutMs,
    );
    this.#resync = { promise, resolve, timer };
  }

  /** A record frame from the connection. */
  async receive(frame: Uint8Array): Promise<void> {
    if (this.#closed) return;
    let opened;
    try {
      opened = this.#open(frame);
    } catch {
      return;
    }
    if (opened.type === MessageType.Data) this.emit('message', opened.plaintext);
    else if (opened.type === MessageType.RekeyInit) await this.#onRekeyInit(opened.plaintext);
    else await this.#onRekeyReply(opened.plaintext);
  }

  /** A fresh handshake on the connection replaced the session: epochs start again from 0. */
  replaceSession(session: Session): void {
    if (this.#closed) {
      wipeAll(session.chainKey);
      return;
    }
    if (this.#rotation) this.#endRotation(new PqcError('ERR_PQC_KEY_DESYNC', 'a fresh handshake replaced the session during a key rotation'));
    this.#layer.wipe();
    this.#session = session;
    this.#layer = new RecordLayer(session, this.host.rekeyLimits, () => this.host.clock.now());
    this.#scheduleRekey();
    this.#endResync();
    this.emit('resynchronized', { sessionId: this.sessionId });
  }

  /** Lets waiting sends go on (into the new session, or to find the channel closed). */
  #endResync(): void {
    if (!this.#resync) return;
    this.host.clock.clearTimeout(this.#resync.timer);
    this.#resync.resolve();
    this.#resync = undefined;
  }

  /** Refuses a record: counted, reported; key desync within this session starts a fresh handshake. */
  #report(error: PqcError, sameSession: boolean): void {
    const failure = asMeshError(error);
    this.host.recordRejected(failure.reason);
    // Only this session's epochs out of step call for a fresh handshake; a record of an older session is just refused.
    if (failure.reason === 'key_desync' && !this.#resync && sameSession && this.host.resynchronize()) {
      // A record under the epoch a rotation of ours is waiting for means the peer installed it and our answer was lost.
      if (this.#rotation) this.#failRotation(failure);
      this.#startResync();
      this.host.keyDesync(failure);
    }
    this.emit('refused', failure);
    this.#emitError(failure);
  }

  /** An unheard 'error' would throw out of a timer or a frame handler and crash the process. */
  #emitError(error: PqcError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #open(record: Uint8Array) {
    try {
      return this.#layer.open(record);
    } catch (error) {
      this.#report(error as PqcError, this.ownsRecord(record));
      throw error;
    }
  }

  #seal(type: number, plaintext: Uint8Array): Uint8Array {
    this.#requireOpen();
    const record = this.#layer.seal(type, plaintext);
    if (this.#layer.sendState() === 'rekey' && !this.#rotation) this.rotateKeys().catch(() => undefined);
    return record;
  }

  #plaintext(bytes: unknown): Uint8Array {
    if (!(bytes instanceof Uint8Array)) throw new PqcError('ERR_PQC_INVALID_INPUT', 'the message must be a Uint8Array');
    this.#requireOpen();
    return bytes;
  }

  #requireOpen(): void {
    if (this.#closed) throw new PqcError('ERR_PQC_CHANNEL_CLOSED', `the channel with ${this.peerId} is closed`);
  }

  /**
   * Time-based rekeying is the initiator's, so that both sides do not start one at once (either
   * side rotates when it reaches rekeyAfterMessages; a collision goes to the initiator's).
   */
  #scheduleRekey(): void {
    this.host.clock.clearTimeout(this.#rekeyTimer);
    if (this.role !== 'initiator') return;
    // close() clears this timer, and during a rotation rotateKeys() joins it.
    this.#rekeyTimer = this.host.clock.setTimeout(() => this.rotateKeys().catch(() => undefined), this.host.rekeyLimits.rekeyAfterMs);
  }

  #newRotation(epoch: number): Rotation {
    let resolve!: () => void;
    let reject!: (error: PqcError) => void;
    const promise = new Promise<void>((ok, no) => ((resolve = ok), (reject = no)));
    promise.catch(() => undefined); // a rotation the channel starts itself may fail unheard; it is counted
    const rotation: Rotation = { epoch, promise, resolve, reject, timer: undefined };
    // #endRotation clears this timer.
    rotation.timer = this.host.clock.setTimeout(
      () => this.#failRotation(new MeshError('timeout', `${this.peerId} did not complete the key rotation in time`)),
      this.host.handshakeLimits.timeoutMs,
    );
    this.#rotation = rotation;
    return rotation;
  }

  async #startRotation(rotation: Rotation): Promise<void> {
    let pair;
    try {
      pair = await kemStep(this.host.kem(this.#session.suite).generateKeyPairAsync());
    } catch (error) {
      if (this.#rotation === rotation) this.#failRotation(error as MeshError);
      return;
    }
    if (this.#rotation !== rotation || rotation.abandoned || this.#closed) {
      pair.secretKey.wipe();
      return;
    }
    rotation.secretKey = pair.secretKey;
    rotation.publicKey = pair.publicKey;
    try {
      await this.host.sendFrame(this.#layer.seal(MessageType.RekeyInit, concat(u32(rotation.epoch), pair.publicKey)));
    } catch (error) {
      if (this.#rotation === rotation) this.#failRotation(asMeshError(error));
    }
  }

  async #onRekeyInit(payload: Uint8Array): Promise<void> {
    const layer = this.#layer;
    try {
      const wire = new WireReader(payload, 'RekeyInit');
      const epoch = wire.u32();
      const publicKey = wire.rest();
      if (epoch !== layer.epoch + 1) fail('key_desync', `a rotation to epoch ${epoch} while this side is at ${layer.epoch}`);
      if (this.#answering.has(layer)) {
        // The peer sent its RekeyInit again (its rotation timed out and restarted): the answer under way decides the epoch.
        this.host.recordRejected('replay');
        return;
      }
      const mine = this.#rotation;
      // Both sides started a rotation to the same epoch: the channel initiator's wins.
      if (mine && this.role === 'initiator') return;
      if (mine) {
        mine.abandoned = true;
        wipeAll(mine.secretKey);
        mine.secretKey = undefined;
      }
      this.#answering.add(layer);
      try {
        await this.#answerRekeyInit(layer, epoch, publicKey);
      } finally {
        this.#answering.delete(layer);
      }
    } catch (error) {
      this.#failRotation(asMeshError(error));
    }
  }

  /**
   * Encapsulates to the peer's rotation key, sends the RekeyReply and installs the epoch, unless
   * meanwhile the channel closed, a fresh handshake replaced the session, or a rotation of ours
   * that the peer answered installed the epoch.
   */
  async #answerRekeyInit(layer: RecordLayer, epoch: number, publicKey: Uint8Array): Promise<void> {
    const stillDue = () => !this.#closed && this.#layer === layer && layer.epoch + 1 === epoch;
    const encapsulation = await kemStep(this.host.kem(layer.session.suite).encapsulateAsync(publicKey));
    if (!stillDue()) {
      encapsulation.sharedSecret.wipe();
      return;
    }
    let chainKey: SecretBytes;
    try {
      await this.host.sendFrame(layer.seal(MessageType.RekeyReply, concat(u32(epoch), encapsulation.ciphertext)));
      chainKey = layer.nextChainKey(encapsulation.sharedSecret, publicKey, encapsulation.ciphertext);
    } finally {
      encapsulation.sharedSecret.wipe();
    }
    if (!stillDue()) {
      wipeAll(chainKey);
      return;
    }
    this.#install(chainKey);
  }

  async #onRekeyReply(payload: Uint8Array): Promise<void> {
    const rotation = this.#rotation;
    try {
      const wire = new WireReader(payload, 'RekeyReply');
      const epoch = wire.u32();
      const ciphertext = wire.rest();
      if (!rotation?.secretKey || epoch !== rotation.epoch) fail('replay', `a RekeyReply for epoch ${epoch}, which this side did not ask for`);
      const sharedSecret = await kemStep(this.host.kem(this.#session.suite).decapsulateAsync(ciphertext, rotation.secretKey));
      if (this.#rotation !== rotation || this.#closed) {
        sharedSecret.wipe();
        return;
      }
      const chainKey = this.#layer.nextChainKey(sharedSecret, rotation.publicKey!, ciphertext);
      sharedSecret.wipe();
      this.#install(chainKey);
    } catch (error) {
      this.#failRotation(asMeshError(error));
    }
  }

  #install(chainKey: SecretBytes): void {
    this.#layer.install(chainKey);
    this.#scheduleRekey();
    if (this.#rotation) this.#endRotation();
    this.host.rotationSucceeded(this);
    this.emit('rotated', { epoch: this.#layer.epoch });
  }

  #failRotation(error: MeshError): void {
    this.host.rotationFailed(this, error.reason);
    if (this.#rotation) this.#endRotation(error);
    this.#emitError(error);
  }

  #endRotation(error?: PqcError): void {
    const rotation = this.#rotation!;
    this.#rotation = undefined;
    this.host.clock.clearTimeout(rotation.timer);
    wipeAll(rotation.secretKey);
    if (error) rotation.reject(error);
    else rotation.resolve();
  }
}
