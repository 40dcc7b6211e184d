import { EventEmitter } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import type { BackendChoice } from '../backend.js';
import type { SecretBytes } from '../bytes.js';
import { PqcError } from '../errors.js';
import { Kem } from '../kem.js';
import type { Logger } from '../logger.js';
import { pqcMetrics, type PqcMetrics } from '../metrics.js';
import { systemClock, type Clock } from '../policy/clock.js';
import type { PQCFallbackHandler } from '../policy/fallback-handler.js';
import { processPolicy } from '../policy/process-policy.js';
import type { Sig } from '../sig.js';
import { Connection, type ConnectionOptions, type MeshHost } from './connection.js';
import { MeshError, type FailureReason } from './failure.js';
import { DEFAULT_MAX_FRAME, FramedTransport, socketStream, type FrameTransport } from './frame-transport.js';
import { DEFAULT_HANDSHAKE_LIMITS, Responder, type HandshakeContext, type HandshakeExtension, type HandshakeLimits, type Session } from './handshake.js';
import {
  DEFAULT_IDENTITY_ALGORITHM,
  generateIdentity,
  publicKeys,
  requireIdentity,
  requireNodeId,
  type MeshIdentity,
  type PublicKeys,
  type PublicKeysJson,
} from './identity.js';
import { LABELS, concat } from './key-schedule.js';
import { BoundedMap } from './limits.js';
import { DEFAULT_REKEY_LIMITS, type RekeyLimits } from './record-layer.js';
import type { SecureChannel } from './secure-channel.js';
import { CLASSICAL_SUITE, HIGH_SUITE, probeSuite, suiteByName, X25519MLKEM768_SUITE, XWING_SUITE, type MeshSuite } from './suites.js';
import { TrustStore, type TrustedPeers } from './trust-store.js';
import { sigFor } from './signatures.js';

export interface PQMeshSecurityOptions {
  nodeId: string;
  /** Where the handshake, rotation and record metrics go; default the fallback handler's registry, else one of the node's own. */
  registry?: Registry;
  /** Default: start-up's logger (JSON lines on stderr). */
  logger?: Logger;
  /** Whose fallback mode permits the classical suite; default start-up's handler. */
  fallback?: PQCFallbackHandler;
  /** The long-term key pair, or the algorithm of a new one (default ML-DSA-65). */
  identity?: MeshIdentity | { algorithm: string };
  trustedPeers?: TrustedPeers;
  /**
   * Suites in preference order, by name. Default: every post-quantum suite for the identity's
   * algorithm that the backend runs, then the classical suite while in fallback mode. A named
   * suite the backend cannot run is refused with ERR_PQC_UNSUPPORTED_CAPABILITY.
   */
  suites?: (string | MeshSuite)[];
  clock?: Clock;
  limits?: Partial<HandshakeLimits>;
  rekey?: Partial<RekeyLimits>;
  /** The largest TCP frame accepted or sent; default 1 MiB plus the record overhead. */
  maxFrameBytes?: number;
  /** Open inbound connections at most (default 1024). */
  maxConnections?: number;
  backend?: BackendChoice;
}

/** A channel over the caller's own framed transport (`openChannel`, `acceptChannel`). */
export interface ChannelOptions {
  /** Runs in the connection's handshakes: carries and checks each side's extension payload. */
  extension?: HandshakeExtension;
  /**
   * Called with the channel the moment it opens, before any record on it is delivered: a
   * 'message' listener attached here misses nothing that the peer sent right after the handshake.
   */
  opened?: (channel: SecureChannel) => void;
}

