import { Kem, type KemOptions } from '../kem.js';
import { PqcError } from '../errors.js';
import type { MockKemFaults } from '../policy/mock-kem.js';
import { MOCK_KEM_NAME } from '../policy/mock-kem.js';
import { X25519_KEM_NAME } from '../policy/x25519-kem.js';

/**
 * A handshake suite: the ephemeral KEM both sides run once per handshake (and once per key
 * rotation) and the ML-DSA parameter set of both identities. The AEAD (AES-256-GCM) and the
 * hash (SHA-384, for the transcript and HKDF) are the same in every suite.
 */
export interface MeshSuite {
  /** The byte that names the suite on the wire. */
  readonly id: number;
  readonly name: string;
  readonly kem: string;
  readonly sig: string;
  /** NIST security category of the weaker part; 0 for the classical suite. */
  readonly nistLevel: number;
  /** Key exchange without post-quantum security: only in fallback mode. */
  readonly classical: boolean;
  readonly kemOptions?: KemOptions;
}

export const XWING_SUITE: MeshSuite = { id: 0x01, name: 'XWING-MLDSA65', kem: 'X-Wing', sig: 'ML-DSA-65', nistLevel: 3, classical: false };
export const X25519MLKEM768_SUITE: MeshSuite = {
  id: 0x02,
  name: 'X25519MLKEM768-MLDSA65',
  kem: 'X25519MLKEM768',
  sig: 'ML-DSA-65',
  nistLevel: 3,
  classical: false,
};
export const HIGH_SUITE: MeshSuite = { id: 0x03, name: 'MLKEM1024-MLDSA87', kem: 'ML-KEM-1024', sig: 'ML-DSA-87', nistLevel: 5, classical: false };
/** Fallback mode's suite: classical key exchange, still authenticated by the nodes' ML-DSA keys. */
export const CLASSICAL_SUITE: MeshSuite = {
  id: 0x40,
  name: 'CLASSICAL-X25519-MLDSA65',
  kem: X25519_KEM_NAME,
  sig: 'ML-DSA-65',
  nistLevel: 0,
  classical: true,
};

const SUITES = [XWING_SUITE, X25519MLKEM768_SUITE, HIGH_SUITE, CLASSICAL_SUITE];
export const SUITE_NAMES: readonly string[] = SUITES.map((suite) => suite.name);
const MOCK_SUITE_ID = 0x7e;

/**
 * A suite over the insecure mock KEM, for fault-injection tests only (broken KEM, wrong
 * secret): the mock's production ban applies, and no default ever contains it.
 */
export function mockSuite(faults?: MockKemFaults): MeshSuite {
  return {
    id: MOCK_SUITE_ID,
    name: 'MOCK-MLDSA65',
    kem: MOCK_KEM_NAME,
    sig: 'ML-DSA-65',
    nistLevel: 0,
    classical: false,
    kemOptions: { backend: 'mock', faults },
  };
}

export function suiteByName(name: string): MeshSuite {
  const suite = SUITES.find((candidate) => candidate.name === name);
  if (!suite) {
    throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `unknown suite ${JSON.stringify(name)}; the suites are ${SUITE_NAMES.join(', ')}`);
  }
  return suite;
}

/** What this backend can do with a suite's KEM: make ephemeral keys (initiate), encapsulate (respond). */
export interface SuiteCapability {
  suite: MeshSuite;
  kem: Kem;
  canInitiate: boolean;
  canRespond: boolean;
  /** Why not, when it cannot do both. */
  missing?: string;
}

/** Probes `suite` on the selected backend with one real key pair and encapsulation. */
export async function probeSuite(suite: MeshSuite, kemOptions: KemOptions = {}): Promise<SuiteCapability | PqcError> {
  let kem: Kem;
  try {
    kem = new Kem(suite.kem, { ...kemOptions, ...suite.kemOptions });
    await kem.ready();
  } catch (error) {
    return PqcError.from(error);
  }
  const capability: SuiteCapability = { suite, kem, canInitiate: true, canRespond: true };
  let publicKey: Uint8Array | undefined;
  try {
    publicKey = kem.generateKeyPair().publicKey;
  } catch (error) {
    capability.canInitiate = false;
    capability.missing = PqcError.from(error).message;
  }
  try {
    // X-Wing keys need ML-KEM key generation from a seed, which liboqs < 0.13 and the WebAssembly
    // build lack, while encapsulating to an X-Wing key works everywhere. The probe's own key then
    // comes from X25519MLKEM768: X-Wing's public key is ML-KEM-768's ‖ X25519's, as
    // X25519MLKEM768's is (same parts, same order).
    if (suite.kem === 'X-Wing' && !publicKey) publicKey = new Kem('X25519MLKEM768', kemOptions).generateKeyPair().publicKey;
    if (publicKey) kem.encapsulate(publicKey);
    else capability.canRespond = false;
  } catch (error) {
    capability.canRespond = false;
    capability.missing ??= PqcError.from(error).message;
  }
  return capability;
}

export interface SuiteSupport {
  name: string;
  /** Can make the suite's ephemeral keys: offer it as initiator. */
  initiate: boolean;
  /** Can encapsulate to them: accept it as responder. */
  respond: boolean;
  note?: string;
}

/**
 * Which suites a backend runs, from its algorithm list and capabilities, without running
 * anything (for `doctor`); `PQMeshSecurity.create` probes with real key pairs instead.
 */
export function suiteSupport(backend: { kems: string[]; sigs: string[]; capabilities: { kemKeypairDerand: boolean } }): SuiteSupport[] {
  const has = (kem: string, sig: string) => backend.kems.includes(kem) && backend.sigs.includes(sig);
  const level3 = has('ML-KEM-768', 'ML-DSA-65');
  return [
    {
      name: XWING_SUITE.name,
      initiate: level3 && backend.capabilities.kemKeypairDerand,
      respond: level3,
      ...(level3 && !backend.capabilities.kemKeypairDerand ? { note: 'X-Wing keys need ML-KEM key generation from a seed (liboqs >= 0.13)' } : {}),
    },
    { name: X25519MLKEM768_SUITE.name, initiate: level3, respond: level3 },
    { name: HIGH_SUITE.name, initiate: has('ML-KEM-1024', 'ML-DSA-87'), respond: has('ML-KEM-1024', 'ML-DSA-87') },
    { name: CLASSICAL_SUITE.name, initiate: true, respond: true, note: 'only while in fallback mode' },
  ];
}
