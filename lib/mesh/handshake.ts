import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { SecretBytes } from '../bytes.js';
import type { Kem } from '../kem.js';
import { asMeshError, fail, kemStep, MeshError } from './failure.js';
import { concat, derive, HASH_LENGTH, KEY_LENGTH, IV_LENGTH, LABELS, open, seal, split, Transcript, wipeAll } from './key-schedule.js';
import {
  MAX_EXTENSION,
  encodeAuth,
  encodeInitHello,
  encodeRespHello,
  encodeRetry,
  initiatorSessionOf,
  MessageType,
  messageType,
  parseAbort,
  parseAuth,
  parseInitHello,
  parseRespHello,
  parseRetry,
  SESSION_ID_LENGTH,
  type Auth,
  type InitHello,
} from './messages.js';
import { SIGNATURE_LENGTH, type PeerIdentity } from './identity.js';
import { CLASSICAL_SUITE, type MeshSuite } from './suites.js';
import { BoundedMap, TokenBuckets } from './limits.js';

/** The node's own long-term key, as the handshake uses it. */
export interface Signer {
  readonly algorithm: string;
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export interface HandshakeLimits {
  /** A handshake not complete after this long fails with reason 'timeout'. Default 5000 ms. */
  timeoutMs: number;
  /** InitHello timestamps further than this from our clock are refused as replays. Default 120 000 ms. */
  maxClockSkewMs: number;
  /** Half-open responder handshakes per peer (default 4) and in total (default 1024). */
  maxPendingPerPeer: number;
  maxPending: number;
  /** InitHellos accepted per peer: a token bucket of this burst (default 10) and refill rate (default 5/s). */
  initiationBurst: number;
  initiationsPerSecond: number;
  /** InitHello session ids remembered against replay (default 65 536). */
  replayCacheSize: number;
}

export const DEFAULT_HANDSHAKE_LIMITS: HandshakeLimits = {
  timeoutMs: 5000,
  maxClockSkewMs: 120_000,
  maxPendingPerPeer: 4,
  maxPending: 1024,
  initiationBurst: 10,
  initiationsPerSecond: 5,
  replayCacheSize: 65_536,
};

/** What the handshake needs from its node; PQMeshSecurity provides it. */
export interface HandshakeContext {
  readonly nodeId: string;
  readonly signer: Signer;
  /** The suites this node offers now, best first (fallback mode appends the classical suite). */
  offers(): readonly MeshSuite[];
  /** The suites this node accepts now as responder. */
  accepts(): readonly MeshSuite[];
  kem(suite: MeshSuite): Kem;
  /** The trust store: the peer's identity, or undefined for a peer we do not trust. */
  peer(nodeId: string): Promise<PeerIdentity | undefined>;
  verify(algorithm: string, data: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
  /** True once the peer completed a post-quantum handshake with us: it never gets the classical suite. */
  pinnedToPq(nodeId: string): boolean;
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock milliseconds (InitHello timestamps). */
  wallNow(): number;
  readonly limits: HandshakeLimits;
}

/** Which handshake, and which side's payload, an extension is asked about. */
export interface ExtensionContext {
  /** The role of the side whose payload it is. */
  role: 'initiator' | 'responder';
  /** The transcript hash that side's signature covers: TH2 for the initiator's payload, TH3 for the responder's. */
  transcript: Uint8Array;
  /** The other side of the handshake, as the trust store knows it: for `verify`, the payload's author. */
  peer: PeerIdentity;
}

/**
 * An extension of one connection's handshakes (docs/protocol.md, "Extension payloads"): each
 * side's Auth message carries a payload sealed after its signature, and that ML-DSA signature
 * covers it. The payload is made once the transcript it may sign over is known, and checked
 * only after the peer's signature verified. What a payload means is the extension's: the
 * libp2p encrypter binds the peer's libp2p key to its ML-DSA identity and the transcript.
 */
export interface HandshakeExtension {
  /** This side's payload, at most MAX_EXTENSION bytes (empty: none). */
  payload(context: ExtensionContext): Promise<Uint8Array>;
  /**
   * Checks the peer's payload (empty when it sent none); throws a MeshError to refuse the
   * handshake. What it returns is the session's `extension`.
   */
  verify(payload: Uint8Array, context: ExtensionContext): Promise<unknown>;
}

/** An established session: what the channel needs, and nothing of the handshake's secrets. */
export interface Session {
  role: 'initiator' | 'responder';
  peer: PeerIdentity;
  suite: MeshSuite;
  /** sessionI ‖ sessionR */
  sessionId: Uint8Array;
  /** The root of the channel's keys (48 bytes); the channel wipes it when it rotates or closes. */
  chainKey: SecretBytes;
  /** The transcript hash of all four messages. */
  transcript: Uint8Array;
  /** When the handshake started (monotonic ms), for its latency. */
  startedAt: number;
  /** What the connection's HandshakeExtension made of the peer's payload. */
  extension?: unknown;
}

export interface Step {
  reply?: Uint8Array;
  session?: Session;
}

const ZERO_IV = new Uint8Array(IV_LENGTH);
const encoder = new TextEncoder();
export const nodeIdBytes = (nodeId: string) => encoder.encode(nodeId);
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function nodeIdOf(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    return fail('malformed', 'a node id is not UTF-8');
  }
}

// The payload comes last, so that a handshake without one signs what it always did.
const signedData = (label: Uint8Array, transcript: Uint8Array, peerId: string, payload: Uint8Array) => {
  const id = nodeIdBytes(peerId);
  return concat(label, transcript, Uint8Array.of(id.length), id, payload);
};

const NO_PAYLOAD = new Uint8Array(0);

/** This side's extension payload for `context`, bounded. */
async function ownPayload(extension: HandshakeExtension | undefined, context: ExtensionContext): Promise<Uint8Array> {
  if (!extension) return NO_PAYLOAD;
  const payload = await extension.payload(context);
  if (!(payload instanceof Uint8Array) || payload.length > MAX_EXTENSION) fail('malformed', `an extension payload must be a Uint8Array of at most ${MAX_EXTENSION} bytes`);
  return payload;
}

/** What a connection without an extension makes of a payload: nothing is accepted unasked. */
function checkPayload(extension: HandshakeExtension | undefined, payload: Uint8Array, context: ExtensionContext): Promise<unknown> {
  if (extension) return extension.verify(payload, context);
  if (payload.length > 0) fail('malformed', 'an extension payload on a connection that takes none');
  return Promise.resolve(undefined);
}

function handshakeKeys(sharedSecret: Uint8Array, transcript: Uint8Array) {
  const [initiator, responder] = split(derive(sharedSecret, transcript, LABELS.handshakeKeys, 2 * KEY_LENGTH), KEY_LENGTH, KEY_LENGTH);
  return { initiator: initiator!, responder: responder! };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && timingSafeEqual(a, b);
const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** The initiator's first choice of suite among `offer` that the responder lists in `accepted`. */
function bestCommon(offer: Uint8Array, accepted: Uint8Array): number | undefined {
  return [...offer].find((id) => accepted.includes(id));
}

/**
 * The initiator's side of one handshake: `start` gives InitHello; `receive` takes the
 * responder's messages (Retry, RespHello, RespAuth, Abort) and gives InitAuth, then the session.
 */
export class InitiatorHandshake {
  #state: 'hello' | 'auth' | 'done' | 'failed' = 'hello';
  #retried = false;
  #suite: MeshSuite;
  #secretKey: SecretBytes | undefined;
  #hello: Uint8Array;
  #helloFields: InitHello;
  #pending: { sharedSecret: SecretBytes; responderKey: SecretBytes; transcript: Transcript; sessionR: Uint8Array } | undefined;
  readonly #offers: readonly MeshSuite[];
  readonly startedAt: number;

  private constructor(
    readonly ctx: HandshakeContext,
    readonly peer: PeerIdentity,
    offers: readonly MeshSuite[],
    readonly extension: HandshakeExtension | undefined,
  ) {
    this.#offers = offers;
    this.#suite = offers[0]!;
    this.startedAt = ctx.now();
    this.#helloFields = {
      // Stryker disable next-line BooleanLiteral: a placeholder, like shareSuite and share: #makeHello sets retried from #retried before the first InitHello is encoded, and nothing reads it before
      retried: false,
      sessionI: new Uint8Array(randomBytes(SESSION_ID_LENGTH)),
      timestamp: Math.floor(ctx.wallNow()),
      initiatorId: nodeIdBytes(ctx.nodeId),
      responderId: nodeIdBytes(peer.nodeId),
      offer: Uint8Array.from(offers, (suite) => suite.id),
      shareSuite: 0,
      share: new Uint8Array(0),
    };
    this.#hello = new Uint8Array(0);
  }

  static async start(ctx: HandshakeContext, peer: PeerIdentity, extension?: HandshakeExtension): Promise<InitiatorHandshake> {
    const pinned = ctx.pinnedToPq(peer.nodeId);
    const offers = ctx.offers().filter((suite) => suite.sig === peer.sigAlgorithm && !(suite.classical && pinned));
    if (offers.length === 0) {
      fail('unsupported_suite', `no suite this node offers signs with ${peer.sigAlgorithm}, the algorithm of ${peer.nodeId}'s identity`);
    }
    const handshake = new InitiatorHandshake(ctx, peer, offers, extension);
    await handshake.#makeHello();
    return handshake;
  }

  get sessionI(): Uint8Array {
    return this.#helloFields.sessionI;
  }

  /** The message to send first (InitHello, or its retried form after a Retry). */
  get hello(): Uint8Array {
    return this.#hello;
  }

  get suite(): MeshSuite {
    return this.#suite;
  }

  async receive(bytes: Uint8Array): Promise<Step> {
    if (this.#state === 'done' || this.#state === 'failed') fail('replay', 'this handshake is over');
    try {
      const type = messageType(bytes);
      if (type === MessageType.Abort) {
        const abort = parseAbort(bytes);
        if (!sameBytes(abort.sessionI, this.sessionI)) fail('malformed', 'an Abort for another handshake');
        fail(abort.reason, `${this.peer.nodeId} refused the handshake (${abort.reason})`);
      }
      if (this.#state === 'hello' && type === MessageType.Retry) return { reply: await this.#onRetry(bytes) };
      if (this.#state === 'hello' && type === MessageType.RespHello) return { reply: await this.#onRespHello(bytes) };
      if (this.#state === 'auth' && type === MessageType.RespAuth) return { session: await this.#onRespAuth(bytes) };
      return fail('malformed', `unexpected message type ${type} in state ${this.#state}`);
    } catch (error) {
      this.abort();
      throw asMeshError(error);
    }
  }

  /** Ends the handshake and wipes its secrets (also on timeout); after success there are none left, and no message is taken either way. */
  abort(): void {
    this.#state = 'failed';
    this.#wipe();
  }

  async #makeHello(): Promise<void> {
    wipeAll(this.#secretKey);
    const pair = await kemStep(this.ctx.kem(this.#suite).generateKeyPairAsync());
    this.#secretKey = pair.secretKey;
    this.#helloFields = { ...this.#helloFields, retried: this.#retried, shareSuite: this.#suite.id, share: pair.publicKey };
    this.#hello = encodeInitHello(this.#helloFields);
  }

  async #onRetry(bytes: Uint8Array): Promise<Uint8Array> {
    const retry = parseRetry(bytes);
    if (!sameBytes(retry.sessionI, this.sessionI)) fail('malformed', 'a Retry for another handshake');
    const suite = this.#offers.find((candidate) => candidate.id === retry.selected);
    if (this.#retried || !suite || suite === this.#suite) fail('downgrade', `a Retry that selects suite ${retry.selected}, which is not a new suite of the offer`);
    this.#retried = true;
    this.#suite = suite;
    await this.#makeHello();
    return this.#hello;
  }

  async #onRespHello(bytes: Uint8Array): Promise<Uint8Array> {
    const resp = parseRespHello(bytes);
    if (!sameBytes(resp.sessionI, this.sessionI)) fail('malformed', 'a RespHello for another handshake');
    // Downgrade protection, checked again by the signatures, which cover both messages.
    if (!sameBytes(resp.offer, this.#helloFields.offer)) fail('downgrade', `the offer reached ${this.peer.nodeId} changed: suites were removed or added on the way`);
    if (resp.selected !== this.#suite.id || bestCommon(this.#helloFields.offer, resp.accepted) !== resp.selected) {
      fail('downgrade', `${this.peer.nodeId} selected suite ${resp.selected}, not the best suite both sides accept`);
    }
    const sharedSecret = await kemStep(this.ctx.kem(this.#suite).decapsulateAsync(resp.ciphertext, this.#secretKey!));
    wipeAll(this.#secretKey);
    this.#secretKey = undefined;
    const transcript = new Transcript().add(this.#hello).add(bytes);
    const th2 = transcript.snapshot();
    const keys = handshakeKeys(sharedSecret, th2);
    this.#pending = { sharedSecret, responderKey: keys.responder, transcript, sessionR: resp.sessionR };
    try {
      const payload = await ownPayload(this.extension, { role: 'initiator', transcript: th2, peer: this.peer });
      const signature = await this.ctx.signer.sign(signedData(LABELS.initiatorSignature, th2, this.peer.nodeId, payload));
      const auth = encodeAuth(MessageType.InitAuth, this.sessionI, resp.sessionR, (aad) => seal(keys.initiator, ZERO_IV, aad, concat(signature, payload)));
      transcript.add(auth);
      this.#state = 'auth';
      return auth;
    } catch (error) {
      throw asMeshError(error);
    } finally {
      wipeAll(keys.initiator);
    }
  }

  async #onRespAuth(bytes: Uint8Array): Promise<Session> {
    const pending = this.#pending!;
    const auth = parseAuth(bytes, MessageType.RespAuth);
    if (!sameBytes(auth.sessionI, this.sessionI) || !sameBytes(auth.sessionR, pending.sessionR)) fail('malformed', 'a RespAuth for another handshake');
    const th3 = pending.transcript.snapshot();
    const payload = await confirmAndAuthenticate(this.ctx, this.peer, pending.responderKey, auth, LABELS.responderSignature, th3);
    const extension = await checkPayload(this.extension, payload, { role: 'responder', transcript: th3, peer: this.peer });
    const transcript = pending.transcript.add(bytes).snapshot();
    const session: Session = {
      role: 'initiator',
      peer: this.peer,
      suite: this.#suite,
      sessionId: concat(this.sessionI, pending.sessionR),
      chainKey: derive(pending.sharedSecret, transcript, LABELS.chainKey, HASH_LENGTH),
      transcript,
      startedAt: this.startedAt,
      extension,
    };
    this.#wipe();
    this.#state = 'done';
    return session;
  }

  #wipe(): void {
    wipeAll(this.#secretKey, this.#pending?.sharedSecret, this.#pending?.responderKey);
    this.#secretKey = undefined;
    this.#pending = undefined;
  }
}

/**
 * InitAuth or RespAuth: the seal opens under the peer's handshake key (key confirmation), its
 * signature verifies over `label ‖ transcript ‖ our id ‖ payload` with the peer's trusted key,
 * and the trust store still holds that key (it may have changed while the handshake ran).
 * Returns the extension payload: what the sealed field holds after the signature, whose
 * length the peer's ML-DSA parameter set fixes.
 */
async function confirmAndAuthenticate(
  ctx: HandshakeContext,
  peer: PeerIdentity,
  key: Uint8Array,
  auth: Auth,
  label: Uint8Array,
  transcript: Uint8Array,
): Promise<Uint8Array> {
  const opened = open(key, ZERO_IV, auth.aad, auth.sealed);
  if (!opened) fail('decaps_failure', `key confirmation with ${peer.nodeId} failed: the peers derived different keys`);
  const signatureLength = SIGNATURE_LENGTH[peer.sigAlgorithm]!;
  if (opened.length < signatureLength) fail('malformed', `${peer.nodeId}'s Auth holds ${opened.length} bytes, less than a ${peer.sigAlgorithm} signature`);
  const signature = opened.subarray(0, signatureLength);
  const payload = opened.subarray(signatureLength);
  const valid = await ctx.verify(peer.sigAlgorithm, signedData(label, transcript, ctx.nodeId, payload), signature, peer.sigPublicKey);
  if (!valid) fail('bad_signature', `${peer.nodeId}'s signature does not verify with its trusted key`);
  const current = await ctx.peer(peer.nodeId);
  if (current?.keyId !== peer.keyId) fail('unknown_peer', `${peer.nodeId}'s trusted key changed during the handshake`);
  return payload;
}

interface PendingResponse {
  /** The connection the InitHello came on: only it may continue or abort the handshake. */
  origin: unknown;
  peer: PeerIdentity;
  suite: MeshSuite;
  hello: Uint8Array;
  respHello: Uint8Array;
  sessionR: Uint8Array;
  sharedSecret: SecretBytes;
  keys: { initiator: SecretBytes; responder: SecretBytes };
  transcript: Transcript;
  startedAt: number;
  expiresAt: number;
  busy: boolean;
}

/**
 * The responder's side for every peer of a node: stateless until an InitHello from a trusted
 * peer passes every cheap check, then one bounded entry per half-open handshake. Checks run
 * cheapest first — length, version, addressee, reflection, timestamp, replay, trust, suite (a
 * Retry makes no state), rate — and only then the KEM; the initiator's signature is verified before ours is made.
 */
export class Responder {
  readonly #pending: BoundedMap<string, PendingResponse>;
  readonly #pendingPerPeer = new Map<string, number>();
  readonly #seen: BoundedMap<string, number>;
  /** Completed handshakes' last answers, so that a retransmitted InitAuth gets the same RespAuth. */
  readonly #completed: BoundedMap<string, { origin: unknown; initAuth: Uint8Array; respAuth: Uint8Array; expiresAt: number }>;
  readonly #buckets: TokenBuckets;

  constructor(
    readonly ctx: HandshakeContext,
    readonly onTimeout: (peerId: string) => void,
  ) {
    const limits = ctx.limits;
    this.#pending = new BoundedMap(limits.maxPending);
    this.#seen = new BoundedMap(limits.replayCacheSize);
    this.#completed = new BoundedMap(256);
    this.#buckets = new TokenBuckets(limits.initiationBurst, limits.initiationsPerSecond, 4096);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Handles InitHello and InitAuth (and Abort). `origin` names the connection a message came
   * on: a half-open handshake continues, or is aborted, only from the connection that began it;
   * `extension` is that connection's. Throws a MeshError for anything refused.
   */
  async receive(bytes: Uint8Array, origin?: unknown, extension?: HandshakeExtension): Promise<Step> {
    this.sweep();
    const type = messageType(bytes);
    try {
      if (type === MessageType.InitHello) return await this.#onInitHello(bytes, origin);
      if (type === MessageType.InitAuth) return await this.#onInitAuth(bytes, origin, extension);
    } catch (error) {
      const failure = asMeshError(error);
      failure.sessionI ??= initiatorSessionOf(bytes);
      throw failure;
    }
    if (type === MessageType.Abort) {
      const abort = parseAbort(bytes);
      const entry = this.#pending.get(hex(abort.sessionI));
      if (entry && !entry.busy && entry.origin === origin) this.#drop(hex(abort.sessionI), entry);
      return {};
    }
    return fail('malformed', `a responder does not take message type ${type}`);
  }

  /** Drops half-open handshakes that timed out, counting each. */
  sweep(): void {
    const now = this.ctx.now();
    for (const [key, entry] of this.#pending) {
      if (entry.expiresAt > now) break; // insertion order is expiry order
      if (entry.busy) continue;
      this.#drop(key, entry);
      this.onTimeout(entry.peer.nodeId);
    }
    for (const [key, expiresAt] of this.#seen) {
      // Kept up to and including its expiry: until then the InitHello's timestamp can still pass the skew check.
      if (expiresAt >= this.ctx.wallNow()) break;
      this.#seen.delete(key);
    }
    for (const [key, entry] of this.#completed) {
      if (entry.expiresAt > now) break;
      this.#completed.delete(key);
    }
  }

  /** Wipes every half-open handshake. */
  close(): void {
    for (const [key, entry] of this.#pending) this.#drop(key, entry);
  }

  async #onInitHello(bytes: Uint8Array, origin: unknown): Promise<Step> {
    const hello = parseInitHello(bytes);
    const initiatorId = nodeIdOf(hello.initiatorId);
    if (nodeIdOf(hello.responderId) !== this.ctx.nodeId) fail('unknown_peer', 'an InitHello addressed to another node');
    if (initiatorId === this.ctx.nodeId) fail('reflection', 'an InitHello that claims to come from this node');
    const limits = this.ctx.limits;
    if (Math.abs(this.ctx.wallNow() - hello.timestamp) > limits.maxClockSkewMs) {
      fail('replay', `an InitHello timestamped more than ${limits.maxClockSkewMs} ms from this node's clock`);
    }
    const key = hex(hello.sessionI);
    const pending = this.#pending.get(key);
    if (pending) {
      // A retransmission gets the same answer and makes no new state; anything else is a replay.
      if (sameBytes(pending.hello, bytes)) return { reply: pending.respHello };
      fail('replay', 'an InitHello that reuses a session id');
    }
    if (this.#seen.has(key)) fail('replay', 'a replayed InitHello');
    const peer = await this.ctx.peer(initiatorId);
    if (!peer) fail('unknown_peer', `${initiatorId} is not a trusted peer`);
    // The same InitHello may have arrived twice while the trust store was asked.
    if (this.#seen.has(key) || this.#pending.has(key)) fail('replay', 'a replayed InitHello');
    const suite = this.#select(hello, peer);
    if (suite.id !== hello.shareSuite) {
      if (hello.retried) fail('downgrade', `a retried InitHello with a key share for suite ${hello.shareSuite}, not ${suite.id}`);
      return { reply: encodeRetry({ sessionI: hello.sessionI, selected: suite.id }) };
    }
    if (!this.#buckets.take(initiatorId, this.ctx.now())) fail('rate_limited', `${initiatorId} started too many handshakes`);
    const perPeer = this.#pendingPerPeer.get(initiatorId) ?? 0;
    if (perPeer >= limits.maxPendingPerPeer || this.#pending.full || this.#seen.full) fail('rate_limited', 'too many half-open handshakes');
    // Kept while the timestamp could still pass the skew check; from now, so that insertion order is expiry order.
    this.#seen.set(key, this.ctx.wallNow() + 2 * limits.maxClockSkewMs);

    const encapsulation = await kemStep(this.ctx.kem(suite).encapsulateAsync(hello.share));
    const sessionR = new Uint8Array(randomBytes(SESSION_ID_LENGTH));
    const accepted = Uint8Array.from(this.#acceptable(peer), (candidate) => candidate.id);
    const respHello = encodeRespHello({ sessionI: hello.sessionI, sessionR, selected: suite.id, offer: hello.offer, accepted, ciphertext: encapsulation.ciphertext });
    const transcript = new Transcript().add(bytes).add(respHello);
    const now = this.ctx.now();
    const entry: PendingResponse = {
      origin,
      peer,
      suite,
      hello: bytes,
      respHello,
      sessionR,
      sharedSecret: encapsulation.sharedSecret,
      keys: handshakeKeys(encapsulation.sharedSecret, transcript.snapshot()),
      transcript,
      startedAt: now,
      expiresAt: now + limits.timeoutMs,
      busy: false,
    };
    if (this.#pending.has(key) || this.#pending.full) {
      wipeAll(entry.sharedSecret, entry.keys.initiator, entry.keys.responder);
      fail('rate_limited', 'too many half-open handshakes');
    }
    this.#pending.set(key, entry);
    this.#pendingPerPeer.set(initiatorId, (this.#pendingPerPeer.get(initiatorId) ?? 0) + 1);
    return { reply: respHello };
  }

  async #onInitAuth(bytes: Uint8Array, origin: unknown, extension: HandshakeExtension | undefined): Promise<Step> {
    const auth = parseAuth(bytes, MessageType.InitAuth);
    const key = hex(auth.sessionI);
    const entry = this.#pending.get(key);
    if (!entry) {
      const done = this.#completed.get(key);
      if (done && done.origin === origin && sameBytes(done.initAuth, bytes)) return { reply: done.respAuth };
      return fail('replay', 'an InitAuth for no open handshake');
    }
    if (entry.busy) return {};
    // Refused without ending the handshake: its own connection may still complete it.
    if (entry.origin !== origin) fail('replay', 'an InitAuth on another connection than its InitHello');
    if (!sameBytes(auth.sessionR, entry.sessionR)) fail('malformed', 'an InitAuth with another responder session id');
    entry.busy = true;
    try {
      const th2 = entry.transcript.snapshot();
      const theirs = await confirmAndAuthenticate(this.ctx, entry.peer, entry.keys.initiator, auth, LABELS.initiatorSignature, th2);
      const peerExtension = await checkPayload(extension, theirs, { role: 'initiator', transcript: th2, peer: entry.peer });
      const th3 = entry.transcript.add(bytes).snapshot();
      const payload = await ownPayload(extension, { role: 'responder', transcript: th3, peer: entry.peer });
      const ours = await this.ctx.signer.sign(signedData(LABELS.responderSignature, th3, entry.peer.nodeId, payload));
      // close() may have wiped the entry's secrets while this ran: a session from zeroed keys would be one anybody can compute.
      if (this.#pending.get(key) !== entry) fail('closed', 'the responder closed during the handshake');
      const respAuth = encodeAuth(MessageType.RespAuth, auth.sessionI, entry.sessionR, (aad) => seal(entry.keys.responder, ZERO_IV, aad, concat(ours, payload)));
      const transcript = entry.transcript.add(respAuth).snapshot();
      const session: Session = {
        role: 'responder',
        peer: entry.peer,
        suite: entry.suite,
        sessionId: concat(auth.sessionI, entry.sessionR),
        chainKey: derive(entry.sharedSecret, transcript, LABELS.chainKey, HASH_LENGTH),
        transcript,
        startedAt: entry.startedAt,
        extension: peerExtension,
      };
      this.#completed.set(key, { origin, initAuth: bytes, respAuth, expiresAt: this.ctx.now() + this.ctx.limits.timeoutMs });
      return { reply: respAuth, session };
    } catch (error) {
      throw error instanceof MeshError ? error : asMeshError(error);
    } finally {
      this.#drop(key, entry);
    }
  }

  /** The suites this node would accept from `peer`: post-quantum ones first, the classical one only for a peer not pinned to PQ. */
  #acceptable(peer: PeerIdentity): readonly MeshSuite[] {
    return this.ctx
      .accepts()
      .filter((suite) => suite.sig === peer.sigAlgorithm && suite.sig === this.ctx.signer.algorithm)
      .filter((suite) => !suite.classical || !this.ctx.pinnedToPq(peer.nodeId));
  }

  #select(hello: InitHello, peer: PeerIdentity): MeshSuite {
    const acceptable = this.#acceptable(peer);
    const offered = [...hello.offer].flatMap((id) => acceptable.filter((suite) => suite.id === id));
    // A post-quantum suite both sides run always wins over the classical one, whatever the offer's order.
    const choice = offered.find((suite) => !suite.classical) ?? offered[0];
    if (choice) return choice;
    const offersClassical = hello.offer.includes(CLASSICAL_SUITE.id);
    return fail(
      offersClassical ? 'downgrade' : 'unsupported_suite',
      offersClassical
        ? `${peer.nodeId} offered only the classical suite, which this node does not accept now (not in fallback mode, or the peer is pinned to PQ)`
        : `no suite in common with ${peer.nodeId}`,
    );
  }

  #drop(key: string, entry: PendingResponse): void {
    if (this.#pending.get(key) !== entry) return;
    this.#pending.delete(key);
    const left = (this.#pendingPerPeer.get(entry.peer.nodeId) ?? 1) - 1;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: `true` and `>= 0` differ only for left === 0, which they store as a 0 that `?? 0` reads back as no entry; only trusted peers get one
    if (left > 0) this.#pendingPerPeer.set(entry.peer.nodeId, left);
    else this.#pendingPerPeer.delete(entry.peer.nodeId);
    wipeAll(entry.sharedSecret, entry.keys.initiator, entry.keys.responder);
  }
}
