import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Op } from '../../lib/engine.js';
import { Kem } from '../../lib/kem.js';
import { MOCK_KEM_NAME, MockKemEngine, MockKemFaults } from '../../lib/policy/mock-kem.js';
import { info } from '../../lib/policy/policy-info.js';
import { processPolicy } from '../../lib/policy/process-policy.js';
import { Sig } from '../../lib/sig.js';
import { runInChild, toHex } from '../support/environment.js';
import { expectIntoCallsAgree } from '../support/kem-properties.js';
import { captureLogger } from './support.js';

const mock = (faults?: MockKemFaults) => new Kem(MOCK_KEM_NAME, { backend: 'mock', faults });
const seed = (byte: number) => new Uint8Array(32).fill(byte);
const VARIABLES = ['X0TTA6BL4_PRODUCTION', 'X0TTA6BL4_ALLOW_MOCK_PQC'];

let captured: ReturnType<typeof captureLogger>;
const saved = { ...processPolicy };

beforeEach(() => {
  captured = captureLogger();
  processPolicy.logger = captured.logger;
});

afterEach(() => {
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(processPolicy, saved);
});

describe('the mock KEM (SimplifiedNTRU)', () => {
  it('round-trips, and is deterministic from its seeds', () => {
    const kem = mock();
    expect(kem.backend).toBe('mock');
    const { publicKey, secretKey } = kem.generateKeyPair({ seed: seed(1) });
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey, { seed: seed(2) });
    expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));

    const again = kem.generateKeyPair({ seed: seed(1) });
    expect(toHex(again.publicKey)).toBe(toHex(publicKey));
    expect(toHex(kem.encapsulate(publicKey, { seed: seed(2) }).ciphertext)).toBe(toHex(ciphertext));
    expect(toHex(kem.generateKeyPair().publicKey)).not.toBe(toHex(publicKey));
  });

  it('has no security: the public key alone recovers the shared secret', () => {
    const kem = mock();
    const { publicKey } = kem.generateKeyPair();
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    // An attacker's "secret key": any 32 bytes, then the public key.
    const forged = new Uint8Array(64);
    forged.set(publicKey, 32);
    expect(toHex(kem.decapsulate(ciphertext, forged))).toBe(toHex(sharedSecret));
  });

  it("serves the …Into calls, writing into the caller's buffers", () => {
    expectIntoCallsAgree(mock());
  });

  it('runs the async and batch methods', async () => {
    const kem = mock();
    const pairs = await kem.generateKeyPairMany(3);
    const encs = await kem.encapsulateMany(pairs.map((p) => p.publicKey));
    const secrets = await kem.decapsulateMany(
      encs.map((e) => e.ciphertext),
      pairs.map((p) => p.secretKey),
    );
    expect(secrets.map(toHex)).toEqual(encs.map((e) => toHex(e.sharedSecret)));
  });

  describe('faults on demand', () => {
    it("'fail' makes the next operation throw, then stops", () => {
      const faults = new MockKemFaults().inject('fail', { op: 'encaps' });
      const kem = mock(faults);
      const { publicKey } = kem.generateKeyPair();
      expect(() => kem.encapsulate(publicKey)).toThrow(expect.objectContaining({ code: 'ERR_PQC_OPERATION_FAILED' }));
      expect(faults.pending).toBe(0);
      expect(() => kem.encapsulate(publicKey)).not.toThrow();
    });

    it("'corrupt' damages what crosses the wire, so the peers disagree", () => {
      for (const op of ['keypair', 'encaps'] as const) {
        const kem = mock(new MockKemFaults().inject('corrupt', { op }));
        const { publicKey, secretKey } = kem.generateKeyPair();
        const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
        expect(toHex(kem.decapsulate(ciphertext, secretKey)), op).not.toBe(toHex(sharedSecret));
      }
    });

    it("'wrong-secret' returns a non-matching shared secret, for as many operations as asked", () => {
      const kem = mock(new MockKemFaults().inject('wrong-secret', { op: 'decaps', times: 2 }));
      const { publicKey, secretKey } = kem.generateKeyPair();
      const outcomes = [1, 2, 3].map(() => {
        const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
        return toHex(kem.decapsulate(ciphertext, secretKey)) === toHex(sharedSecret);
      });
      expect(outcomes).toEqual([false, false, true]);
    });

    it('applies faults in the order planned, each to the operations it fits', () => {
      const faults = new MockKemFaults().inject('wrong-secret').inject('fail');
      const kem = mock(faults);
      expect(() => kem.generateKeyPair()).toThrow(/injected failure in keypair/);
      const { publicKey, secretKey } = kem.generateKeyPair();
      const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
      expect(toHex(kem.decapsulate(ciphertext, secretKey))).not.toBe(toHex(sharedSecret));
      expect(faults.pending).toBe(0);
    });

    it('rejects a fault that cannot apply, and faults on a real backend', () => {
      expect(() => new MockKemFaults().inject('corrupt', { op: 'decaps' })).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
      expect(() => new MockKemFaults().inject('explode' as 'fail')).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
      expect(() => new MockKemFaults().inject('fail', { times: 0 })).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
      expect(() => new Kem('ML-KEM-768', { faults: new MockKemFaults() })).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
    });
  });
});

