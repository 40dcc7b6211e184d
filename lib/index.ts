export { info, ready, type Info, type BackendChoice } from './backend.js';
export { Kem, type KemKeyPair, type Encapsulation, type KemOptions } from './kem.js';
export { Sig, type SigKeyPair, type SignOptions } from './sig.js';
export { PqcError, type PqcErrorCode } from './errors.js';
export { SecretBytes } from './bytes.js';
