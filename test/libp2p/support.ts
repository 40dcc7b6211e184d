import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Registry } from 'prom-client';
import { PQMeshSecurity, type PQMeshSecurityOptions, type PublicKeys } from '../../lib/mesh/index.js';
import { silentLogger } from '../mesh/support.js';

const major = Number(process.versions.node.split('.')[0]);
/** Why the libp2p tests do not run here, or undefined where they do. */
export const LIBP2P_SKIP =
  major >= 22 ? undefined : `libp2p 3 needs Node >= 22 (this is ${process.version}): npm run test:libp2p runs these tests on Node 26`;

export interface Libp2pPeer {
  privateKey: PrivateKey;
  peerId: PeerId;
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
    const mesh = await PQMeshSecurity.create({ logger: silentLogger, registry, trustedPeers: (id) => directory.get(id), ...options, nodeId: peerId.toString() });
    directory.set(peerId.toString(), mesh.getPublicKeys());
    peers.push({ privateKey, peerId, mesh });
  }
  return { peers, directory, registry };
}
