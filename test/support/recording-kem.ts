import { createKemEngine } from '../../lib/backend.js';
import { Op, type BatchInput, type KemEngine } from '../../lib/engine.js';

export interface RecordedCall {
  op: Op;
  /** Per item: the item's inputs and outputs. */
  inputs: Uint8Array[];
  outputs: Uint8Array[];
}

const INPUT_COUNT: Partial<Record<Op, number>> = { [Op.KemKeypair]: 0, [Op.KemKeypairDerand]: 1, [Op.KemEncaps]: 1, [Op.KemEncapsDerand]: 2 };

/**
 * ML-KEM-768 on the default backend, recording each item of every call (a pooled one once it has
 * returned), for tests of what a hybrid hands it; `overrides` replace parts (a stand-in that
 * fails, or that leaves FIPS 203's key checks to its caller).
 */
export function recordingMlKem768(overrides: Partial<KemEngine> = {}): { engine: KemEngine; calls: RecordedCall[] } {
  const real = createKemEngine('ML-KEM-768');
  const calls: RecordedCall[] = [];
  const inputCount = (op: Op) => INPUT_COUNT[op] ?? 2;
  const engine: KemEngine = {
    backend: real.backend,
    name: real.name,
    lengths: real.lengths,
    seedUnsupportedReason: real.seedUnsupportedReason,
    checksMlKemKeys: real.checksMlKemKeys,
    isReady: () => real.isReady(),
    ready: () => real.ready(),
    run(op: Op, ...operands: Uint8Array[]) {
      // Recorded before it runs: a call that fails was still made.
      calls.push({ op, inputs: operands.slice(0, inputCount(op)), outputs: operands.slice(inputCount(op)) });
      return real.run(op, ...operands);
    },
    async runAsync(op: Op, count: number, inputs: BatchInput[]) {
      const result = await real.runAsync(op, count, inputs);
      for (let i = 0; i < count; i++) {
        calls.push({ op, inputs: inputs.map((input) => (Array.isArray(input) ? input[i]! : input)), outputs: result.outputs.map((items) => items[i]!) });
      }
      return result;
    },
    ...overrides,
  };
  return { engine, calls };
}
