import { Op, type BatchInput, type BatchResult, type KemLengths } from '../engine.js';

/** The outputs a KEM operation writes, in operand order. */
export function kemOutputLengths(lengths: KemLengths, op: Op): number[] {
  if (op === Op.KemKeypair || op === Op.KemKeypairDerand) return [lengths.publicKey, lengths.secretKey];
  if (op === Op.KemEncaps || op === Op.KemEncapsDerand) return [lengths.ciphertext, lengths.sharedSecret];
  return [lengths.sharedSecret];
}

/**
 * A batch for an engine with no thread pool: each item runs through the engine's sync `run`
 * on the calling thread, after the current tick.
 */
export async function runSerially(
  run: (op: Op, ...operands: Uint8Array[]) => number,
  op: Op,
  count: number,
  inputs: BatchInput[],
  outputLengths: number[],
): Promise<BatchResult> {
  await Promise.resolve();
  const outputs = outputLengths.map(() => [] as Uint8Array[]);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const item = inputs.map((input) => (Array.isArray(input) ? input[i]! : input));
    const out = outputLengths.map((length) => new Uint8Array(length));
    values[i] = run(op, ...item, ...out);
    out.forEach((buffer, k) => outputs[k]!.push(buffer));
  }
  return { outputs, values };
}
