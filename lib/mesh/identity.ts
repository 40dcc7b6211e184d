import { createHash } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { inspect } from 'node:util';
import { SecretBytes } from '../bytes.js';
import { PqcError } from '../errors.js';
import { Sig } from '../sig.js';
import { WireReader, WireWriter } from './wire.js';

/** A node's long-term signing key: ML-DSA-65 unless told otherwise. */
export interface MeshIdentity {
  readonly algorithm: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** What a node publishes of itself, and what a trust store holds of a peer. */
export interface PublicKeys {
  readonly nodeId: string;
  readonly sigAlgorithm: string;
  readonly sigPublicKey: Uint8Array;
  /** 32 hex digits: SHA-256 of the algorithm and key, for logs and for comparing keys by eye. */
  readonly keyId: string;
}

/** PublicKeys as JSON carries them: the key in hex. */
export interface PublicKeysJson {
  nodeId: string;
  sigAlgorithm: string;
  sigPublicKey: string;
  keyId?: string;
}

export type PeerIdentity = PublicKeys;

export const DEFAULT_IDENTITY_ALGORITHM = 'ML-DSA-65';
export const IDENTITY_ALGORITHMS = ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'];
const MAX_NODE_ID_BYTES = 255;
// Control characters would let a node id forge log lines.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function requireNodeId(value: unknown, name = 'nodeId'): string {
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > MAX_NODE_ID_BYTES || CONTROL.test(value) || Buffer.from(value).toString() !== value) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `${name} must be a string of 1 to ${MAX_NODE_ID_BYTES} UTF-8 bytes without control characters`);
  }
  return value;
}

export function keyIdOf(algorithm: string, publicKey: Uint8Array): string {
  return createHash('sha256').update(`x0tta6bl4-pq/1 key id ${algorithm}\0`).update(publicKey).digest('hex').slice(0, 32);
}

function requireAlgorithm(value: unknown): string {
  if (typeof value !== 'string' || !IDENTITY_ALGORITHMS.includes(value)) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `the identity algorithm must be one of ${IDENTITY_ALGORITHMS.join(', ')}, got ${String(value)}`);
  }
  return value;
}

const PUBLIC_KEY_LENGTH: Record<string, number> = { 'ML-DSA-44': 1312, 'ML-DSA-65': 1952, 'ML-DSA-87': 2592 };
const SECRET_KEY_LENGTH: Record<string, number> = { 'ML-DSA-44': 2560, 'ML-DSA-65': 4032, 'ML-DSA-87': 4896 };
/** FIPS 204 Table 2: an ML-DSA signature has one length per parameter set. */
export const SIGNATURE_LENGTH: Record<string, number> = { 'ML-DSA-44': 2420, 'ML-DSA-65': 3309, 'ML-DSA-87': 4627 };

/** Public keys, frozen, with `toJSON` giving the hex form. */
export function publicKeys(nodeId: string, sigAlgorithm: string, sigPublicKey: Uint8Array): PublicKeys {
  const algorithm = requireAlgorithm(sigAlgorithm);
  if (!(sigPublicKey instanceof Uint8Array) || sigPublicKey.length !== PUBLIC_KEY_LENGTH[algorithm]) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `sigPublicKey must be a ${algorithm} public key of ${PUBLIC_KEY_LENGTH[algorithm]} bytes`);
  }
  const key = Uint8Array.from(sigPublicKey);
  const keyId = keyIdOf(algorithm, key);
  return Object.freeze({
    nodeId: requireNodeId(nodeId),
    sigAlgorithm: algorithm,
    sigPublicKey: key,
    keyId,
    toJSON: (): PublicKeysJson => ({ nodeId, sigAlgorithm: algorithm, sigPublicKey: Buffer.from(key).toString('hex'), keyId }),
  });
}

/** Public keys from either form (bytes or hex); a given keyId must match the key. */
export function parsePublicKeys(value: unknown): PublicKeys {
  if (value === null || typeof value !== 'object') {
    throw new PqcError('ERR_PQC_INVALID_INPUT', 'public keys must be an object { nodeId, sigAlgorithm, sigPublicKey }');
  }
  const given = value as { nodeId?: unknown; sigAlgorithm?: unknown; sigPublicKey?: unknown; keyId?: unknown };
  let key: unknown = given.sigPublicKey;
  if (typeof key === 'string') {
    if (!/^(?:[0-9a-f]{2})+$/i.test(key)) throw new PqcError('ERR_PQC_INVALID_INPUT', 'sigPublicKey must be hex or a Uint8Array');
    key = Uint8Array.from(Buffer.from(key, 'hex'));
  }
  const keys = publicKeys(given.nodeId as string, given.sigAlgorithm as string, key as Uint8Array);
  if (given.keyId !== undefined && given.keyId !== keys.keyId) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `keyId ${String(given.keyId)} does not match the key (${keys.keyId})`);
  }
  return keys;
}

