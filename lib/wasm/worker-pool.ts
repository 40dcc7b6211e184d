import { markAsUntransferable, Worker } from 'node:worker_threads';
import { SecretBytes } from '../bytes.js';
import { Op, type BatchInput, type BatchResult } from '../engine.js';
import { PqcError } from '../errors.js';
import { parallelThreads } from '../parallel-threads.js';
import { packInputs, type PartReply, type PartRequest } from './batch-part.js';

/**
 * The WebAssembly backend's `…Async` and `…Many` calls run on a pool of worker threads, each
 * with its own liboqs-js instances (wasm-worker.ts), so that the calling thread's event loop
 * keeps turning. Threads start at the first call that needs one, up to one per thread the libuv
 * pool would run at once. A thread keeps the process alive only while it has work: an idle pool
 * never holds a process open.
 *
 * A batch goes out in parts of at most MAX_PART items, packed as a thread takes them, so that the
 * calling thread's share (copying inputs in, outputs out) comes in short slices between which
 * the loop turns, whatever the batch's size. Waiting calls take turns part by part, so a lone
 * call waits for at most one part of a large batch per thread. Each thread is kept up to
 * MAX_PART × 2 items ahead, so that it starts its next part as it sends back the last.
 */
const MAX_PART = 64;
const ITEMS_AHEAD = 2 * MAX_PART;

/** Sized like the libuv pool (lib/parallel-threads.ts). */
export const POOL_SIZE = parallelThreads;

/** Which outputs of each operation are secret (copied out and wiped, as the native backend does). */
const SECRET_OUTPUTS: Record<Op, boolean[]> = {
  [Op.KemKeypair]: [false, true],
  [Op.KemKeypairDerand]: [false, true],
  [Op.KemEncaps]: [false, true],
  [Op.KemEncapsDerand]: [false, true],
  [Op.KemDecaps]: [true],
  [Op.SigKeypair]: [false, true],
  [Op.SigSign]: [false],
  [Op.SigVerify]: [],
};

interface Batch {
  name: string;
  op: Op;
  count: number;
  inputs: BatchInput[];
  outputLengths: number[];
  parts: number;
  /** The next part to send, the parts sent and not answered, and those answered. */
  next: number;
  inFlight: number;
  done: number;
  outputs: Uint8Array[][];
  values: Float64Array;
  /** The failure of the earliest part that failed. */
  failure?: { part: number; error: PqcError };
  resolve(result: BatchResult): void;
  reject(error: PqcError): void;
}

interface Thread {
  worker: Worker;
  sent: Map<number, { batch: Batch; part: number; items: number }>;
  items: number;
  /** Set by the worker's 'error' event, which comes before its 'exit'. */
  error?: Error;
}

/**
 * A worker thread takes the process's options (loaders, --require hooks), as Node's default
 * does, unless the process was started with --input-type (`node --input-type=module -e …`),
 * with which a worker given a file refuses to start: it then takes none.
 */
const WORKER_OPTIONS = process.execArgv.some((arg) => arg.startsWith('--input-type')) ? { execArgv: [] } : {};

const partBounds = (batch: Batch, part: number) => [Math.floor((batch.count * part) / batch.parts), Math.floor((batch.count * (part + 1)) / batch.parts)] as const;

export class WasmWorkerPool {
  readonly #threads = new Set<Thread>();
  /** Calls with parts still to send, taking turns. */
  readonly #waiting: Batch[] = [];
  #nextId = 0;
  #closing = false;
  #closed: Promise<void> | undefined;
  #allExited: (() => void) | undefined;

  constructor(
    readonly entry: URL,
    readonly size: number,
  ) {}

