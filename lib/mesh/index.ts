export { PQMeshSecurity, type PQMeshSecurityOptions, type MeshListener, type SecurityLevel, type PQMeshSecurityEvents } from './mesh-security.js';
export { SecureChannel, type SecureChannelEvents } from './secure-channel.js';
export { generateIdentity, loadIdentity, saveIdentity, parsePublicKeys, type MeshIdentity, type PublicKeys, type PublicKeysJson } from './identity.js';
export type { TrustedPeers } from './trust-store.js';
export { SUITE_NAMES, type MeshSuite } from './suites.js';
export { FAILURE_REASONS, MeshError, type FailureReason } from './failure.js';
export { DEFAULT_HANDSHAKE_LIMITS, type HandshakeLimits } from './handshake.js';
export { DEFAULT_REKEY_LIMITS, type RekeyLimits } from './record-layer.js';