export interface MeshListener {
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface SecurityLevel {
  /** The suite this node prefers now; null when it can offer none. */
  suite: string | null;
  kem: string | null;
  sig: string;
  backend: string;
  nistLevel: number;
  /** Peers with an open post-quantum channel. */
  peersWithPq: number;
  fallback: boolean;
}

export interface PQMeshSecurityEvents {
  /** An inbound channel (a peer dialled us and the handshake completed). */
  channel: [SecureChannel];
}

interface SuitePlan {
  suite: MeshSuite;
  kem: Kem;
  offer: boolean;
  accept: boolean;
}

const DEFAULT_SUITES = [XWING_SUITE, X25519MLKEM768_SUITE, HIGH_SUITE];
const DEFAULT_MAX_CONNECTIONS = 1024;
const SWEEP_INTERVAL_MS = 1000;
const LATENCY_SLO_SECONDS = 0.1;
// Refusals anyone on the network can cause are counted, and logged only at debug level.
const QUIET_REASONS = new Set<FailureReason>(['malformed', 'unknown_peer', 'rate_limited', 'replay', 'reflection']);

/**
 * A mesh node's post-quantum security (the containment plan's replacement for the mock
 * PQMeshSecurity → HybridEncryption → SimplifiedNTRU path): its ML-DSA identity and trust
 * store, authenticated hybrid-KEM handshakes (docs/protocol.md), encrypted channels over TCP
 * or the caller's own transport, beacon signatures and the metrics of all of it.
 * Method names follow x0tta6bl4's Python PQMeshSecurityLibOQS, in camelCase.
 */
export class PQMeshSecurity extends EventEmitter<PQMeshSecurityEvents> {
  readonly nodeId: string;
  readonly metrics: PqcMetrics;
  readonly #identity: MeshIdentity;
  readonly #sig: Sig;
  readonly #trust: TrustStore;
  readonly #plans: SuitePlan[];
  readonly #classical: boolean;
  readonly #fallback: PQCFallbackHandler | undefined;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #options: PQMeshSecurityOptions;
  readonly #pinned = new BoundedMap<string, true>(65_536);
  readonly #channels = new Map<string, SecureChannel[]>();
  readonly #connections = new Set<Connection>();
  readonly #servers = new Set<Server>();
  readonly #host: MeshHost;
  readonly #onFallbackEnd: () => void;
  #classicalKem: Kem | undefined;
  #sweepTimer: unknown;
  #closed = false;

