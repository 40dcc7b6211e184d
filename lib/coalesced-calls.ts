import type { BatchInput, BatchResult, Engine, Op } from './engine.js';
import { eachInSlices } from './slices.js';

/**
 * One call's outputs and value, read from the result of the run it went in: one object for
 * each of a server's concurrent calls, where copying out its outputs took an array more. It
 * holds the whole run's result, other calls' secrets included: the Kem or Sig method that made
 * the call takes its own items out at once and drops it, and never hands it on.
 */
export class CallResult {
  constructor(
    readonly runResult: BatchResult,
    readonly index: number,
  ) {}

  /** Output `k` of the call (a public value or a secret, as the engine made it). */
  output(k: number): Uint8Array {
    return this.runResult.outputs[k]![this.index]!;
  }

  get value(): number {
    return this.runResult.values[this.index]!;
  }
}

interface Call {
  inputs: Uint8Array[];
  resolve: (result: CallResult) => void;
  reject: (error: unknown) => void;
}

interface Kind {
  running: number;
  /** The calls made since the run that will take them was started, until the next microtask. */
  gathering?: Call[];
  /** Calls made while `parallelism` runs were in flight: the next run to start takes them all. */
  waiting: Call[];
}

/**
 * Concurrent single `…Async` calls of one kind on one Kem or Sig, gathered into shared pooled
 * runs: a trip through the pool costs more than an ML-KEM operation. A call starts a run while
 * fewer than the engine's `parallelism` runs of its kind are in flight, and the calls made
 * before the next microtask (those of one synchronous stretch of code) go with it; beyond that
 * a call waits, and the calls that waited go together in the next run, as soon as one in flight
 * ends. A lone call thus waits for one run at most. Results are those of calls made one by one,
 * and an error is its own call's: a run that fails is run again in parts (runTogether).
 */
export class CoalescedCalls {
  readonly #kinds = new Map<Op, Kind>();

  constructor(readonly engine: Pick<Engine, 'runAsync' | 'parallelism'>) {}

  /** `op` on one item's `inputs`, gathered with the concurrent calls of the same op. */
  run(op: Op, inputs: Uint8Array[]): Promise<CallResult> {
    const parallelism = this.engine.parallelism;
    if (parallelism === undefined) return runAlone(this.engine, op, inputs);
    let kind = this.#kinds.get(op);
    if (!kind) this.#kinds.set(op, (kind = { running: 0, waiting: [] }));
    return new Promise((resolve, reject) => {
      const call = { inputs, resolve, reject };
      if (kind.gathering) {
        kind.gathering.push(call);
      } else if (kind.running < parallelism) {
        const calls = (kind.gathering = [call]);
        kind.running++;
        queueMicrotask(() => {
          kind.gathering = undefined;
          this.#start(op, kind, calls);
        });
      } else {
        kind.waiting.push(call);
      }
    });
  }

  #start(op: Op, kind: Kind, calls: Call[]): void {
    void runTogether(this.engine, op, calls).finally(() => {
      kind.running--;
      if (kind.waiting.length > 0) {
        kind.running++;
        this.#start(op, kind, kind.waiting.splice(0));
      }
    });
  }
}

async function runAlone(engine: Pick<Engine, 'runAsync'>, op: Op, inputs: Uint8Array[]): Promise<CallResult> {
  return new CallResult(await engine.runAsync(op, 1, inputs), 0);
}

/**
 * One run for all of `calls` (an operand every call shares is passed once), settled in slices.
 * A run that fails is run again in halves, down to the calls that fail alone.
 */
async function runTogether(engine: Pick<Engine, 'runAsync'>, op: Op, calls: Call[]): Promise<void> {
  const inputs: BatchInput[] = calls[0]!.inputs.map((first, k) =>
    calls.every((call) => call.inputs[k] === first) ? first : calls.map((call) => call.inputs[k]!),
  );
  let result;
  try {
    result = await engine.runAsync(op, calls.length, inputs);
  } catch (error) {
    if (calls.length === 1) return calls[0]!.reject(error);
    const half = calls.length >> 1;
    await Promise.all([runTogether(engine, op, calls.slice(0, half)), runTogether(engine, op, calls.slice(half))]);
    return;
  }
  await eachInSlices(calls.length, (i) => calls[i]!.resolve(new CallResult(result, i)));
}
