import { createHash, randomBytes } from 'node:crypto';
import { describe, requireOptions } from '../bytes.js';
import { kemOutputLengths, Op, type BatchInput, type BatchResult, type KemEngine } from '../engine.js';
import { PqcError } from '../errors.js';
import { runSerialBatch } from '../serial-batch.js';
import { readFlag } from './environment.js';
import { processPolicy } from './process-policy.js';

/**
 * The mock KEM, named after the toy the mesh shipped by mistake: `new Kem('SimplifiedNTRU',
 * { backend: 'mock' })`. It has NO security — the public key alone recovers the shared secret —
 * and exists so that tests can drive the code above a KEM fast, deterministically (every output
 * is a function of the seeds) and with faults on demand. Nothing selects it automatically; in
 * production mode constructing it throws unless X0TTA6BL4_ALLOW_MOCK_PQC=true.
 *
 *   keypair(d):     pk = H("pk" ‖ d),  sk = d ‖ pk
 *   encaps(pk, m):  ct = m ⊕ H("mask" ‖ pk),  ss = H("ss" ‖ m ‖ ct)
 *   decaps(ct, sk): m = ct ⊕ H("mask" ‖ pk)
 *
 * where H(label ‖ x) = SHA-256("SimplifiedNTRU/" ‖ label ‖ x).
 */
export const MOCK_KEM_NAME = 'SimplifiedNTRU';

const SIZE = 32;

function h(label: string, ...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256').update(`${MOCK_KEM_NAME}/${label}`);
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function xor(a: Uint8Array, b: Uint8Array, out: Uint8Array): void {
  for (const i of out.keys()) out[i] = a[i]! ^ b[i]!;
}

/**
 * - 'fail': the operation throws ERR_PQC_OPERATION_FAILED;
 * - 'corrupt': what goes over the wire is damaged (a public key from keypair, a ciphertext from
 *   encaps), so the peers end with different secrets;
 * - 'wrong-secret': encaps or decaps returns a shared secret that does not match.
 */
export type MockFault = 'fail' | 'corrupt' | 'wrong-secret';
export type MockOperation = 'keypair' | 'encaps' | 'decaps';

const APPLIES: Record<MockFault, readonly MockOperation[]> = {
  fail: ['keypair', 'encaps', 'decaps'],
  corrupt: ['keypair', 'encaps'],
  'wrong-secret': ['encaps', 'decaps'],
};

/** Faults for a mock KEM to inject, in the order planned: `new Kem(MOCK_KEM_NAME, { backend: 'mock', faults })`. */
export class MockKemFaults {
  #planned: { fault: MockFault; op: MockOperation | undefined; remaining: number }[] = [];

  /** The next `times` (default 1) operations the fault applies to (or only `op`) misbehave. */
  inject(fault: MockFault, options: { op?: MockOperation; times?: number } = {}): this {
    const { op, times = 1 } = requireOptions(options);
    if (typeof fault !== 'string' || !Object.hasOwn(APPLIES, fault)) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `fault must be one of ${Object.keys(APPLIES).join(', ')}, got ${describe(fault)}`);
    }
    if (op !== undefined && !APPLIES[fault].includes(op)) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `fault '${fault}' applies to ${APPLIES[fault].join(', ')}, not ${describe(op)}`);
    }
    if (!Number.isInteger(times) || times < 1) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `times must be a positive integer, got ${describe(times)}`);
    }
    this.#planned.push({ fault, op, remaining: times });
    return this;
  }

  clear(): void {
    this.#planned = [];
  }

  /** Faults still planned. */
  get pending(): number {
    return this.#planned.reduce((sum, plan) => sum + plan.remaining, 0);
  }

  /** The fault for this operation, consuming it; for the mock engine. */
  take(op: MockOperation): MockFault | undefined {
    const index = this.#planned.findIndex((plan) => (plan.op === undefined ? APPLIES[plan.fault].includes(op) : plan.op === op));
    if (index < 0) return undefined;
    const plan = this.#planned[index]!;
    if (--plan.remaining === 0) this.#planned.splice(index, 1);
    return plan.fault;
  }
}

