export { pqMeshEncrypter, PQ_MESH_PROTOCOL, type PQMeshEncrypterOptions, type PQMeshEncrypterComponents } from './encrypter.js';
export type { ProvenPeer } from './binding.js';
