import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Registry } from 'prom-client';
import { PQMeshSecurity, generateIdentity, type MeshIdentity, type PQMeshSecurityOptions, type PublicKeys } from '../../lib/mesh/index.js';
import { silentLogger } from '../mesh/support.js';

const major = Number(process.versions.node.split('.')[0]);
/** Why the libp2p tests do not run here, or undefined where they do. */
export const LIBP2P_SKIP =
  major >= 22 ? undefined : `libp2p 3 needs Node >= 22 (this is ${process.version}): npm run test:libp2p runs these tests on Node 26`;

export interface Libp2pPeer {
  privateKey: PrivateKey;
  peerId: PeerId;
  /** The ML-DSA identity (the mesh holds its own copy). */
  identity: MeshIdentity;
  mesh: PQMeshSecurity;
}

/**
 * `count` libp2p identities, each with a PQMeshSecurity whose node id is its PeerId and whose
 * trust store asks `directory`: the ML-DSA keys accepted for each PeerId.
 */
export async function libp2pPeers(count: number, options: Partial<PQMeshSecurityOptions> = {}, directory = new Map<string, PublicKeys>()) {
  const registry = options.registry ?? new Registry();
  const peers: Libp2pPeer[] = [];
  for (let i = 0; i < count; i++) {
    const privateKey = await generateKeyPair('Ed25519');
    const peerId = peerIdFromPrivateKey(privateKey);
    const identity = await generateIdentity();
    const mesh = await PQMeshSecurity.create({
      logger: silentLogger,
      registry,
      trustedPeers: (id) => directory.get(id),
      identity,
      // As the libp2p upgrade timeouts below: slow handshakes on a loaded machine are not what is under test.
      limits: { timeoutMs: 30_000 },
      ...options,
      nodeId: peerId.toString(),
    });
    directory.set(peerId.toString(), mesh.getPublicKeys());
    peers.push({ privateKey, peerId, identity, mesh });
  }
  return { peers, directory, registry };
}

export interface NodeOptions {
  /** Services besides identify and ping (gossipsub, for one). */
  services?: Record<string, unknown>;
  /** Peers whose connections are refused once encrypted (a partition). */
  blocked?: Set<string>;
  /** Also offer @chainsafe/libp2p-noise (for comparisons). */
  encrypters?: 'pq' | 'noise';
}

/** A libp2p node on loopback TCP with yamux, identify and ping, secured by the peer's mesh (or by Noise). */
export async function startNode(peer: Libp2pPeer, options: NodeOptions = {}) {
  const [{ createLibp2p }, { tcp }, { yamux }, { identify }, { ping }, { pqMeshEncrypter }] = await Promise.all([
    import('libp2p'),
    import('@libp2p/tcp'),
    import('@libp2p/yamux'),
    import('@libp2p/identify'),
    import('@libp2p/ping'),
    import('../../lib/libp2p/index.js'),
  ]);
  const encrypter = options.encrypters === 'noise' ? (await import('@chainsafe/libp2p-noise')).noise() : pqMeshEncrypter({ mesh: peer.mesh });
  const blocked = options.blocked;
  const deny = (remote: PeerId) => blocked?.has(remote.toString()) ?? false;
  return createLibp2p({
    privateKey: peer.privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [encrypter],
    streamMuxers: [yamux()],
    // The gater is asked once the remote peer is known (libp2p does not close open connections for it).
    connectionGater: { denyDialPeer: deny, denyInboundEncryptedConnection: deny, denyOutboundEncryptedConnection: deny },
    // Handshakes on the WebAssembly backend of a loaded 2-core machine can take seconds.
    // Every node is on 127.0.0.1, which libp2p would let open only 5 inbound connections a second.
    connectionManager: { dialTimeout: 30_000, addressDialTimeout: 30_000, inboundUpgradeTimeout: 30_000, inboundConnectionThreshold: 1e6 },
    // libp2p's own pings of each connection would race the tests' (one ping stream per connection).
    connectionMonitor: { enabled: false },
    services: { identify: identify(), ping: ping(), ...options.services } as never,
  });
}
