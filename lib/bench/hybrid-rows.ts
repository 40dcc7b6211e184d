import { timingSafeEqual } from 'node:crypto';
import type { BackendName } from '../engine.js';
import { PqcError } from '../errors.js';
import { Kem } from '../kem.js';
import { nativeX25519 } from '../x25519/native.js';
import { nodeCryptoX25519 } from '../x25519/node-crypto.js';
import { batchTimer, syncTimer, type NamedTimers, type BatchRoundSettings, type Timer, type Budget } from './timing.js';

/**
 * The hybrid KEMs' rows: X-Wing's and X25519MLKEM768's encapsulation and decapsulation through
 * the package, timed as `sync` and `batch` (…Many on the pool); the ML-KEM-768 part of each
 * operation alone (`mlKemPartTimer`), for what the hybrid adds to it; and X25519 alone, through
 * the addon and through node:crypto.
 */
export const HYBRID_KEMS = ['X-Wing', 'X25519MLKEM768'] as const;
export type HybridKem = (typeof HYBRID_KEMS)[number];
/** `decaps-seed`: decapsulation from X-Wing's 32-byte key, expanded on every call. */
export type HybridOperation = 'encaps' | 'decaps' | 'decaps-seed';

export const HYBRID_SETTINGS: Record<Budget, BatchRoundSettings> = {
  full: { rounds: 15, targetMs: 60, warmupMs: 40, batch: 64 },
  quick: { rounds: 5, targetMs: 20, warmupMs: 10, batch: 64 },
  smoke: { rounds: 1, targetMs: 1, warmupMs: 1, batch: 8 },
};

export interface HybridRow {
  kem: HybridKem;
  operation: HybridOperation;
  label: string;
  timers: NamedTimers;
}

/**
 * `name`'s rows on `backend`. Throws ERR_PQC_UNSUPPORTED_CAPABILITY when the backend cannot make
 * its keys (X-Wing needs ML-KEM key generation from a seed: liboqs 0.13 or newer, not WebAssembly).
 */
export async function hybridRows(name: HybridKem, backend: BackendName, batch: number): Promise<HybridRow[]> {
  const kem = new Kem(name, { backend });
  await kem.ready();
  const { publicKey, secretKey } = kem.generateKeyPair();
  const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
  if (!timingSafeEqual(kem.decapsulate(ciphertext, secretKey), sharedSecret)) {
    throw new PqcError('ERR_PQC_OPERATION_FAILED', `${name}: decapsulation gave another secret; the benchmark measures nothing it cannot check`);
  }
  const ciphertexts = Array.from({ length: batch }, () => kem.encapsulate(publicKey).ciphertext);
  const publicKeys = Array.from({ length: batch }, () => publicKey);
  const rows: HybridRow[] = [
    {
      kem: name,
      operation: 'encaps',
      label: `${name} encapsulate`,
      timers: [
        ['sync', syncTimer(() => kem.encapsulate(publicKey))],
        ['batch', batchTimer(() => kem.encapsulateMany(publicKeys), batch)],
      ],
    },
    {
      kem: name,
      operation: 'decaps',
      label: `${name} decapsulate, expanded key remembered`,
      timers: [
        ['sync', syncTimer(() => kem.decapsulate(ciphertext, secretKey))],
        ['batch', batchTimer(() => kem.decapsulateMany(ciphertexts, secretKey), batch)],
      ],
    },
  ];
  if (name === 'X-Wing') {
    rows.push({
      kem: name,
      operation: 'decaps-seed',
      label: `${name} decapsulate from the 32-byte key (expanded every call)`,
      timers: [
        // A fresh copy each call: nothing is remembered for it.
        ['sync', syncTimer(() => kem.decapsulate(ciphertext, Uint8Array.from(secretKey)))],
        ['batch', batchTimer(() => kem.decapsulateMany(ciphertexts, ciphertexts.map(() => Uint8Array.from(secretKey))), batch)],
      ],
    });
  }
  return rows;
}

/**
 * ML-KEM-768 alone doing what `operation` asks of it on `backend`: encapsulation, decapsulation,
 * or (for X-Wing's 32-byte key) key generation from a seed and then decapsulation.
 */
export async function mlKemPartTimer(operation: HybridOperation, backend: BackendName): Promise<Timer> {
  const kem = new Kem('ML-KEM-768', { backend });
  await kem.ready();
  if (operation === 'decaps-seed') {
    const seed = new Uint8Array(64).fill(7);
    const { ciphertext } = kem.encapsulate(kem.generateKeyPair({ seed }).publicKey);
    return syncTimer(() => kem.decapsulate(ciphertext, kem.generateKeyPair({ seed }).secretKey));
  }
  const { publicKey, secretKey } = kem.generateKeyPair();
  const { ciphertext } = kem.encapsulate(publicKey);
  return syncTimer(operation === 'encaps' ? () => kem.encapsulate(publicKey) : () => kem.decapsulate(ciphertext, secretKey));
}

export type X25519Operation = 'keygen' | 'derive-imported' | 'derive-raw';

export interface X25519Row {
  operation: X25519Operation;
  label: string;
  /** `addon` (csrc/x25519.cc, when the addon loads) and `node:crypto`. */
  timers: NamedTimers;
}

/** X25519 alone, through the addon (what the hybrids use on the native backend) and node:crypto (on WebAssembly). */
export function x25519Rows(): X25519Row[] {
  const scalar = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const implementations = [['addon', nativeX25519()], ['node:crypto', nodeCryptoX25519]] as const;
  const peer = nodeCryptoX25519.generate().publicKey();
  const timers = (make: (x: typeof nodeCryptoX25519) => () => unknown): NamedTimers =>
    implementations.flatMap(([key, x25519]) => (x25519 ? [[key, syncTimer(make(x25519))] as [string, Timer]] : []));
  return [
    { operation: 'keygen', label: 'key from a scalar, with its public key', timers: timers((x) => () => x.fromScalar(scalar).publicKey()) },
    {
      operation: 'derive-imported',
      label: 'exchange with an imported key (a remembered decapsulation key)',
      timers: timers((x) => {
        const key = x.fromScalar(scalar);
        return () => key.sharedSecret(peer);
      }),
    },
    { operation: 'derive-raw', label: 'exchange from the raw scalar (fresh keys every call)', timers: timers((x) => () => x.fromScalar(scalar).sharedSecret(peer)) },
  ];
}
