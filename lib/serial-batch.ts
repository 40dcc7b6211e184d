import { ownedBytes, wipeSecret } from './bytes.js';
import { batchItem, type BatchInput, type BatchResult, type Engine, type Op } from './engine.js';

/**
 * Runs a batch item by item through the engine's sync `run` on the calling thread: the
 * `runAsync` of engines with no thread pool to send it to, and the inline answer to a hybrid's
 * ML-KEM calls. Each item gets fresh outputs of `outputLengths` (`ownedBytes`, as secrets among
 * them need); a throwing item ends the batch, and the outputs of every item run, which the
 * caller never sees, are wiped.
 */
export function runSerialBatch(
  engine: Pick<Engine, 'run'>,
  op: Op,
  count: number,
  inputs: BatchInput[],
  outputLengths: number[],
): BatchResult {
  const outputs = outputLengths.map(() => new Array<Uint8Array>(count));
  const values = new Float64Array(count);
  try {
    for (let i = 0; i < count; i++) {
      const out = outputLengths.map(ownedBytes);
      out.forEach((buffer, k) => (outputs[k]![i] = buffer));
      values[i] = engine.run(op, ...inputs.map((input) => batchItem(input, i)), ...out);
    }
  } catch (error) {
    for (const items of outputs) for (const item of items) if (item) wipeSecret(item);
    throw error;
  }
  return { outputs, values };
}
