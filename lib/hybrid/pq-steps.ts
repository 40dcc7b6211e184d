import { kemOutputLengths, type BatchInput, type KemEngine, type Op } from '../engine.js';
import { runSerialBatch } from '../serial-batch.js';

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

/** Answers a call item by item through the engine's sync `run`. */
export function answerInline(engine: KemEngine, { op, count, inputs }: PqCall): Uint8Array[][] {
  return runSerialBatch(engine, op, count, inputs, kemOutputLengths(engine.lengths, op)).outputs;
}

/** Answers a call with one pooled batch of the engine. */
export async function answerPooled(engine: KemEngine, { op, count, inputs }: PqCall): Promise<Uint8Array[][]> {
  return (await engine.runAsync(op, count, inputs)).outputs;
}
