import {
  serviceCapabilities,
  UnexpectedPeerError,
  type ConnectionEncrypter,
  type MessageStream,
  type PrivateKey,
  type SecureConnectionOptions,
  type SecuredConnection,
  type StreamMuxerFactory,
} from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { PqcError } from '../errors.js';
import { MeshError } from '../mesh/failure.js';
import { DEFAULT_MAX_FRAME, FramedTransport } from '../mesh/frame-transport.js';
import type { ChannelOptions, PQMeshSecurity } from '../mesh/mesh-security.js';
import type { SecureChannel } from '../mesh/secure-channel.js';
import { libp2pBinding, type ProvenPeer } from './binding.js';
import { MessageStreamBytes } from './message-stream-bytes.js';
import { SecuredStream } from './secured-stream.js';

/** The protocol id libp2p negotiates (multistream-select) before our handshake. */
export const PQ_MESH_PROTOCOL = '/x0tta6bl4-pq/1.0.0';

export interface PQMeshEncrypterOptions {
  /**
   * The node's post-quantum security: its ML-DSA identity and trust store. Its nodeId must be
   * the node's PeerId (as a string), and its trusted peers are keyed by PeerId: that is the
   * trust policy of which ML-DSA key is accepted for which PeerId (a list, or a function).
   */
  mesh: PQMeshSecurity;
  /** Default PQ_MESH_PROTOCOL. */
  protocol?: string;
}

/** What the encrypter takes from libp2p's components. */
export interface PQMeshEncrypterComponents {
  privateKey: PrivateKey;
  upgrader?: { getStreamMuxers(): Map<string, StreamMuxerFactory> };
}

/**
 * A libp2p connection encrypter that runs the x0tta6bl4-pq/1 handshake and record layer of
 * `mesh` (docs/protocol.md), with each side's libp2p key bound to its ML-DSA identity and the
 * transcript, and the stream muxer chosen inside the handshake when libp2p asks for it.
 */
export function pqMeshEncrypter(options: PQMeshEncrypterOptions): (components: PQMeshEncrypterComponents) => ConnectionEncrypter {
  if (options === null || typeof options !== 'object' || typeof options.mesh?.openChannel !== 'function') {
    throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', 'pqMeshEncrypter takes { mesh }, a PQMeshSecurity');
  }
  return (components) => new PQMeshEncrypter(options, components);
}

class PQMeshEncrypter implements ConnectionEncrypter {
  readonly protocol: string;
  readonly [Symbol.toStringTag] = 'x0tta6bl4-pqc/libp2p';
  readonly [serviceCapabilities] = ['@libp2p/connection-encryption'];
  readonly #mesh: PQMeshSecurity;
  readonly #components: PQMeshEncrypterComponents;

  constructor(options: PQMeshEncrypterOptions, components: PQMeshEncrypterComponents) {
    this.protocol = options.protocol ?? PQ_MESH_PROTOCOL;
    this.#mesh = options.mesh;
    this.#components = components;
    const peerId = peerIdFromPrivateKey(components.privateKey).toString();
    if (peerId !== options.mesh.nodeId) {
      throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `the mesh node's id must be its libp2p PeerId ${peerId}, not ${options.mesh.nodeId}`);
    }
  }

  async secureOutbound(connection: MessageStream, options: SecureConnectionOptions = {}): Promise<SecuredConnection> {
    const remotePeer = options.remotePeer;
    if (!remotePeer) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `${this.protocol} dials known peers only: dial a multiaddr that ends in /p2p/<PeerId>, or the PeerId`);
    }
    const muxers = this.#muxers(options);
    const { channel, secured } = await this.#secure(connection, muxers, options, (transport, channelOptions) =>
      this.#mesh.openChannel(transport, remotePeer.toString(), channelOptions),
    );
    const proven = channel.extension as ProvenPeer;
    return this.#secured(secured, proven, chooseMuxer(muxers, proven.muxers));
  }

  async secureInbound(connection: MessageStream, options: SecureConnectionOptions = {}): Promise<SecuredConnection> {
    const muxers = this.#muxers(options);
    const expectedPeer = options.remotePeer?.toString();
    const { channel, secured } = await this.#secure(connection, muxers, options, (transport, channelOptions) =>
      this.#mesh.acceptChannel(transport, { ...channelOptions, expectedPeer }),
    );
    const proven = channel.extension as ProvenPeer;
    return this.#secured(secured, proven, chooseMuxer(proven.muxers, muxers));
  }

  /** The stream muxers this side offers: none when libp2p negotiates them itself. */
  #muxers(options: SecureConnectionOptions): string[] {
    if (options.skipStreamMuxerNegotiation === true) return [];
    return [...(this.#components.upgrader?.getStreamMuxers().keys() ?? [])];
  }

  async #secure(
    connection: MessageStream,
    muxers: string[],
    options: SecureConnectionOptions,
    handshake: (transport: FramedTransport, options: ChannelOptions) => Promise<SecureChannel>,
  ): Promise<{ channel: SecureChannel; secured: SecuredStream }> {
    const bytes = new MessageStreamBytes(connection);
    const transport = new FramedTransport(bytes, DEFAULT_MAX_FRAME);
    const extension = libp2pBinding(this.#components.privateKey, this.#mesh.getPublicKeys(), muxers);
    // Made as the channel opens: what the peer sends right after the handshake (often in the
    // same TCP segment as its last handshake message) is buffered for libp2p, not missed.
    let secured: SecuredStream | undefined;
    const opened = (channel: SecureChannel) => (secured = new SecuredStream(channel, transport, bytes));
    const signal = options.signal;
    signal?.throwIfAborted();
    const onAbort = () => transport.close(new MeshError('closed', 'the handshake was aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const channel = await handshake(transport, { extension, opened });
      return { channel, secured: secured! };
    } catch (error) {
      signal?.throwIfAborted();
      throw libp2pError(error);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #secured(secured: SecuredStream, proven: ProvenPeer, muxer: string | undefined): SecuredConnection {
    return {
      connection: secured,
      remotePeer: proven.peerId,
      streamMuxer: muxer === undefined ? undefined : this.#components.upgrader?.getStreamMuxers().get(muxer),
    };
  }
}

/** Early muxer negotiation: the initiator's first choice that the responder offers, the same on both sides. */
function chooseMuxer(initiator: readonly string[], responder: readonly string[]): string | undefined {
  return initiator.find((protocol) => responder.includes(protocol));
}

/**
 * A peer that is not the one expected, or whose ML-DSA key is not trusted for its PeerId, is
 * libp2p's UnexpectedPeerError (the mesh's error is its cause); other failures stay PqcErrors.
 */
function libp2pError(error: unknown): unknown {
  if (!(error instanceof MeshError) || error.reason !== 'unknown_peer') return error;
  const unexpected = new UnexpectedPeerError(error.message);
  unexpected.cause = error;
  return unexpected;
}
