import { afterEach, describe, expect, it, vi } from 'vitest';
import { info, ready } from '../../lib/index.js';
import { Kem } from '../../lib/kem.js';
import { PqcError } from '../../lib/errors.js';
import { MOCK_KEM_NAME, MockKemFaults } from '../../lib/policy/mock-kem.js';
import {
  CLASSICAL_SUITE,
  HIGH_SUITE,
  mockSuite,
  probeSuite,
  SUITE_NAMES,
  suiteByName,
  suiteSupport,
  X25519MLKEM768_SUITE,
  XWING_SUITE,
  type MeshSuite,
  type SuiteCapability,
} from '../../lib/mesh/suites.js';
import { expectCode } from '../support/errors.js';

await ready();

/** docs/protocol.md's suite table (id, name, KEM, signature, NIST level) and README's "only while in fallback mode". */
const DOCUMENTED = [
  { id: 0x01, name: 'XWING-MLDSA65', kem: 'X-Wing', sig: 'ML-DSA-65', nistLevel: 3, classical: false },
  { id: 0x02, name: 'X25519MLKEM768-MLDSA65', kem: 'X25519MLKEM768', sig: 'ML-DSA-65', nistLevel: 3, classical: false },
  { id: 0x03, name: 'MLKEM1024-MLDSA87', kem: 'ML-KEM-1024', sig: 'ML-DSA-87', nistLevel: 5, classical: false },
  { id: 0x40, name: 'CLASSICAL-X25519-MLDSA65', kem: 'X25519', sig: 'ML-DSA-65', nistLevel: 0, classical: true },
];

/** README's doctor output: the note on X-Wing where keys cannot be made, and on the classical suite. */
const XWING_NOTE = 'X-Wing keys need ML-KEM key generation from a seed (liboqs >= 0.13)';
const CLASSICAL_ROW = { name: 'CLASSICAL-X25519-MLDSA65', initiate: true, respond: true, note: 'only while in fallback mode' };

function capability(probe: SuiteCapability | PqcError): SuiteCapability {
  expect(probe).not.toBeInstanceOf(Error);
  return probe as SuiteCapability;
}