/** An identity whose secret key stays out of logs, `inspect` and JSON. */
function identity(algorithm: string, publicKey: Uint8Array, secretKey: SecretBytes): MeshIdentity {
  const shown = () => `[MeshIdentity ${algorithm} ${keyIdOf(algorithm, publicKey)}]`;
  return Object.freeze({ algorithm, publicKey, secretKey, toString: shown, toJSON: shown, [inspect.custom]: shown });
}

/** A new identity on the selected backend. */
export async function generateIdentity(algorithm: string = DEFAULT_IDENTITY_ALGORITHM): Promise<MeshIdentity> {
  const sig = new Sig(requireAlgorithm(algorithm));
  await sig.ready();
  const pair = await sig.generateKeyPairAsync();
  return identity(algorithm, pair.publicKey, pair.secretKey);
}

/** Checks a caller's identity: a known algorithm and keys of its lengths. */
export function requireIdentity(value: unknown): MeshIdentity {
  const given = value as Partial<MeshIdentity> | null;
  if (given === null || typeof given !== 'object') throw new PqcError('ERR_PQC_INVALID_INPUT', 'identity must be { algorithm, publicKey, secretKey }');
  const algorithm = requireAlgorithm(given.algorithm ?? DEFAULT_IDENTITY_ALGORITHM);
  const { publicKey, secretKey } = given;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH[algorithm]) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `identity.publicKey must be a ${algorithm} public key of ${PUBLIC_KEY_LENGTH[algorithm]} bytes`);
  }
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_LENGTH[algorithm]) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `identity.secretKey must be a ${algorithm} secret key of ${SECRET_KEY_LENGTH[algorithm]} bytes`);
  }
  return identity(algorithm, Uint8Array.from(publicKey), SecretBytes.copyOf(secretKey));
}

const FILE_MAGIC = Buffer.from('x0tta6bl4-pq identity 1\n');

/**
 * Writes `id` to `path` with mode 0600 (through a temporary file and a rename, so a crash
 * leaves the old file or the new one). The format is binary, so the secret key never becomes
 * a JS string: magic ‖ u8 len ‖ algorithm ‖ u16 len ‖ public key ‖ u16 len ‖ secret key.
 */
export async function saveIdentity(path: string, id: MeshIdentity): Promise<void> {
  const checked = requireIdentity(id);
  const bytes = new WireWriter()
    .raw(FILE_MAGIC)
    .short(Buffer.from(checked.algorithm))
    .long(checked.publicKey)
    .long(checked.secretKey)
    .finish();
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.chmod(0o600); // the umask cannot widen it, but make it explicit
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `cannot write the identity file ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    bytes.fill(0);
    (checked.secretKey as SecretBytes).wipe();
  }
}

/** Reads what `saveIdentity` wrote; refuses a file that its group or others may read or write. */
export async function loadIdentity(path: string): Promise<MeshIdentity> {
  let bytes: Buffer;
  try {
    const file = await open(path, 'r');
    try {
      const { mode } = await file.stat();
      if ((mode & 0o077) !== 0) {
        throw new PqcError(
          'ERR_PQC_INSECURE_KEY_FILE',
          `the identity file ${path} has mode ${(mode & 0o777).toString(8)}: others may read it; chmod 600 it (and consider the key exposed)`,
        );
      }
      bytes = await file.readFile();
    } finally {
      await file.close();
    }
  } catch (error) {
    if (error instanceof PqcError) throw error;
    throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `cannot read the identity file ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const wire = new WireReader(bytes, 'the identity file');
    if (!FILE_MAGIC.equals(wire.bytesOf(FILE_MAGIC.length, 'the magic'))) throw new Error('not an identity file');
    const algorithm = Buffer.from(wire.short('the algorithm', 1, 32)).toString();
    const publicKey = wire.long('the public key', 1, 0xffff);
    const secretKey = wire.long('the secret key', 1, 0xffff);
    wire.end();
    return requireIdentity({ algorithm, publicKey, secretKey });
  } catch (error) {
    throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `${path} is not a valid identity file: ${(error as Error).message}`);
  } finally {
    bytes.fill(0);
  }
}