  private constructor(options: PQMeshSecurityOptions, identity: MeshIdentity, plans: SuitePlan[], classical: boolean) {
    super();
    this.nodeId = options.nodeId;
    this.#options = options;
    this.#identity = identity;
    this.#sig = sigFor(identity.algorithm, options.backend);
    this.#trust = new TrustStore(options.trustedPeers);
    this.#plans = plans;
    this.#classical = classical;
    this.#fallback = options.fallback ?? processPolicy.fallback ?? undefined;
    this.#logger = options.logger ?? processPolicy.logger;
    this.#clock = options.clock ?? systemClock;
    this.metrics = pqcMetrics(options.registry ?? this.#fallback?.metrics.registry ?? new Registry());
    const limits = checkedLimits('limits', DEFAULT_HANDSHAKE_LIMITS, options.limits);
    const clockBase = this.#clock.now();
    const wallBase = Date.now();
    const context: HandshakeContext = {
      nodeId: this.nodeId,
      signer: {
        algorithm: identity.algorithm,
        publicKey: identity.publicKey,
        sign: (data) => this.#sig.signAsync(data, identity.secretKey),
      },
      offers: () => this.#suites('offer'),
      accepts: () => this.#suites('accept'),
      kem: (suite) => this.#kem(suite),
      peer: (nodeId) => this.#trust.lookup(nodeId),
      verify: (algorithm, data, signature, publicKey) => this.#verifier(algorithm).verifyAsync(data, signature, publicKey),
      pinnedToPq: (nodeId) => this.#pinned.has(nodeId),
      now: () => this.#clock.now(),
      wallNow: () => wallBase + (this.#clock.now() - clockBase),
      limits,
    };
    const responder = new Responder(context, (peerId) => this.#handshakeFailed('timeout', peerId, undefined));
    this.#host = {
      clock: this.#clock,
      rekeyLimits: checkedLimits('rekey', DEFAULT_REKEY_LIMITS, options.rekey),
      handshake: context,
      responder,
      kem: (suite) => this.#kem(suite),
      admit: (session) => this.#admit(session),
      handshakeSucceeded: (session) => this.#handshakeSucceeded(session),
      handshakeFailed: (reason, peerId, error) => this.#handshakeFailed(reason, peerId, error),
      recordRejected: (reason) => this.metrics.recordRejected.inc({ reason }),
      rotationSucceeded: () => this.metrics.keyRotationSuccess.inc(),
      rotationFailed: (channel, reason) => {
        this.metrics.keyRotationFailure.inc({ reason });
        this.#logger.warn({ event: 'pqc_key_rotation_failed', peer: channel.peerId, reason }, `key rotation with ${channel.peerId} failed (${reason})`);
      },
      channelOpened: (channel, announce) => this.#channelOpened(channel, announce),
      channelClosed: (channel) => this.#channelClosed(channel),
    };
    this.#onFallbackEnd = () => this.#closeClassicalChannels();
    if (this.#fallback) {
      // Every node of a process listens to the one handler: not a leak, so no warning for the eleventh.
      this.#fallback.setMaxListeners(this.#fallback.getMaxListeners() + 2);
      this.#fallback.on('expired', this.#onFallbackEnd).on('disabled', this.#onFallbackEnd);
    }
    this.#scheduleSweep();
  }

  /** Creates a node: checks its suites against the backend with real key pairs, and makes or checks its identity. */
  static async create(options: PQMeshSecurityOptions): Promise<PQMeshSecurity> {
    if (options === null || typeof options !== 'object') throw new PqcError('ERR_PQC_INVALID_INPUT', 'PQMeshSecurity.create takes an options object');
    requireNodeId(options.nodeId);
    const given = options.identity as Partial<MeshIdentity> | undefined;
    const identity =
      given && 'secretKey' in given
        ? requireIdentity(given)
        : await generateIdentity((given as { algorithm?: string } | undefined)?.algorithm ?? DEFAULT_IDENTITY_ALGORITHM);
    const { plans, classical } = await planSuites(options, identity.algorithm);
    const node = new PQMeshSecurity(options, identity, plans, classical);
    await node.#sig.ready();
    return node;
  }

  getPublicKeys(): PublicKeys {
    return publicKeys(this.nodeId, this.#identity.algorithm, this.#identity.publicKey);
  }

  /** A trusted peer's keys from the static trust list (and trustPeer), or undefined; a trust function is not asked. */
  peerKeys(nodeId: string): PublicKeys | undefined {
    return this.#trust.listed(nodeId);
  }

  /** Adds or replaces a peer's identity. */
  trustPeer(peer: PublicKeys | PublicKeysJson): PublicKeys {
    const keys = this.#trust.trust(peer);
    for (const channel of this.#channels.get(keys.nodeId) ?? []) {
      if (channel.peerKeyId !== keys.keyId) channel.close(new MeshError('unknown_peer', `${keys.nodeId}'s trusted key changed`));
    }
    return keys;
  }

  /** Stops trusting a peer and closes its channels. */
  untrustPeer(nodeId: string): void {
    this.#trust.untrust(nodeId);
    for (const channel of [...(this.#channels.get(nodeId) ?? [])]) channel.close(new MeshError('unknown_peer', `${nodeId} is no longer trusted`));
  }

  /** Accepts channels on TCP (IPv4 or IPv6); default host 127.0.0.1, port 0 (any free port). */
  async listen(options: { host?: string; port?: number } = {}): Promise<MeshListener> {
    this.#requireOpen();
    const host = options.host ?? '127.0.0.1';
    const server = createServer((socket) => this.#accept(socket));
    server.maxConnections = this.#options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new PqcError('ERR_PQC_INVALID_CONFIGURATION', `cannot listen on ${host}:${options.port ?? 0}: ${error.message}`, { cause: error })));
      server.listen({ host, port: options.port ?? 0 }, resolve);
    });
    if (this.#closed) {
      // close() ran while the server was starting, and could not see it.
      await new Promise((resolve) => server.close(resolve));
      this.#requireOpen();
    }
    this.#servers.add(server);
    // A listening TCP server's address is an AddressInfo (a string only for a pipe, null before listening).
    const { port } = server.address() as AddressInfo;
    return {
      host,
      port,
      close: () => this.#closeServer(server),
    };
  }

  /** Dials `peerId` at `address` and runs the handshake; resolves with the channel. */
  async establishSecureChannel(peerId: string, address: { host?: string; port: number }): Promise<SecureChannel> {
    this.#requireOpen();
    requireNodeId(peerId, 'peerId');
    const peer = await this.#dialable(peerId);
    const socket = await this.#connect(address);
    return this.#dial(new FramedTransport(socketStream(socket), this.#maxFrame()), peer, {});
  }

  /**
   * Runs the handshake as initiator with `peerId` over the caller's framed transport (for
   * example `FramedTransport` over a stream of another network stack); resolves with the
   * channel, whose records then travel on that transport. Failures are counted as for TCP.
   */
  async openChannel(transport: FrameTransport, peerId: string, options: ChannelOptions = {}): Promise<SecureChannel> {
    this.#requireOpen();
    requireNodeId(peerId, 'peerId');
    const peer = await this.#dialable(peerId);
    return this.#dial(transport, peer, { extension: options.extension, opened: options.opened });
  }

  /**
   * Takes one handshake as responder on the caller's framed transport; resolves with the
   * channel (not announced by the 'channel' event, which is for listen()'s connections), or
   * rejects with the failure. `expectedPeer` refuses an InitHello from any other node id.
   */
  acceptChannel(transport: FrameTransport, options: ChannelOptions & { expectedPeer?: string } = {}): Promise<SecureChannel> {
    this.#requireOpen();
    if (options.expectedPeer !== undefined) requireNodeId(options.expectedPeer, 'expectedPeer');
    return new Promise((resolve, reject) => {
      const connection = this.#inbound(transport, {
        extension: options.extension,
        expectedPeer: options.expectedPeer,
        opened: (channel) => {
          options.opened?.(channel);
          resolve(channel);
        },
      });
      const onClose = connection.transport.onClose;
      connection.transport.onClose = (error) => {
        onClose(error);
        // Once the channel has opened the promise is settled, and this rejection does nothing.
        reject(error ?? new MeshError('closed', 'the connection closed before a handshake completed'));
      };
    });
  }

  /** A record for the caller's own transport, sealed by the newest open channel with `peerId`. */
  encryptForPeer(peerId: string, plaintext: Uint8Array): Uint8Array {
    return this.#newestChannel(peerId).encrypt(plaintext);
  }

  /** Opens a record from `peerId`'s encryptForPeer (or its channel), with the channel's replay window. */
  decryptFromPeer(peerId: string, record: Uint8Array): Uint8Array {
    const newest = this.#newestChannel(peerId);
    const owner = record instanceof Uint8Array ? this.#channels.get(peerId)!.find((channel) => channel.ownsRecord(record)) : undefined;
    return (owner ?? newest).decrypt(record);
  }

  /** An ML-DSA signature over the beacon label, this node's id and `data`. */
  signBeacon(data: Uint8Array): Uint8Array {
    this.#requireOpen();
    return this.#sig.sign(this.#beacon(this.nodeId, data), this.#identity.secretKey);
  }

  /**
   * Whether `signature` is `peerId`'s beacon signature over `data`. Throws ERR_PQC_UNKNOWN_PEER
   * for a peer not trusted; with an asynchronous trust function, use verifyBeaconAsync.
   */
  verifyBeacon(data: Uint8Array, signature: Uint8Array, peerId: string): boolean {
    const peer = this.#trust.lookupSync(peerId);
    return this.#verifier(peer.sigAlgorithm).verify(this.#beacon(peerId, data), signature, peer.sigPublicKey);
  }

  async verifyBeaconAsync(data: Uint8Array, signature: Uint8Array, peerId: string): Promise<boolean> {
    const peer = await this.#trust.lookup(requireNodeId(peerId, 'peerId'));
    if (!peer) throw new MeshError('unknown_peer', `${peerId} is not a trusted peer`);
    return this.#verifier(peer.sigAlgorithm).verifyAsync(this.#beacon(peerId, data), signature, peer.sigPublicKey);
  }

  getSecurityLevel(): SecurityLevel {
    const best = this.#suites('offer')[0];
    const peersWithPq = [...this.#channels.values()].filter((list) => list.some((channel) => !channel.suiteInfo.classical)).length;
    return {
      suite: best?.name ?? null,
      kem: best?.kem ?? null,
      sig: this.#identity.algorithm,
      backend: this.#sig.backend,
      nistLevel: best?.nistLevel ?? 0,
      peersWithPq,
      fallback: this.#fallback?.isEnabled() ?? false,
    };
  }

  /** Open channels with `peerId`, oldest first. */
  channels(peerId: string): readonly SecureChannel[] {
    return [...(this.#channels.get(peerId) ?? [])];
  }

  /** Closes listeners and channels, wipes every half-open handshake and the node's copy of its secret key. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#sweepTimer);
    if (this.#fallback) {
      this.#fallback.off('expired', this.#onFallbackEnd).off('disabled', this.#onFallbackEnd);
      this.#fallback.setMaxListeners(Math.max(0, this.#fallback.getMaxListeners() - 2));
    }
    for (const connection of this.#connections) connection.close(new PqcError('ERR_PQC_CHANNEL_CLOSED', `${this.nodeId} closed`));
    this.#host.responder.close();
    await Promise.all([...this.#servers].map((server) => this.#closeServer(server)));
    // The identity is the node's own copy (create copies a given one), and nothing signs after close.
    (this.#identity.secretKey as SecretBytes).wipe();
  }

  #suites(kind: 'offer' | 'accept'): MeshSuite[] {
    const suites = this.#plans.filter((plan) => plan[kind]).map((plan) => plan.suite);
    if (this.#classical && this.#fallback?.isEnabled()) suites.push(CLASSICAL_SUITE);
    return suites;
  }

  #kem(suite: MeshSuite): Kem {
    if (suite === CLASSICAL_SUITE) return (this.#classicalKem ??= new Kem(CLASSICAL_SUITE.kem, { fallback: this.#fallback }));
    // Handshakes and rotations ask only for a suite this node offers or accepts: one of its plans.
    return this.#plans.find((candidate) => candidate.suite === suite)!.kem;
  }

  #verifier(algorithm: string): Sig {
    return sigFor(algorithm, this.#options.backend);
  }

  #beacon(nodeId: string, data: Uint8Array): Uint8Array {
    if (!(data instanceof Uint8Array)) throw new PqcError('ERR_PQC_INVALID_INPUT', 'beacon data must be a Uint8Array');
    const id = Buffer.from(nodeId);
    return concat(LABELS.beacon, Uint8Array.of(id.length), id, data);
  }

  #newestChannel(peerId: string): SecureChannel {
    const list = this.#channels.get(peerId);
    const channel = list?.[list.length - 1];
    if (!channel) throw new PqcError('ERR_PQC_NO_CHANNEL', `no open channel with ${String(peerId)}: establishSecureChannel() first`);
    return channel;
  }

  /** Fallback mode may end while a classical handshake runs: its session is then refused, not opened and closed. */
  #admit(session: Session): void {
    // A classical handshake starts only while a fallback handler is enabled (#suites).
    if (session.suite.classical && !this.#fallback!.isEnabled()) {
      session.chainKey.wipe();
      throw new MeshError('fallback_expired', 'fallback mode ended during the handshake');
    }
  }

  #handshakeSucceeded(session: Session): void {
    const seconds = (this.#clock.now() - session.startedAt) / 1000;
    this.metrics.handshakeSuccess.inc();
    this.metrics.handshakeLatency.observe(seconds);
    const peer = session.peer.nodeId;
    if (seconds > LATENCY_SLO_SECONDS) {
      this.#logger.warn(
        { event: 'pqc_handshake_slow', peer, latencySeconds: seconds, sloSeconds: LATENCY_SLO_SECONDS },
        `the handshake with ${peer} took ${(seconds * 1000).toFixed(1)} ms, over the ${LATENCY_SLO_SECONDS * 1000} ms SLO`,
      );
    }
    if (session.suite.classical) {
      this.metrics.fallbackTotal.inc({ reason: 'classical_session' });
      this.#logger.fatal(
        { event: 'pqc_classical_session', peer, suite: session.suite.name },
        `CLASSICAL SESSION with ${peer}: key exchange is X25519 only and not quantum-safe (fallback mode)`,
      );
    } else {
      // Stryker disable next-line BooleanLiteral: a pin is read only by has(); the stored value is never read
      this.#pinned.set(peer, true);
    }
    this.#logger.debug({ event: 'pqc_handshake_ok', peer, suite: session.suite.name, role: session.role }, `channel with ${peer} established`);
  }

  #handshakeFailed(reason: FailureReason, peerId: string | undefined, error: PqcError | undefined): void {
    this.metrics.handshakeFailure.inc({ reason });
    const level = QUIET_REASONS.has(reason) ? 'debug' : 'warn';
    this.#logger[level]({ event: 'pqc_handshake_failed', reason, peer: peerId ?? null, code: error?.code ?? null }, error?.message ?? `handshake failed (${reason})`);
  }

  #channelOpened(channel: SecureChannel, announce: boolean): void {
    const list = this.#channels.get(channel.peerId) ?? [];
    list.push(channel);
    this.#channels.set(channel.peerId, list);
    if (announce) this.emit('channel', channel);
  }

  #channelClosed(channel: SecureChannel): void {
    // Stryker disable next-line OptionalChaining,ArrayDeclaration: a channel closes once (SecureChannel.close), after #channelOpened listed it, so its peer has a list
    const list = this.#channels.get(channel.peerId)?.filter((open) => open !== channel) ?? [];
    // Stryker disable next-line ConditionalExpression,EqualityOperator: "true" and ">=" keep an empty list, which reads as no entry everywhere (channels(), #newestChannel, peersWithPq, the trust loops); "false" and "<=" are killed by mesh-security-channel-registry.test.ts
    if (list.length > 0) this.#channels.set(channel.peerId, list);
    else this.#channels.delete(channel.peerId);
  }