/** Counts the probe's KEM calls: which Kem each went to, and whether it returned or threw. */
function spyKem() {
  const keyPairs = vi.spyOn(Kem.prototype, 'generateKeyPair');
  const encapsulations = vi.spyOn(Kem.prototype, 'encapsulate');
  const outcomes = (spy: typeof keyPairs | typeof encapsulations) => spy.mock.results.map((result, i) => `${(spy.mock.contexts[i] as Kem).name} ${result.type}`);
  return { keyPairs: () => outcomes(keyPairs), encapsulations: () => outcomes(encapsulations) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('mesh suites (suites.ts)', () => {
  it('names each suite as docs/protocol.md does', () => {
    expect(SUITE_NAMES).toEqual(DOCUMENTED.map((suite) => suite.name));
    for (const documented of DOCUMENTED) expect(suiteByName(documented.name)).toMatchObject(documented);
    expect([XWING_SUITE, X25519MLKEM768_SUITE, HIGH_SUITE, CLASSICAL_SUITE].map((suite) => suite.name)).toEqual(SUITE_NAMES);
  });

  it('refuses an unknown suite name with the list of suites', () => {
    for (const name of ['XWING', 'xwing-mldsa65', '', 'MOCK-MLDSA65']) {
      const error = expectCode(() => suiteByName(name), 'ERR_PQC_INVALID_CONFIGURATION');
      expect(error.message).toBe(`unknown suite ${JSON.stringify(name)}; the suites are XWING-MLDSA65, X25519MLKEM768-MLDSA65, MLKEM1024-MLDSA87, CLASSICAL-X25519-MLDSA65`);
    }
  });

  it('makes the mock suite of docs/protocol.md (0x7e), post-quantum as far as fallback mode is concerned, over the mock backend with the faults given', () => {
    const faults = new MockKemFaults();
    const suite = mockSuite(faults);
    expect(suite).toEqual({ id: 0x7e, name: 'MOCK-MLDSA65', kem: MOCK_KEM_NAME, sig: 'ML-DSA-65', nistLevel: 0, classical: false, kemOptions: { backend: 'mock', faults } });
    expect(suite.kemOptions!.faults).toBe(faults);
  });
});

describe('suiteSupport: what doctor reports from the algorithm lists, without running anything', () => {
  const all = { kems: ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024'], sigs: ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'] };

  it('says every suite runs on liboqs >= 0.13', () => {
    expect(suiteSupport({ ...all, capabilities: { kemKeypairDerand: true } })).toEqual([
      { name: 'XWING-MLDSA65', initiate: true, respond: true },
      { name: 'X25519MLKEM768-MLDSA65', initiate: true, respond: true },
      { name: 'MLKEM1024-MLDSA87', initiate: true, respond: true },
      CLASSICAL_ROW,
    ]);
  });

  it('says X-Wing is respond only, and why, without ML-KEM key generation from a seed (README: liboqs 0.12, WebAssembly)', () => {
    expect(suiteSupport({ ...all, capabilities: { kemKeypairDerand: false } })).toEqual([
      { name: 'XWING-MLDSA65', initiate: false, respond: true, note: XWING_NOTE },
      { name: 'X25519MLKEM768-MLDSA65', initiate: true, respond: true },
      { name: 'MLKEM1024-MLDSA87', initiate: true, respond: true },
      CLASSICAL_ROW,
    ]);
  });

  it('needs both the KEM and the signature algorithm of a suite, whatever the capabilities', () => {
    const level3Off = [
      { name: 'XWING-MLDSA65', initiate: false, respond: false },
      { name: 'X25519MLKEM768-MLDSA65', initiate: false, respond: false },
    ];
    for (const kemKeypairDerand of [true, false]) {
      const capabilities = { kemKeypairDerand };
      // ML-KEM-768 without ML-DSA-65, and ML-DSA-65 without ML-KEM-768; likewise for level 5.
      expect(suiteSupport({ kems: ['ML-KEM-768', 'ML-KEM-1024'], sigs: ['ML-DSA-87'], capabilities })).toEqual([
        ...level3Off,
        { name: 'MLKEM1024-MLDSA87', initiate: true, respond: true },
        CLASSICAL_ROW,
      ]);
      expect(suiteSupport({ kems: ['ML-KEM-512'], sigs: ['ML-DSA-65', 'ML-DSA-87'], capabilities })).toEqual([
        ...level3Off,
        { name: 'MLKEM1024-MLDSA87', initiate: false, respond: false },
        CLASSICAL_ROW,
      ]);
    }
  });
});

describe(`probeSuite on the ${info().backend} backend`, () => {
  it('probes each post-quantum suite with one real key pair and one encapsulation to it', async () => {
    const xWingKeys = info().capabilities.kemKeypairDerand;
    for (const suite of [X25519MLKEM768_SUITE, HIGH_SUITE, ...(xWingKeys ? [XWING_SUITE] : [])]) {
      const kem = spyKem();
      const probe = capability(await probeSuite(suite));
      expect({ canInitiate: probe.canInitiate, canRespond: probe.canRespond, missing: probe.missing }).toEqual({ canInitiate: true, canRespond: true, missing: undefined });
      expect(probe.kem.name).toBe(suite.kem);
      expect(kem.keyPairs()).toEqual([`${suite.kem} return`]);
      expect(kem.encapsulations()).toEqual([`${suite.kem} return`]);
      vi.restoreAllMocks();
    }
  });

  it('finds X-Wing respond only where its keys cannot be made (WebAssembly), encapsulating to an X25519MLKEM768 key instead', async () => {
    const kem = spyKem();
    const probe = capability(await probeSuite(XWING_SUITE, { backend: 'wasm' }));
    expect({ canInitiate: probe.canInitiate, canRespond: probe.canRespond }).toEqual({ canInitiate: false, canRespond: true });
    expect(probe.kem.backend).toBe('wasm');
    expect(probe.missing).toContain('ML-KEM key generation from a seed');
    expect(kem.keyPairs()).toEqual(['X-Wing throw', 'X25519MLKEM768 return']);
    expect(kem.encapsulations()).toEqual(['X-Wing return']);
  });

  it('returns the error, not a capability, for a KEM the backend does not have', async () => {
    const unknown: MeshSuite = { ...X25519MLKEM768_SUITE, kem: 'NO-SUCH-KEM' };
    const probe = await probeSuite(unknown);
    expect(probe).toBeInstanceOf(PqcError);
    expect((probe as PqcError).code).toBe('ERR_PQC_UNSUPPORTED_ALGORITHM');
  });

  // Fault injection: the mock KEM's failures stand in for a backend's, to reach the probe's refusals.
  it('finds a suite whose key generation fails able to do neither, with key generation’s error, and encapsulates to no key', async () => {
    const kem = spyKem();
    const probe = capability(await probeSuite(mockSuite(new MockKemFaults().inject('fail', { op: 'keypair' }))));
    expect({ canInitiate: probe.canInitiate, canRespond: probe.canRespond, missing: probe.missing }).toEqual({
      canInitiate: false,
      canRespond: false,
      missing: `${MOCK_KEM_NAME}: injected failure in keypair`,
    });
    expect(kem.keyPairs()).toEqual([`${MOCK_KEM_NAME} throw`]);
    expect(kem.encapsulations()).toEqual([]);
  });

  it('finds a suite whose encapsulation fails able to initiate only, with encapsulation’s error', async () => {
    const probe = capability(await probeSuite(mockSuite(new MockKemFaults().inject('fail', { op: 'encaps' }))));
    expect({ canInitiate: probe.canInitiate, canRespond: probe.canRespond, missing: probe.missing }).toEqual({
      canInitiate: true,
      canRespond: false,
      missing: `${MOCK_KEM_NAME}: injected failure in encaps`,
    });
  });
});
