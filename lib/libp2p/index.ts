export { pqMeshEncrypter, PQ_MESH_PROTOCOL, type PQMeshEncrypterOptions, type PQMeshEncrypterComponents } from './encrypter.js';
export type { ProvenPeer } from './binding.js';
export {
  ControlPlaneGossip,
  controlPlaneGossipsubOptions,
  envelopeMessageId,
  CONTROL_PLANE_TOPIC,
  GOSSIP_VERDICTS,
  type ControlPlaneGossipOptions,
} from './gossip.js';