  #closeClassicalChannels(): void {
    for (const list of [...this.#channels.values()]) {
      for (const channel of [...list]) {
        if (channel.suiteInfo.classical) channel.close(new MeshError('fallback_expired', 'fallback mode ended: classical sessions end with it'));
      }
    }
  }

  /** The trusted identity of a peer we may dial, or the refusal (counted). */
  async #dialable(peerId: string): Promise<PublicKeys> {
    if (peerId === this.nodeId) {
      const error = new MeshError('reflection', 'a node cannot open a channel to itself');
      this.#handshakeFailed('reflection', peerId, error);
      throw error;
    }
    const peer = await this.#trust.lookup(peerId);
    if (!peer) {
      const error = new MeshError('unknown_peer', `${peerId} is not a trusted peer: trustPeer() it first`);
      this.#handshakeFailed('unknown_peer', peerId, error);
      throw error;
    }
    return peer;
  }

  #dial(transport: FrameTransport, peer: PublicKeys, options: ConnectionOptions): Promise<SecureChannel> {
    return this.#track(new Connection(this.#host, transport, false, options)).handshakeWith(peer);
  }

  // close() closes every server it knows of in its first, synchronous part, and listen() closes a
  // server that close() overtook before it can accept: a socket never arrives at a closed node.
  #accept(socket: Socket): void {
    this.#inbound(new FramedTransport(socketStream(socket), this.#maxFrame()), {});
  }

  #inbound(transport: FrameTransport, options: ConnectionOptions): Connection {
    const connection = new Connection(this.#host, transport, true, options);
    // A connection that never completes a handshake must not hold its transport. The timer ends
    // with the connection: left running, it would keep a closed connection alive until it fires.
    const timer = this.#clock.setTimeout(() => {
      if (!connection.channel) connection.close(new MeshError('timeout', 'no handshake in time'));
    }, this.#host.handshake.limits.timeoutMs);
    return this.#track(connection, () => this.#clock.clearTimeout(timer));
  }

  #track(connection: Connection, onEnd?: () => void): Connection {
    this.#connections.add(connection);
    const onClose = connection.transport.onClose;
    connection.transport.onClose = (error) => {
      this.#connections.delete(connection);
      onEnd?.();
      onClose(error);
    };
    return connection;
  }

  #connect(address: { host?: string; port: number }): Promise<Socket> {
    if (address === null || typeof address !== 'object' || !Number.isInteger(address.port) || address.port < 1 || address.port > 65535) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', 'the address must be { host, port } with a port from 1 to 65535');
    }
    const host = address.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port: address.port });
      const timer = this.#clock.setTimeout(() => {
        socket.destroy();
        reject(new MeshError('timeout', `cannot connect to ${host}:${address.port} in time`));
      }, this.#host.handshake.limits.timeoutMs);
      socket.once('connect', () => {
        this.#clock.clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', (error) => {
        this.#clock.clearTimeout(timer);
        reject(new PqcError('ERR_PQC_CHANNEL_CLOSED', `cannot connect to ${host}:${address.port}: ${error.message}`, { cause: error }));
      });
    });
  }

  #maxFrame(): number {
    return this.#options.maxFrameBytes ?? DEFAULT_MAX_FRAME;
  }

  #closeServer(server: Server): Promise<void> {
    if (!this.#servers.delete(server)) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  #scheduleSweep(): void {
    this.#sweepTimer = this.#clock.setTimeout(() => {
      if (this.#closed) return;
      this.#host.responder.sweep();
      this.#scheduleSweep();
    }, SWEEP_INTERVAL_MS);
  }

  #requireOpen(): void {
    if (this.#closed) throw new PqcError('ERR_PQC_CHANNEL_CLOSED', `${this.nodeId} is closed`);
  }
}

