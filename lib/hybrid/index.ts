import type { KemEngine } from '../engine.js';
import { X25519MlKem768Engine } from './x25519-mlkem768.js';
import { XWingEngine } from './xwing.js';

type HybridFactory = (name: string, createPq: (pqName: string) => KemEngine) => KemEngine;

const xWing: HybridFactory = (name, createPq) => new XWingEngine(name, createPq('ML-KEM-768'));

const HYBRIDS = new Map<string, HybridFactory>([
  ['X-Wing', xWing],
  ['MLKEM768-X25519', xWing],
  ['X25519MLKEM768', (name, createPq) => new X25519MlKem768Engine(name, createPq('ML-KEM-768'))],
]);

/** The hybrid KEM names `new Kem(name)` accepts. */
export const HYBRID_KEM_NAMES: readonly string[] = [...HYBRIDS.keys()];

export function isHybridKem(name: string): boolean {
  return HYBRIDS.has(name);
}

/** The engine for hybrid `name`, its ML-KEM part from `createPq` (which picks the backend). */
export function createHybridKemEngine(name: string, createPq: (pqName: string) => KemEngine): KemEngine {
  return HYBRIDS.get(name)!(name, createPq);
}
