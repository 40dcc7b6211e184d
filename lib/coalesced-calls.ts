import type { BatchInput, BatchResult, Engine, Op } from './engine.js';
import { eachInSlices } from './slices.js';

/**
 * What a Kem or Sig method makes of its call's share of a run, and of an error: made once per
 * Kem or Sig, not per call, so that each of a server's concurrent calls costs only its promise
 * and its Call. `result` gets the whole run's result, other calls' secrets included: it takes
 * out its own call's items and never hands the rest on.
 */
export interface CallShape<T> {
  result(run: BatchResult, index: number, inputs: Uint8Array[]): T;
  /** The error the caller sees for a run's error (by default, the error itself). */
  error?(error: unknown): unknown;
}

interface Call {
  inputs: Uint8Array[];
  shape: CallShape<unknown>;
  resolve: (result: unknown) => void;
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
  run<T>(op: Op, inputs: Uint8Array[], shape: CallShape<T>): Promise<T> {
    const parallelism = this.engine.parallelism;
    if (parallelism === undefined) return runAlone(this.engine, op, inputs, shape);
    let kind = this.#kinds.get(op);
    if (!kind) this.#kinds.set(op, (kind = { running: 0, waiting: [] }));
    const promise = new Promise<T>(takeSettlers);
    const call: Call = { inputs, shape: shape as CallShape<unknown>, resolve: takenResolve, reject: takenReject };
    releaseSettlers();
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
    return promise;
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

// A promise's resolving functions, taken out of its executor: a closure per call would add an
// object and a context to every pending call, which a garbage collection then copies. The
// executor runs at once, inside `new Promise`, and `run` reads them straight after, with no code
// of the caller's in between; then it lets go of them, which would otherwise keep the last
// call's promise, and its result (a secret), reachable until the next call.
let takenResolve!: (value: unknown) => void;
let takenReject!: (error: unknown) => void;
function takeSettlers(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  takenResolve = resolve as (value: unknown) => void;
  takenReject = reject;
}
function releaseSettlers(): void {
  takenResolve = takenReject = undefined!;
}

async function runAlone<T>(engine: Pick<Engine, 'runAsync'>, op: Op, inputs: Uint8Array[], shape: CallShape<T>): Promise<T> {
  let result;
  try {
    result = await engine.runAsync(op, 1, inputs);
  } catch (error) {
    throw shape.error ? shape.error(error) : error;
  }
  return shape.result(result, 0, inputs);
}

/**
 * One run for all of `calls` (an operand every call shares is passed once), settled in slices.
 * A run that fails is run again in halves, down to the calls that fail alone.
 */
async function runTogether(engine: Pick<Engine, 'runAsync'>, op: Op, calls: Call[]): Promise<void> {
  const inputs: BatchInput[] = calls[0]!.inputs.map((first, k) =>
    calls.every((call) => call.inputs[k] === first) ? first : calls.map((call) => call.inputs[k]!),
  );
  let result: BatchResult;
  try {
    result = await engine.runAsync(op, calls.length, inputs);
  } catch (error) {
    if (calls.length === 1) return settleFailed(calls[0]!, error);
    const half = calls.length >> 1;
    await Promise.all([runTogether(engine, op, calls.slice(0, half)), runTogether(engine, op, calls.slice(half))]);
    return;
  }
  await eachInSlices(calls.length, (i) => settle(calls[i]!, result, i));
}

function settle(call: Call, result: BatchResult, index: number): void {
  try {
    call.resolve(call.shape.result(result, index, call.inputs));
  } catch (error) {
    call.reject(error);
  }
}

function settleFailed(call: Call, error: unknown): void {
  try {
    call.reject(call.shape.error ? call.shape.error(error) : error);
  } catch (mapped) {
    call.reject(mapped);
  }
}