// Node's timers fire at once for delays above 2^31 - 1 ms: a larger limit would mean "now".
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `given` over `defaults`, each a positive whole number (a time in ms no longer than a timer can wait). */
function checkedLimits<T extends object>(name: string, defaults: T, given: Partial<T> | undefined): T {
  if (given !== undefined && (given === null || typeof given !== 'object')) {
    throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `${name} must be an object`);
  }
  const merged = { ...defaults, ...given } as Record<string, unknown>;
  for (const [key, value] of Object.entries(merged)) {
    if (!(key in defaults)) throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `${name}.${key} is not a known limit (${Object.keys(defaults).join(', ')})`);
    const max = key.endsWith('Ms') ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER;
    // NaN fails `> 0` and Infinity fails `<= max`: no separate finiteness check.
    if (typeof value !== 'number' || !(value > 0 && value <= max)) {
      throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `${name}.${key} must be a number above 0 and at most ${max}, got ${String(value)}`);
    }
  }
  return merged as T;
}

/** Which suites the node offers and accepts, from real key pairs on the backend. */
async function planSuites(options: PQMeshSecurityOptions, algorithm: string): Promise<{ plans: SuitePlan[]; classical: boolean }> {
  const explicit = options.suites !== undefined;
  if (explicit && (!Array.isArray(options.suites) || options.suites.length === 0)) {
    throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', 'suites must be a non-empty list of suite names');
  }
  const wanted = explicit ? options.suites!.map((suite) => (typeof suite === 'string' ? suiteByName(suite) : suite)) : DEFAULT_SUITES.filter((suite) => suite.sig === algorithm);
  for (const suite of wanted) {
    if (suite.sig !== algorithm) {
      throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `suite ${suite.name} signs with ${suite.sig}, but this node's identity is ${algorithm}`);
    }
  }
  const plans: SuitePlan[] = [];
  for (const suite of wanted.filter((candidate) => !candidate.classical)) {
    const probe = await probeSuite(suite, { backend: options.backend });
    const runs = !(probe instanceof PqcError) && probe.canInitiate && probe.canRespond;
    if (explicit && !runs) {
      const why = probe instanceof PqcError ? probe.message : probe.missing;
      throw new PqcError('ERR_PQC_UNSUPPORTED_CAPABILITY', `suite ${suite.name} cannot run on this backend: ${why}`);
    }
    if (probe instanceof PqcError || !(probe.canInitiate || probe.canRespond)) continue;
    plans.push({ suite, kem: probe.kem, offer: probe.canInitiate, accept: probe.canRespond });
  }
  const classical = explicit ? wanted.includes(CLASSICAL_SUITE) : algorithm === CLASSICAL_SUITE.sig;
  if (plans.length === 0 && !classical) {
    throw new PqcError('ERR_PQC_UNSUPPORTED_CAPABILITY', `no post-quantum suite for a ${algorithm} identity runs on this backend`);
  }
  return { plans, classical };
}
