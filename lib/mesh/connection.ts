import { PqcError } from '../errors.js';
import type { Clock } from '../policy/clock.js';
import { asMeshError, MeshError, type FailureReason } from './failure.js';
import type { FrameTransport } from './frame-transport.js';
import { InitiatorHandshake, type HandshakeContext, type HandshakeExtension, type Responder, type Session } from './handshake.js';
import type { PeerIdentity } from './identity.js';
import {
  encodeAbort,
  encodeRehandshake,
  initiatorSessionOf,
  MAX_HANDSHAKE_MESSAGE,
  MessageType,
  messageType,
  parseAbort,
  parseRehandshake,
} from './messages.js';
import type { RekeyLimits } from './record-layer.js';
import { SecureChannel } from './secure-channel.js';
import type { MeshSuite } from './suites.js';
import type { Kem } from '../kem.js';

/** What connections need from their node (PQMeshSecurity). */
export interface MeshHost {
  readonly clock: Clock;
  readonly rekeyLimits: RekeyLimits;
  readonly handshake: HandshakeContext;
  readonly responder: Responder;
  kem(suite: MeshSuite): Kem;
  /** Throws (with the session's keys wiped) when the node no longer takes the session's suite. */
  admit(session: Session): void;
  handshakeSucceeded(session: Session): void;
  handshakeFailed(reason: FailureReason, peerId: string | undefined, error: PqcError): void;
  recordRejected(reason: FailureReason): void;
  rotationSucceeded(channel: SecureChannel): void;
  rotationFailed(channel: SecureChannel, reason: FailureReason): void;
  /** `announce`: an inbound channel nobody waits for (the node's listeners), for the node's 'channel' event. */
  channelOpened(channel: SecureChannel, announce: boolean): void;
  channelClosed(channel: SecureChannel): void;
}

export interface ConnectionOptions {
  /** Runs in every handshake on this connection (the libp2p identity binding). */
  extension?: HandshakeExtension;
  /** Inbound: the only node id whose InitHello is taken (refused before any KEM work otherwise). */
  expectedPeer?: string;
  /** Called with the connection's first channel, which is then not announced. */
  opened?: (channel: SecureChannel) => void;
}

interface Dial {
  handshake: InitiatorHandshake;
  resolve: (channel: SecureChannel) => void;
  reject: (error: PqcError) => void;
  timer: unknown;
}

const HANDSHAKE_TYPES_TO_RESPONDER = new Set<number>([MessageType.InitHello, MessageType.InitAuth]);
const HANDSHAKE_TYPES_TO_INITIATOR = new Set<number>([MessageType.Retry, MessageType.RespHello, MessageType.RespAuth]);
const RECORD_TYPES = new Set<number>([MessageType.Data, MessageType.RekeyInit, MessageType.RekeyReply]);
/** A peer may ask for a fresh handshake at most this often. */
const MIN_RESYNC_INTERVAL_MS = 1000;

/**
 * One transport between two nodes: the handshakes (the first, and fresh ones after key
 * desync) and then the channel's records. Frames are handled one at a time, in order.
 */
export class Connection {
  #channel: SecureChannel | undefined;
  #dial: Dial | undefined;
  #lastResync = -Infinity;
  #deferredResync: unknown;
  /** From a repair's trust lookup to the end of its handshake: longer than its #dial. */
  #repairing = false;

  constructor(
    readonly host: MeshHost,
    readonly transport: FrameTransport,
    readonly inbound: boolean,
    readonly options: ConnectionOptions = {},
  ) {
    transport.onFrame = (frame) => this.#onFrame(frame);
    transport.onClose = (error) => this.#onClose(error);
    // Until a channel exists only handshake messages are due: a stranger dialling us cannot make us
    // buffer a 1 MiB frame. (A peer we dialled may send records right after its last handshake message.)
    this.#frameLimit = transport.inboundLimit;
    if (inbound) transport.inboundLimit = MAX_HANDSHAKE_MESSAGE;
  }

  readonly #frameLimit: number;
  /**
   * This connection as the responder knows it: compared, never used. Not the connection itself,
   * which the responder's cache of answers to retransmitted InitAuths would keep alive, socket,
   * channel and all, for the handshake timeout after it closed.
   */
  readonly #origin = {};

  get channel(): SecureChannel | undefined {
    return this.#channel;
  }