/** The production ban, checked at every construction so that both ways of setting the variables count. */
function enforceBan(): void {
  if (!readFlag('production')) return;
  if (!readFlag('allowMockPqc')) {
    throw new PqcError(
      'ERR_PQC_MOCK_IN_PRODUCTION',
      `${MOCK_KEM_NAME} is a mock KEM with no security and is banned in production mode (X0TTA6BL4_PRODUCTION=true). ` +
        `Use a real KEM on the native liboqs backend, e.g. new Kem('ML-KEM-768'), and check the node with ` +
        '"x0tta6bl4-pqc doctor". X0TTA6BL4_ALLOW_MOCK_PQC=true lifts the ban, for tests only.',
    );
  }
  processPolicy.mockUsedInProduction = true;
  processPolicy.logger.fatal(
    { event: 'pqc_mock_in_production', algorithm: MOCK_KEM_NAME },
    `MOCK PQC IN PRODUCTION: ${MOCK_KEM_NAME} has no security and is allowed only because X0TTA6BL4_ALLOW_MOCK_PQC=true`,
  );
}

export class MockKemEngine implements KemEngine {
  readonly backend = 'mock';
  readonly name = MOCK_KEM_NAME;
  readonly lengths = { publicKey: SIZE, secretKey: 2 * SIZE, ciphertext: SIZE, sharedSecret: SIZE, keypairSeed: SIZE, encapsSeed: SIZE };
  // Stryker disable next-line ObjectLiteral,StringLiteral: Kem reads a reason only for a seed length of 0, and both seeds here are 32 bytes
  readonly seedUnsupportedReason = { keypair: '', encaps: '' };
  // Stryker disable next-line BooleanLiteral: Kem and the hybrids apply FIPS 203's key checks by ML-KEM rank, and this name has none
  readonly checksMlKemKeys = false;
  readonly #faults: MockKemFaults | undefined;

  constructor(name: string, faults?: MockKemFaults) {
    if (name !== MOCK_KEM_NAME) {
      throw new PqcError('ERR_PQC_UNSUPPORTED_ALGORITHM', `the mock backend has only ${MOCK_KEM_NAME}, not ${name}`);
    }
    if (faults !== undefined && !(faults instanceof MockKemFaults)) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `faults must be a MockKemFaults, got ${describe(faults)}`);
    }
    enforceBan();
    this.#faults = faults;
  }

  isReady(): boolean {
    return true;
  }

  async ready(): Promise<void> {}

  run(op: Op, ...operands: Uint8Array[]): number {
    switch (op) {
      case Op.KemKeypair:
        return this.#keypair(randomBytes(SIZE), operands[0]!, operands[1]!);
      case Op.KemKeypairDerand:
        return this.#keypair(operands[0]!, operands[1]!, operands[2]!);
      case Op.KemEncaps:
        return this.#encaps(operands[0]!, randomBytes(SIZE), operands[1]!, operands[2]!);
      case Op.KemEncapsDerand:
        return this.#encaps(operands[0]!, operands[1]!, operands[2]!, operands[3]!);
      case Op.KemDecaps:
        return this.#decaps(operands[0]!, operands[1]!, operands[2]!);
    }
    throw new PqcError('ERR_PQC_UNSUPPORTED_CAPABILITY', `${MOCK_KEM_NAME}: operation ${op} is not a KEM operation`);
  }

  async runAsync(op: Op, count: number, inputs: BatchInput[]): Promise<BatchResult> {
    return runSerialBatch(this, op, count, inputs, kemOutputLengths(this.lengths, op));
  }

  #fault(op: MockOperation): MockFault | undefined {
    const fault = this.#faults?.take(op);
    if (fault === 'fail') throw new PqcError('ERR_PQC_OPERATION_FAILED', `${MOCK_KEM_NAME}: injected failure in ${op}`);
    return fault;
  }

  #keypair(seed: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): number {
    const fault = this.#fault('keypair');
    publicKey.set(h('pk', seed));
    secretKey.set(seed);
    secretKey.set(publicKey, SIZE);
    if (fault === 'corrupt') publicKey[0]! ^= 1;
    return 0;
  }

  #encaps(publicKey: Uint8Array, message: Uint8Array, ciphertext: Uint8Array, sharedSecret: Uint8Array): number {
    const fault = this.#fault('encaps');
    xor(message, h('mask', publicKey), ciphertext);
    sharedSecret.set(h('ss', message, ciphertext));
    if (fault === 'corrupt') ciphertext[0]! ^= 1;
    if (fault === 'wrong-secret') sharedSecret[0]! ^= 0xff;
    return 0;
  }

  #decaps(ciphertext: Uint8Array, secretKey: Uint8Array, sharedSecret: Uint8Array): number {
    const fault = this.#fault('decaps');
    const message = new Uint8Array(SIZE);
    xor(ciphertext, h('mask', secretKey.subarray(SIZE)), message);
    sharedSecret.set(h('ss', message, ciphertext));
    if (fault === 'wrong-secret') sharedSecret[0]! ^= 0xff;
    return 0;
  }
}