describe('the production ban', () => {
  // [X0TTA6BL4_PRODUCTION, X0TTA6BL4_ALLOW_MOCK_PQC, banned]
  const cases: [string | undefined, string | undefined, boolean][] = [];
  for (const production of [undefined, '', 'false', 'FALSE', 'true', 'TRUE', 'True', ' true ']) {
    for (const allow of [undefined, '', 'false', 'true', 'TRUE']) {
      const isTrue = (v: string | undefined) => v?.trim().toLowerCase() === 'true';
      cases.push([production, allow, isTrue(production) && !isTrue(allow)]);
    }
  }

  it.each(cases)('PRODUCTION=%j ALLOW_MOCK_PQC=%j, set in process.env before construction: banned=%s', (production, allow, banned) => {
    if (production !== undefined) process.env.X0TTA6BL4_PRODUCTION = production;
    if (allow !== undefined) process.env.X0TTA6BL4_ALLOW_MOCK_PQC = allow;
    if (banned) {
      expect(() => mock()).toThrow(
        expect.objectContaining({ code: 'ERR_PQC_MOCK_IN_PRODUCTION', message: expect.stringMatching(/ML-KEM-768.*native liboqs|native liboqs.*ML-KEM-768/) }),
      );
      expect(info().policy.mockInUse).toBe(false);
    } else {
      expect(mock().backend).toBe('mock');
      const inProduction = production?.trim().toLowerCase() === 'true';
      expect(info().policy.mockInUse).toBe(inProduction);
      const critical = captured.records().filter((r) => r.event === 'pqc_mock_in_production');
      expect(critical.map((r) => r.level)).toEqual(inProduction ? [60] : []);
    }
  });

  it('is read at each construction, not once at import', () => {
    expect(mock().backend).toBe('mock');
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    expect(() => mock()).toThrow(expect.objectContaining({ code: 'ERR_PQC_MOCK_IN_PRODUCTION' }));
    process.env.X0TTA6BL4_ALLOW_MOCK_PQC = 'true';
    expect(mock().backend).toBe('mock');
  });

  it('treats a value other than true/false as a configuration error, not as false', () => {
    for (const [name, value] of [
      ['X0TTA6BL4_PRODUCTION', '1'],
      ['X0TTA6BL4_PRODUCTION', 'yes'],
      ['X0TTA6BL4_ALLOW_MOCK_PQC', 'on'],
    ]) {
      process.env.X0TTA6BL4_PRODUCTION = 'true';
      process.env[name!] = value;
      expect(() => mock(), `${name}=${value}`).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION' }));
    }
  });

  describe('set in the environment of a new process', () => {
    const construct = `
      try {
        const kem = new pqc.Kem(pqc.MOCK_KEM_NAME, { backend: 'mock' });
        process.stdout.write(JSON.stringify({ backend: kem.backend, mockInUse: pqc.info().policy.mockInUse }));
      } catch (error) {
        process.stdout.write(JSON.stringify({ code: error.code }));
      }`;
    it.each([
      [{}, { backend: 'mock', mockInUse: false }],
      [{ X0TTA6BL4_PRODUCTION: 'false', X0TTA6BL4_ALLOW_MOCK_PQC: 'true' }, { backend: 'mock', mockInUse: false }],
      [{ X0TTA6BL4_PRODUCTION: 'TRUE' }, { code: 'ERR_PQC_MOCK_IN_PRODUCTION' }],
      [{ X0TTA6BL4_PRODUCTION: 'true', X0TTA6BL4_ALLOW_MOCK_PQC: 'false' }, { code: 'ERR_PQC_MOCK_IN_PRODUCTION' }],
      [{ X0TTA6BL4_PRODUCTION: 'true', X0TTA6BL4_ALLOW_MOCK_PQC: 'True' }, { backend: 'mock', mockInUse: true }],
    ])('%j', (env, expected) => {
      const { stdout, stderr } = runInChild(construct, env);
      expect(JSON.parse(stdout), stderr).toEqual(expected);
      const critical = stderr.split('\n').filter((line) => line.includes('pqc_mock_in_production'));
      expect(critical).toHaveLength('mockInUse' in expected && expected.mockInUse ? 1 : 0);
    });
  });
});