  /**
   * Runs a handshake as initiator, one at a time: the connection's first, or a repair, which
   * #repairing keeps single. Resolves with the channel (on a repair, the same channel).
   */
  async handshakeWith(peer: PeerIdentity): Promise<SecureChannel> {
    let handshake: InitiatorHandshake;
    try {
      handshake = await InitiatorHandshake.start(this.host.handshake, peer, this.options.extension);
    } catch (error) {
      // Stryker disable next-line BooleanLiteral: start's one backend step, key generation, already throws MeshErrors (kemStep); the flag only names a failure start cannot throw today
      const failure = asMeshError(error, true);
      this.host.handshakeFailed(failure.reason, peer.nodeId, failure);
      throw failure;
    }
    return new Promise<SecureChannel>((resolve, reject) => {
      // Every end of the dial clears this timer.
      const timer = this.host.clock.setTimeout(() => {
        handshake.abort();
        this.#failDial(new MeshError('timeout', `the handshake with ${peer.nodeId} did not complete in ${this.host.handshake.limits.timeoutMs} ms`), peer.nodeId);
      }, this.host.handshake.limits.timeoutMs);
      this.#dial = { handshake, resolve, reject, timer };
      this.transport.send(handshake.hello).catch((error: unknown) => this.#failDial(asMeshError(error), peer.nodeId, 'closed'));
    });
  }

  close(error?: PqcError): void {
    this.transport.close(error);
  }

  async #onFrame(frame: Uint8Array): Promise<void> {
    let type: number;
    try {
      type = messageType(frame);
    } catch (error) {
      return this.#refuse(asMeshError(error), undefined);
    }
    if (RECORD_TYPES.has(type)) {
      if (this.#channel) return this.#channel.receive(frame);
      return this.#refuse(new MeshError('malformed', 'a record before any handshake'), undefined);
    }
    if (type === MessageType.Rehandshake) {
      try {
        parseRehandshake(frame);
      } catch (error) {
        return this.#refuse(asMeshError(error), undefined);
      }
      return this.#onRehandshakeRequest();
    }
    // #abortIsForDial's parse refuses any other type than Abort first.
    const toDial = this.#dial && (HANDSHAKE_TYPES_TO_INITIATOR.has(type) || this.#abortIsForDial(frame));
    if (toDial) return this.#toInitiator(frame);
    if (HANDSHAKE_TYPES_TO_RESPONDER.has(type) || type === MessageType.Abort) return this.#toResponder(frame);
    return this.#refuse(new MeshError('malformed', `message type ${type} is unknown or unexpected here`), undefined);
  }

  #abortIsForDial(frame: Uint8Array): boolean {
    try {
      return Buffer.from(parseAbort(frame).sessionI).equals(this.#dial!.handshake.sessionI);
    } catch {
      // A malformed Abort is the responder's to refuse.
    }
    return false;
  }

  async #toInitiator(frame: Uint8Array): Promise<void> {
    const dial = this.#dial!;
    try {
      const step = await dial.handshake.receive(frame);
      if (step.reply) await this.transport.send(step.reply);
      if (step.session) {
        const channel = this.#established(step.session);
        this.#dial = undefined;
        this.host.clock.clearTimeout(dial.timer);
        dial.resolve(channel);
      }
    } catch (error) {
      const failure = asMeshError(error);
      if (failure.reason !== 'closed' && !(frame[1] === MessageType.Abort)) {
        failure.sessionI = dial.handshake.sessionI;
      }
      this.#failDial(failure, dial.handshake.peer.nodeId);
    }
  }

  async #toResponder(frame: Uint8Array): Promise<void> {
    try {
      // A fresh handshake on a connection repairs its channel; it cannot hand the channel to another node.
      const expected = this.#channel?.peerId ?? this.options.expectedPeer;
      if (expected !== undefined && frame[1] === MessageType.InitHello && peerOf(frame) !== expected) {
        throw new MeshError('unknown_peer', this.#channel ? `a handshake from another node on the channel with ${expected}` : `a handshake from another node than the expected ${expected}`);
      }
      const step = await this.host.responder.receive(frame, this.#origin, this.options.extension);
      // Checked before RespAuth goes too, so that the initiator does not open what we refuse.
      if (step.session) this.#requireAcceptable(step.session);
      if (step.reply) await this.transport.send(step.reply);
      if (step.session) this.#established(step.session);
    } catch (error) {
      const failure = asMeshError(error);
      failure.sessionI ??= initiatorSessionOf(frame);
      this.#refuse(failure, peerOf(frame));
    }
  }

  /** Refuses, keys wiped, a session from another peer than the channel's or one the node no longer takes. */
  #requireAcceptable(session: Session): void {
    const current = this.#channel;
    if (current) {
      // Stryker disable next-line ConditionalExpression: kept in depth, as a key id does not name its node; no session reaches it with another node id: a repair dials the channel's peer, and a responder refused any InitHello naming another node before the handshake
      const sameNode = session.peer.nodeId === current.peerId;
      if (!sameNode || session.peer.keyId !== current.peerKeyId) {
        session.chainKey.wipe();
        throw new MeshError('unknown_peer', `a handshake on the channel with ${current.peerId} came from ${session.peer.nodeId}`);
      }
    }
    this.host.admit(session);
  }