  /** `op` on `count` items of `inputs`; each output item gets `outputLengths[k]` bytes. */
  run(name: string, op: Op, count: number, inputs: BatchInput[], outputLengths: number[]): Promise<BatchResult> {
    if (this.#closing) return Promise.reject(new PqcError('ERR_PQC_WORKER_FAILED', 'the WebAssembly worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.#waiting.push({
        name,
        op,
        count,
        inputs,
        outputLengths,
        parts: Math.max(Math.min(count, this.size), Math.ceil(count / MAX_PART)),
        next: 0,
        inFlight: 0,
        done: 0,
        outputs: outputLengths.map(() => new Array<Uint8Array>(count)),
        values: new Float64Array(count),
        resolve,
        reject,
      });
      this.#dispatch();
    });
  }

  /**
   * Lets the calls already made finish, then ends the threads; resolves once all have exited.
   * No call may be made after.
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#closed ??= new Promise<void>((resolve) => (this.#allExited = resolve));
    this.#endIfIdle();
    return this.#closed;
  }

  #dispatch(): void {
    while (this.#waiting.length > 0) {
      let thread: Thread | undefined;
      try {
        thread = this.#threadWithRoom();
      } catch (error) {
        // No thread could be made (out of memory, too many threads): the call next in turn fails.
        const batch = this.#waiting[0]!;
        this.#fail(batch, batch.next, new PqcError('ERR_PQC_WORKER_FAILED', `no WebAssembly worker thread could be started: ${(error as Error).message}`));
        this.#settleIfDone(batch);
        continue;
      }
      if (!thread) return;
      const batch = this.#waiting.shift()!;
      const part = batch.next++;
      if (batch.next < batch.parts) this.#waiting.push(batch);
      this.#send(thread, batch, part);
    }
  }

  /** The least busy thread with room, or a new one while every thread is busy and the pool has room. */
  #threadWithRoom(): Thread | undefined {
    let best: Thread | undefined;
    for (const thread of this.#threads) if (!best || thread.items < best.items) best = thread;
    if ((!best || best.items > 0) && this.#threads.size < this.size) return this.#start();
    return best && (best.items === 0 || best.items < ITEMS_AHEAD) ? best : undefined;
  }

  #start(): Thread {
    const worker = new Worker(this.entry, WORKER_OPTIONS);
    const thread: Thread = { worker, sent: new Map(), items: 0 };
    worker.unref();
    worker.on('message', (reply: PartReply) => this.#answered(thread, reply));
    worker.on('error', (error) => (thread.error = error));
    // A reply that cannot be received would leave its call waiting for ever: the thread is ended instead.
    worker.on('messageerror', (error) => {
      thread.error = error;
      void worker.terminate();
    });
    worker.on('exit', (code) => this.#exited(thread, code));
    this.#threads.add(thread);
    return thread;
  }

  #send(thread: Thread, batch: Batch, part: number): void {
    const [begin, end] = partBounds(batch, part);
    let packed: Pick<PartRequest, 'bytes' | 'layout'>;
    try {
      packed = packInputs(batch.inputs, begin, end);
    } catch (error) {
      this.#fail(batch, part, PqcError.from(error));
      this.#settleIfDone(batch);
      return;
    }
    const id = this.#nextId++;
    const request: PartRequest = { id, name: batch.name, op: batch.op, count: end - begin, outputLengths: batch.outputLengths, ...packed };
    if (thread.items === 0) thread.worker.ref();
    thread.sent.set(id, { batch, part, items: end - begin });
    thread.items += end - begin;
    batch.inFlight++;
    thread.worker.postMessage(request, [packed.bytes]);
  }

  #answered(thread: Thread, reply: PartReply): void {
    const sent = thread.sent.get(reply.id);
    if (!sent) return;
    this.#unsend(thread, reply.id);
    const { batch, part } = sent;
    if ('error' in reply) this.#fail(batch, part, new PqcError(reply.error.code, reply.error.message));
    else if (!batch.failure) {
      try {
        this.#collect(batch, part, reply);
      } catch (error) {
        this.#fail(batch, part, PqcError.from(error));
      }
    }
    if ('outputs' in reply && batch.failure) for (const buffer of reply.outputs) new Uint8Array(buffer).fill(0);
    this.#settleIfDone(batch);
    this.#dispatch();
    this.#endIfIdle();
  }

  #unsend(thread: Thread, id: number): void {
    const sent = thread.sent.get(id)!;
    thread.sent.delete(id);
    thread.items -= sent.items;
    sent.batch.inFlight--;
    if (thread.items === 0) thread.worker.unref();
  }

  /**
   * Public items are views of the part's buffer, which a transfer then cannot detach (one item's
   * transfer would take every other's memory); each secret item gets memory of its own, and the
   * shared copy is wiped.
   */
  #collect(batch: Batch, part: number, reply: { outputs: ArrayBuffer[]; values: Float64Array }): void {
    const [begin, end] = partBounds(batch, part);
    const secret = SECRET_OUTPUTS[batch.op];
    reply.outputs.forEach((buffer, k) => {
      const length = batch.outputLengths[k]!;
      const items = batch.outputs[k]!;
      const bytes = new Uint8Array(buffer);
      if (secret[k]) {
        for (let i = begin; i < end; i++) items[i] = SecretBytes.copyOf(bytes.subarray((i - begin) * length, (i - begin + 1) * length));
        bytes.fill(0);
      } else {
        markAsUntransferable(buffer);
        for (let i = begin; i < end; i++) items[i] = bytes.subarray((i - begin) * length, (i - begin + 1) * length);
      }
    });
    batch.values.set(reply.values, begin);
    batch.done++;
  }

  /** Records the failure of `part` and sends no more of the batch's parts. */
  #fail(batch: Batch, part: number, error: PqcError): void {
    if (!batch.failure || part < batch.failure.part) batch.failure = { part, error };
    const waiting = this.#waiting.indexOf(batch);
    if (waiting >= 0) this.#waiting.splice(waiting, 1);
  }

  /** Settles a call once no part of it is in flight and it has failed or has every part. */
  #settleIfDone(batch: Batch): void {
    if (batch.inFlight > 0) return;
    if (batch.failure) {
      // The caller never sees the outputs of the parts that did finish: they are wiped.
      for (const items of batch.outputs) for (const item of items) item?.fill(0);
      batch.reject(batch.failure.error);
    } else if (batch.done === batch.parts) {
      batch.resolve({ outputs: batch.outputs, values: batch.values });
    }
  }

  /** A thread that stops (terminated, out of memory, a crash) fails the parts it held; later calls start another. */
  #exited(thread: Thread, code: number): void {
    this.#threads.delete(thread);
    const cause = thread.error ? `: ${thread.error.message}` : '';
    for (const [id, { batch, part }] of [...thread.sent]) {
      this.#unsend(thread, id);
      this.#fail(batch, part, new PqcError('ERR_PQC_WORKER_FAILED', `a WebAssembly worker thread stopped (exit code ${code})${cause}`));
      this.#settleIfDone(batch);
    }
    this.#dispatch();
    this.#endIfIdle();
  }

  #endIfIdle(): void {
    if (!this.#closing || this.#waiting.length > 0) return;
    for (const thread of this.#threads) if (thread.items > 0) return;
    if (this.#threads.size === 0) this.#allExited?.();
    for (const thread of this.#threads) void thread.worker.terminate();
  }
}

// The compiled file beside this one in dist/; under the test runner, the TypeScript source
// (test/setup/typescript-in-workers.mjs lets a worker thread load it).
const WORKER_ENTRY = new URL('./wasm-worker.js', import.meta.url);

let pool: WasmWorkerPool | undefined;

/** The process's pool; made, with no thread yet, at the first call that needs it. */
export function wasmWorkerPool(): WasmWorkerPool {
  return (pool ??= new WasmWorkerPool(WORKER_ENTRY, POOL_SIZE));
}

/**
 * Ends the WebAssembly backend's worker threads once the calls already made have finished;
 * resolves when they have exited. A later call starts new ones. Never needed for a process to
 * exit: idle threads do not keep it alive.
 */
export async function closeWasmWorkers(): Promise<void> {
  const closing = pool;
  pool = undefined;
  await closing?.close();
}