describe('no automatic path picks the mock', () => {
  it('the mock name on the default backend is refused, in and out of production', () => {
    for (const production of ['false', 'true']) {
      process.env.X0TTA6BL4_PRODUCTION = production;
      // In production without a native liboqs the WebAssembly backend itself is refused first.
      const code = production === 'true' && info().backend !== 'native' ? 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS' : 'ERR_PQC_UNSUPPORTED_ALGORITHM';
      expect(() => new Kem(MOCK_KEM_NAME)).toThrow(expect.objectContaining({ code }));
      expect(() => new Kem(MOCK_KEM_NAME, { backend: 'auto' })).toThrow(expect.objectContaining({ code }));
    }
  });

  it('the default backend serves real liboqs, and lists no mock', () => {
    const kem = new Kem('ML-KEM-768');
    expect(['native', 'wasm']).toContain(kem.backend);
    const { backend, kems } = info();
    expect(backend).not.toBe('mock');
    expect(kems).not.toContain(MOCK_KEM_NAME);
  });

  it('the mock backend serves nothing but the mock KEM, and no signature', () => {
    expect(() => new Kem('ML-KEM-768', { backend: 'mock' })).toThrow(expect.objectContaining({ code: 'ERR_PQC_UNSUPPORTED_ALGORITHM' }));
    expect(() => new Sig('ML-DSA-65', { backend: 'mock' as 'auto' })).toThrow(expect.objectContaining({ code: 'ERR_PQC_UNSUPPORTED_BACKEND' }));
  });

  it('X0TTA6BL4_PQC_BACKEND=mock is refused, not honoured', () => {
    const { stdout } = runInChild(
      `try { new pqc.Kem('ML-KEM-768'); process.stdout.write('constructed'); } catch (e) { process.stdout.write(e.code); }`,
      { X0TTA6BL4_PQC_BACKEND: 'mock' },
    );
    expect(stdout).toBe('ERR_PQC_UNSUPPORTED_BACKEND');
  });
});

describe('the mock KEM, as its doc comment defines it', () => {
  // H(label ‖ x) = SHA-256("SimplifiedNTRU/" ‖ label ‖ x), lib/policy/mock-kem.ts.
  const H = (label: string, ...parts: Uint8Array[]) => {
    const hash = createHash('sha256').update(`SimplifiedNTRU/${label}`);
    for (const part of parts) hash.update(part);
    return new Uint8Array(hash.digest());
  };
  const xor = (a: Uint8Array, b: Uint8Array) => a.map((byte, i) => byte ^ b[i]!);

  it('keypair(d): pk = H("pk" ‖ d), sk = d ‖ pk; encaps(pk, m): ct = m ⊕ H("mask" ‖ pk), ss = H("ss" ‖ m ‖ ct)', () => {
    const kem = mock();
    const d = seed(7);
    const m = Uint8Array.from({ length: 32 }, (_, i) => i);
    const { publicKey, secretKey } = kem.generateKeyPair({ seed: d });
    expect(toHex(publicKey)).toBe(toHex(H('pk', d)));
    expect(toHex(secretKey)).toBe(toHex(d) + toHex(H('pk', d)));
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey, { seed: m });
    const ct = xor(m, H('mask', publicKey));
    expect(toHex(ciphertext)).toBe(toHex(ct));
    expect(toHex(sharedSecret)).toBe(toHex(H('ss', m, ct)));
    expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(H('ss', m, ct)));
  });
});

describe('MockKemEngine on its own', () => {
  it('is ready at once, and refuses an operation that is not a KEM operation', () => {
    const engine = new MockKemEngine(MOCK_KEM_NAME);
    expect(engine.isReady()).toBe(true);
    expect(() => engine.run(Op.SigSign)).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_UNSUPPORTED_CAPABILITY', message: `SimplifiedNTRU: operation ${Op.SigSign} is not a KEM operation` }),
    );
  });

  it('names what it has when asked for another algorithm, and what faults must be', () => {
    expect(() => new Kem('ML-KEM-768', { backend: 'mock' })).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_UNSUPPORTED_ALGORITHM', message: 'the mock backend has only SimplifiedNTRU, not ML-KEM-768' }),
    );
    for (const faults of [{}, { take: () => undefined }, 'fail']) {
      expect(() => mock(faults as unknown as MockKemFaults), JSON.stringify(faults)).toThrow(
        expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT', message: expect.stringMatching(/^faults must be a MockKemFaults, got (object|string "fail")$/) }),
      );
    }
  });
});