  #established(session: Session): SecureChannel {
    this.#requireAcceptable(session);
    this.host.handshakeSucceeded(session);
    if (this.#channel) {
      this.#channel.replaceSession(session);
      return this.#channel;
    }
    const host = this.host;
    const channel = new SecureChannel(session, {
      clock: host.clock,
      rekeyLimits: host.rekeyLimits,
      handshakeLimits: host.handshake.limits,
      kem: (suite) => host.kem(suite),
      sendFrame: (frame) => this.transport.send(frame),
      resynchronize: () => this.#resynchronize(),
      closeConnection: (error) => this.transport.close(error),
      recordRejected: (reason) => host.recordRejected(reason),
      keyDesync: (error) => host.handshakeFailed('key_desync', session.peer.nodeId, error),
      rotationSucceeded: (c) => host.rotationSucceeded(c),
      rotationFailed: (c, reason) => host.rotationFailed(c, reason),
      closed: (c) => host.channelClosed(c),
    });
    this.#channel = channel;
    this.transport.inboundLimit = this.#frameLimit;
    host.channelOpened(channel, this.inbound && !this.options.opened);
    this.options.opened?.(channel);
    return channel;
  }

  /**
   * After key desync: the channel's initiator runs a fresh handshake; its responder asks for one.
   * Key desync is seen before any record authenticates, so whoever can inject one record could
   * ask for it: at most once a second, else the record is only refused (answers false).
   */
  #resynchronize(): boolean {
    const channel = this.#channel!;
    if (this.#repairing) return true; // the repair already running serves this one too
    const now = this.host.clock.now();
    if (now - this.#lastResync < MIN_RESYNC_INTERVAL_MS) return false;
    this.#lastResync = now;
    if (channel.role === 'responder') {
      this.transport.send(encodeRehandshake()).catch(() => undefined);
      return true;
    }
    // Records sealed now would reach the peer after it switched sessions: hold them for the new one.
    channel.holdSends();
    this.#repairing = true;
    this.host.handshake
      .peer(channel.peerId)
      .then((peer) => {
        if (!peer) throw new MeshError('unknown_peer', `${channel.peerId} is no longer trusted`);
        return this.handshakeWith(peer);
      })
      .catch((error: unknown) => channel.close(PqcError.from(error)))
      .finally(() => (this.#repairing = false));
    return true;
  }

  /**
   * Unauthenticated, so rate-limited like our own repairs: at worst a re-handshake a second. A
   * request inside the interval is kept (one at most) and served when it ends, so that the
   * peer's channel is not left waiting.
   */
  #onRehandshakeRequest(): void {
    const channel = this.#channel;
    if (channel?.role !== 'initiator' || this.#deferredResync !== undefined || this.#resynchronize()) return;
    const retry = () => {
      // Timers may fire a little early by the clock: try again until the interval has passed.
      this.#deferredResync = this.host.clock.setTimeout(() => {
        this.#deferredResync = undefined;
        if (channel.isOpen && !this.#resynchronize()) retry();
      }, Math.max(1, this.#lastResync + MIN_RESYNC_INTERVAL_MS - this.host.clock.now()));
    };
    retry();
  }

  /** Counts a refusal, tells the peer which handshake ended and why, and ends a connection that has no channel. */
  #refuse(failure: MeshError, peerId: string | undefined): void {
    this.host.handshakeFailed(failure.reason, peerId, failure);
    this.#tellPeer(failure);
    if (!this.#channel) this.transport.close(failure);
  }

  /** Names the ended handshake and its reason to the peer (advisory: it is unauthenticated). */
  #tellPeer(failure: MeshError): void {
    if (failure.sessionI && !this.transport.closed) this.transport.send(encodeAbort({ sessionI: failure.sessionI, reason: failure.reason })).catch(() => undefined);
  }

  #failDial(failure: MeshError, peerId: string, reason: FailureReason = failure.reason): void {
    const dial = this.#dial;
    if (!dial) return;
    this.#dial = undefined;
    this.host.clock.clearTimeout(dial.timer);
    dial.handshake.abort();
    this.host.handshakeFailed(reason, peerId, failure);
    this.#tellPeer(failure);
    dial.reject(failure);
    (this.#channel ?? this.transport).close(failure);
  }

  #onClose(error?: PqcError): void {
    // A frame over the limit is the peer's malformed input, counted as such; other closes are closes.
    const oversized = error?.code === 'ERR_PQC_FRAME_TOO_LARGE';
    if (this.#dial) {
      const reason = oversized ? 'malformed' : 'closed';
      this.#failDial(new MeshError(reason, `the connection closed during the handshake${error ? `: ${error.message}` : ''}`), this.#dial.handshake.peer.nodeId);
    } else if (oversized) {
      if (this.#channel) this.host.recordRejected('malformed');
      else this.host.handshakeFailed('malformed', undefined, error);
    }
    this.#channel?.close(error);
  }
}

/** The claimed initiator of an InitHello, for the failure's log line; never trusted for anything else. */
function peerOf(frame: Uint8Array): string | undefined {
  if (frame[1] !== MessageType.InitHello || frame.length < 29) return undefined;
  const length = frame[27]!;
  const id = frame.subarray(28, 28 + length);
  return id.length === length ? Buffer.from(id).toString('utf8') : undefined;
}
