import { batchItem, type BatchInput, type Op } from '../engine.js';

/**
 * A part of a batch as it crosses to a worker thread and back. Its inputs, secret keys among
 * them, are copied into one buffer that is transferred (moved, never serialized into a copy
 * that no one wipes) and wiped by the worker once the part has run. Its outputs come back the
 * same way, one buffer per output, which the receiver wipes once it holds its own copies of any
 * secret ones.
 */
export interface PartRequest {
  id: number;
  name: string;
  op: Op;
  count: number;
  bytes: ArrayBuffer;
  /** Per input: [offset, length] of the value shared by every item, or the items' count + 1 offsets. */
  layout: Input[];
  outputLengths: number[];
}

type Input = { shared: [number, number] } | { offsets: number[] };

export type PartReply =
  | { id: number; outputs: ArrayBuffer[]; values: Float64Array<ArrayBuffer> }
  | { id: number; error: { code: string; message: string } };

/** Items `begin` to `end` of `inputs`, packed into one buffer of their own. */
export function packInputs(inputs: BatchInput[], begin: number, end: number): Pick<PartRequest, 'bytes' | 'layout'> {
  let size = 0;
  for (const input of inputs) {
    if (!Array.isArray(input)) size += input.byteLength;
    else for (let i = begin; i < end; i++) size += input[i]!.byteLength;
  }
  const bytes = new Uint8Array(new ArrayBuffer(size));
  let at = 0;
  const put = (value: Uint8Array) => {
    bytes.set(value, at);
    at += value.byteLength;
  };
  const layout = inputs.map((input): Input => {
    if (!Array.isArray(input)) {
      const shared: [number, number] = [at, input.byteLength];
      put(input);
      return { shared };
    }
    const offsets = [at];
    for (let i = begin; i < end; i++) {
      put(batchItem(input, i));
      offsets.push(at);
    }
    return { offsets };
  });
  return { bytes: bytes.buffer, layout };
}

/** The inputs of item `i` of a packed part, as views of its buffer. */
export function unpackedItem(bytes: Uint8Array, layout: Input[], i: number): Uint8Array[] {
  return layout.map((input) =>
    'shared' in input
      ? bytes.subarray(input.shared[0], input.shared[0] + input.shared[1])
      : bytes.subarray(input.offsets[i]!, input.offsets[i + 1]!),
  );
}
