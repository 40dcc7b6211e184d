import { parentPort } from 'node:worker_threads';
import { PqcError } from '../errors.js';
import { unpackedItem, type PartReply, type PartRequest } from './batch-part.js';
import { loadWasmAlgorithm, WasmKemEngine, WasmSigEngine } from './wasm-backend.js';

/**
 * A thread of the WebAssembly backend's pool (worker-pool.ts): runs each part it is sent on its
 * own liboqs-js instances, item by item, and sends back the outputs, or the error of the first
 * item that failed with its code.
 */

type Engine = WasmKemEngine | WasmSigEngine;
const engines = new Map<string, Promise<Engine>>();

function engineFor(name: string): Promise<Engine> {
  let engine = engines.get(name);
  if (!engine) {
    engine = loadWasmAlgorithm(name).then(async (algorithm) => {
      if (!algorithm) throw new PqcError('ERR_PQC_UNSUPPORTED_ALGORITHM', `${name} is not in the WebAssembly liboqs`);
      const created = algorithm.type === 'kem' ? new WasmKemEngine(name, algorithm) : new WasmSigEngine(name, algorithm);
      await created.ready();
      return created;
    });
    // A failed load is tried again by the next part, as on the calling thread.
    engine.catch(() => engines.delete(name));
    engines.set(name, engine);
  }
  return engine;
}

async function runPart({ id, name, op, count, bytes, layout, outputLengths }: PartRequest): Promise<PartReply> {
  const inputs = new Uint8Array(bytes);
  const outputs = outputLengths.map((length) => new ArrayBuffer(length * count));
  try {
    const engine = await engineFor(name);
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const out = outputs.map((buffer, k) => new Uint8Array(buffer, i * outputLengths[k]!, outputLengths[k]!));
      values[i] = engine.run(op, ...unpackedItem(inputs, layout, i), ...out);
    }
    return { id, outputs, values };
  } catch (error) {
    for (const buffer of outputs) new Uint8Array(buffer).fill(0);
    const { code, message } = PqcError.from(error);
    return { id, error: { code, message } };
  } finally {
    inputs.fill(0);
  }
}

parentPort!.on('message', (request: PartRequest) => {
  void runPart(request).then((reply) => parentPort!.postMessage(reply, 'outputs' in reply ? [...reply.outputs, reply.values.buffer] : []));
});
