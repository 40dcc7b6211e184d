import suite from '@libp2p/interface-compliance-tests/connection-encryption';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Registry } from 'prom-client';
import { ready } from '../../lib/index.js';
import { pqMeshEncrypter } from '../../lib/libp2p/index.js';
import { PQMeshSecurity, type PublicKeys } from '../../lib/mesh/index.js';
import { silentLogger } from '../mesh/support.js';
import { LIBP2P_SKIP } from '../libp2p/support.js';

await ready();

/**
 * libp2p's connection-encryption compliance suite, unchanged, against pqMeshEncrypter: each
 * encrypter the suite sets up gets a mesh node whose id is its PeerId, and all of them trust
 * each other's ML-DSA keys through one directory (the suite's third peer, its "man in the
 * middle", has none).
 */
const directory = new Map<string, PublicKeys>();
const meshes: PQMeshSecurity[] = [];

if (LIBP2P_SKIP) describe.skip(`libp2p connection-encryption compliance (skipped: ${LIBP2P_SKIP})`, () => {});
else
  suite({
    async setup(options?: { privateKey?: PrivateKey }) {
      const privateKey = options!.privateKey!;
      const nodeId = peerIdFromPrivateKey(privateKey).toString();
      const mesh = await PQMeshSecurity.create({ nodeId, logger: silentLogger, registry: new Registry(), trustedPeers: (id) => directory.get(id) });
      directory.set(nodeId, mesh.getPublicKeys());
      meshes.push(mesh);
      return pqMeshEncrypter({ mesh })({ privateKey });
    },
    async teardown() {
      await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
    },
  });
