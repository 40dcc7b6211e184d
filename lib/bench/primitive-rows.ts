import { timingSafeEqual } from 'node:crypto';
import type { BackendName } from '../engine.js';
import { PqcError } from '../errors.js';
import { Kem } from '../kem.js';
import { Sig } from '../sig.js';
import { asyncTimer, batchTimer, lazyTimer, syncTimer, type NamedTimers, type BatchRoundSettings, type Timer, type Budget } from './timing.js';

/**
 * The ML-KEM and ML-DSA rows: one per algorithm and operation, each the package's calls timed
 * as `sync`, `into` (…Into, KEMs only), `async` and `batch` on one backend, and `wasm` (the
 * WebAssembly backend's sync call) beside them when that backend is another one.
 */
export const KEMS = ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024'] as const;
export const SIGS = ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'] as const;
export const KEM_OPERATIONS = ['keygen', 'encaps', 'decaps'] as const;
export const SIG_OPERATIONS = ['keypair', 'sign', 'verify'] as const;
export type PrimitiveOperation = (typeof KEM_OPERATIONS)[number] | (typeof SIG_OPERATIONS)[number];

// scripts/bench-harness.c signs messages of this length too.
export const MESSAGE_LENGTH = 64;

/** By budget: `smoke` runs every row once, briefly (for tests: its figures are noise). */
export const PRIMITIVE_SETTINGS: Record<Budget, BatchRoundSettings> = {
  // Many short rounds rather than a few long ones: on a shared machine some rounds then run
  // undisturbed, and the best of them is the figure the ratios use.
  full: { rounds: 11, targetMs: 50, warmupMs: 20, batch: 256 },
  quick: { rounds: 3, targetMs: 20, warmupMs: 10, batch: 256 },
  smoke: { rounds: 1, targetMs: 1, warmupMs: 1, batch: 8 },
};

export interface PrimitiveRow {
  algorithm: string;
  operation: PrimitiveOperation;
  kind: 'kem' | 'sig';
  /** Time per measurement, × the settings' (signing repeats a random number of times per signature). */
  weight: number;
}

export const PRIMITIVE_ROWS: readonly PrimitiveRow[] = [
  ...KEMS.flatMap((algorithm) => KEM_OPERATIONS.map((operation) => ({ algorithm, operation, kind: 'kem' as const, weight: 1 }))),
  ...SIGS.flatMap((algorithm) => SIG_OPERATIONS.map((operation) => ({ algorithm, operation, kind: 'sig' as const, weight: operation === 'sign' ? 3 : 1 }))),
];

/** The i-th message a signature row signs. */
export const message = (i: number) => Uint8Array.from({ length: MESSAGE_LENGTH }, (_, k) => (k * 7 + i) & 0xff);

function mismatch(row: PrimitiveRow, what: string): PqcError {
  return new PqcError('ERR_PQC_OPERATION_FAILED', `${row.algorithm}: ${what}; the benchmark measures nothing it cannot check`);
}

/** The package's calls for `row` on `backend`: sync, …Into (KEMs), async, and batches of `batch`. */
export async function packageTimers(row: PrimitiveRow, backend: BackendName, batch: number): Promise<NamedTimers> {
  return row.kind === 'kem' ? kemTimers(row, backend, batch) : sigTimers(row, backend, batch);
}

async function kemTimers(row: PrimitiveRow, backend: BackendName, batch: number): Promise<NamedTimers> {
  const kem = new Kem(row.algorithm, { backend });
  await kem.ready();
  const { publicKey, secretKey } = kem.generateKeyPair();
  const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
  if (!timingSafeEqual(kem.decapsulate(ciphertext, secretKey), sharedSecret)) throw mismatch(row, 'decapsulation gave another secret');
  const calls = {
    keygen: () => [() => kem.generateKeyPair(), () => kem.generateKeyPairAsync(), () => kem.generateKeyPairMany(batch)] as const,
    encaps: () => {
      const publicKeys = Array.from({ length: batch }, () => kem.generateKeyPair().publicKey);
      return [() => kem.encapsulate(publicKey), () => kem.encapsulateAsync(publicKey), () => kem.encapsulateMany(publicKeys)] as const;
    },
    decaps: () => {
      const ciphertexts = Array.from({ length: batch }, () => kem.encapsulate(publicKey).ciphertext);
      return [
        () => kem.decapsulate(ciphertext, secretKey),
        () => kem.decapsulateAsync(ciphertext, secretKey),
        () => kem.decapsulateMany(ciphertexts, secretKey),
      ] as const;
    },
  }[row.operation as (typeof KEM_OPERATIONS)[number]];
  const [sync, async, many] = calls();
  // The …Into calls write into reused buffers, as liboqs's own C benchmark does.
  const pairOut = kem.generateKeyPair();
  const encapsulationOut = kem.encapsulate(publicKey);
  const secretOut = new Uint8Array(kem.sharedSecretLength);
  const into = {
    keygen: () => kem.generateKeyPairInto(pairOut),
    encaps: () => kem.encapsulateInto(publicKey, encapsulationOut),
    decaps: () => kem.decapsulateInto(ciphertext, secretKey, secretOut),
  }[row.operation as (typeof KEM_OPERATIONS)[number]];
  return [
    ['sync', syncTimer(sync)],
    ['into', syncTimer(into)],
    ['async', asyncTimer(async)],
    ['batch', batchTimer(many, batch)],
  ];
}

async function sigTimers(row: PrimitiveRow, backend: BackendName, batch: number): Promise<NamedTimers> {
  const sig = new Sig(row.algorithm, { backend });
  await sig.ready();
  const msg = message(0);
  const { publicKey, secretKey } = sig.generateKeyPair();
  const signature = sig.sign(msg, secretKey);
  if (!sig.verify(msg, signature, publicKey)) throw mismatch(row, 'a fresh signature does not verify');
  const messages = Array.from({ length: batch }, (_, i) => message(i));
  const calls = {
    keypair: () => [() => sig.generateKeyPair(), () => sig.generateKeyPairAsync(), () => sig.generateKeyPairMany(batch)] as const,
    sign: () => [() => sig.sign(msg, secretKey), () => sig.signAsync(msg, secretKey), () => sig.signMany(messages, secretKey)] as const,
    verify: () => {
      const signatures = messages.map((m) => sig.sign(m, secretKey));
      return [
        () => sig.verify(msg, signature, publicKey),
        () => sig.verifyAsync(msg, signature, publicKey),
        () => sig.verifyMany(messages, signatures, publicKey),
      ] as const;
    },
  }[row.operation as (typeof SIG_OPERATIONS)[number]];
  const [sync, async, many] = calls();
  return [
    ['sync', syncTimer(sync)],
    ['async', asyncTimer(async)],
    ['batch', batchTimer(many, batch)],
  ];
}

/** The WebAssembly backend's sync call for `row`, set up when first measured (its module loads then). */
export function wasmTimer(row: PrimitiveRow): Timer {
  return lazyTimer(1, async () => {
    const [, sync] = (await packageTimers(row, 'wasm', 1))[0]!;
    return sync;
  });
}