describe('MockKemFaults, further', () => {
  it('counts what is still planned, and clear() drops it all', () => {
    const faults = new MockKemFaults().inject('fail', { op: 'encaps', times: 3 }).inject('corrupt');
    expect(faults.pending).toBe(4);
    expect(faults.take('encaps')).toBe('fail');
    expect(faults.pending).toBe(3);
    faults.clear();
    expect(faults.pending).toBe(0);
    expect([faults.take('keypair'), faults.take('encaps'), faults.take('decaps')]).toEqual([undefined, undefined, undefined]);
    const kem = mock(faults);
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));
  });

  it('says what a fault, its operation and its count may be', () => {
    const injecting = (...args: Parameters<MockKemFaults['inject']>) => () => new MockKemFaults().inject(...args);
    expect(injecting('explode' as 'fail')).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT', message: 'fault must be one of fail, corrupt, wrong-secret, got string "explode"' }),
    );
    // A value that only converts to a fault's name is not one.
    expect(injecting(['fail'] as unknown as 'fail')).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT', message: 'fault must be one of fail, corrupt, wrong-secret, got Array(1)' }),
    );
    expect(injecting('corrupt', { op: 'decaps' })).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT', message: `fault 'corrupt' applies to keypair, encaps, not string "decaps"` }),
    );
    expect(injecting('fail', { times: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT', message: 'times must be a positive integer, got number 1.5' }));
    expect(injecting('wrong-secret', { op: 'keypair' })).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT', message: `fault 'wrong-secret' applies to encaps, decaps, not string "keypair"` }),
    );
  });

  it('plans each fault for each operation it applies to, and that operation is the one that misbehaves', () => {
    const cases = [
      ['fail', 'keypair'],
      ['fail', 'encaps'],
      ['fail', 'decaps'],
      ['corrupt', 'keypair'],
      ['corrupt', 'encaps'],
      ['wrong-secret', 'encaps'],
      ['wrong-secret', 'decaps'],
    ] as const;
    for (const [fault, op] of cases) {
      const faults = new MockKemFaults().inject(fault, { op });
      const kem = mock(faults);
      const agreed = (() => {
        try {
          const { publicKey, secretKey } = kem.generateKeyPair();
          const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
          return toHex(kem.decapsulate(ciphertext, secretKey)) === toHex(sharedSecret);
        } catch (error) {
          expect(error, `${fault} on ${op}`).toMatchObject({ code: 'ERR_PQC_OPERATION_FAILED', message: expect.stringContaining(`injected failure in ${op}`) });
          return 'failed';
        }
      })();
      expect(agreed, `${fault} on ${op}`).toBe(fault === 'fail' ? 'failed' : false);
      expect(faults.pending, `${fault} on ${op}`).toBe(0);
    }
  });
});

describe('the production ban, in words', () => {
  it('the refusal says why, what to use instead and how the ban is lifted', () => {
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    expect(() => mock()).toThrow(
      expect.objectContaining({
        code: 'ERR_PQC_MOCK_IN_PRODUCTION',
        message:
          'SimplifiedNTRU is a mock KEM with no security and is banned in production mode (X0TTA6BL4_PRODUCTION=true). ' +
          "Use a real KEM on the native liboqs backend, e.g. new Kem('ML-KEM-768'), and check the node with " +
          '"x0tta6bl4-pqc doctor". X0TTA6BL4_ALLOW_MOCK_PQC=true lifts the ban, for tests only.',
      }),
    );
  });

  it('the allowed use in production is logged at fatal level, naming the variable that allows it', () => {
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    process.env.X0TTA6BL4_ALLOW_MOCK_PQC = 'true';
    mock();
    expect(captured.records()).toMatchObject([
      {
        level: 60,
        event: 'pqc_mock_in_production',
        algorithm: 'SimplifiedNTRU',
        msg: 'MOCK PQC IN PRODUCTION: SimplifiedNTRU has no security and is allowed only because X0TTA6BL4_ALLOW_MOCK_PQC=true',
      },
    ]);
  });
});
