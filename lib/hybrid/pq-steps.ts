import { Op, type BatchInput, type KemEngine, type KemLengths } from '../engine.js';

/**
 * A hybrid operation is written once, as a generator that yields the batches of ML-KEM calls it
 * needs and is resumed with their outputs (`outputs[k][i]`, as in BatchResult). The classical
 * half and the combiner run in the generator on the calling thread; the ML-KEM calls run
 * wherever the caller answers them: inline for `run`, through the ML-KEM engine's `runAsync`
 * (the libuv pool on the native backend) for the hybrid's own `runAsync`.
 */
export interface PqCall {
  op: Op;
  count: number;
  inputs: BatchInput[];
}

export type Steps<T> = Generator<PqCall, T, Uint8Array[][]>;

type Answer = (call: PqCall) => Uint8Array[][] | Promise<Uint8Array[][]>;

/** Runs `steps` to the end: synchronously while `answer` does, else as a promise. */
export function drive<T>(steps: Steps<T>, answer: Answer): T | Promise<T> {
  const resume = (step: IteratorResult<PqCall, T>): T | Promise<T> => {
    while (!step.done) {
      let outputs: Uint8Array[][] | Promise<Uint8Array[][]>;
      try {
        outputs = answer(step.value);
      } catch (error) {
        step = steps.throw(error);
        continue;
      }
      if (outputs instanceof Promise) {
        return outputs.then(
          (answered) => resume(steps.next(answered)),
          (error: unknown) => resume(steps.throw(error)),
        );
      }
      step = steps.next(outputs);
    }
    return step.value;
  };
  return resume(steps.next());
}

/** Item `i` of a batch input: the shared value, or the item's own. */
export function item(input: BatchInput, i: number): Uint8Array {
  return Array.isArray(input) ? input[i]! : input;
}

/** The outputs a KEM operation writes, in operand order. */
export function kemOutputLengths(lengths: KemLengths, op: Op): number[] {
  if (op === Op.KemKeypair || op === Op.KemKeypairDerand) return [lengths.publicKey, lengths.secretKey];
  if (op === Op.KemEncaps || op === Op.KemEncapsDerand) return [lengths.ciphertext, lengths.sharedSecret];
  return [lengths.sharedSecret];
}

/** Answers a call item by item through the engine's sync `run`. */
export function answerInline(engine: KemEngine, { op, count, inputs }: PqCall): Uint8Array[][] {
  const lengths = kemOutputLengths(engine.lengths, op);
  const outputs = lengths.map(() => new Array<Uint8Array>(count));
  for (let i = 0; i < count; i++) {
    const out = lengths.map((length) => new Uint8Array(length));
    engine.run(op, ...inputs.map((input) => item(input, i)), ...out);
    out.forEach((buffer, k) => (outputs[k]![i] = buffer));
  }
  return outputs;
}

/** Answers a call with one pooled batch of the engine. */
export async function answerPooled(engine: KemEngine, { op, count, inputs }: PqCall): Promise<Uint8Array[][]> {
  return (await engine.runAsync(op, count, inputs)).outputs;
}
