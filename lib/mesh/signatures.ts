import type { BackendChoice } from '../backend.js';
import { Sig } from '../sig.js';

// Sig objects hold no per-use state: one per algorithm and backend serves every node, control
// plane and validator of the process (a fresh one per receiver costs its set-up on every first batch).
const shared = new Map<string, Sig>();

export function sigFor(algorithm: string, backend?: BackendChoice): Sig {
  const key = `${backend ?? 'auto'}\0${algorithm}`;
  let sig = shared.get(key);
  if (!sig) shared.set(key, (sig = new Sig(algorithm, { backend })));
  return sig;
}

export interface SignedItem {
  data: Uint8Array;
  signature: Uint8Array;
  algorithm: string;
  publicKey: Uint8Array;
}

/** Verifies `items` with one pooled verifyMany per signature algorithm; the answers in order. */
export async function verifyAll(items: SignedItem[]): Promise<boolean[]> {
  const results: boolean[] = [];
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => {
    const group = groups.get(item.algorithm);
    if (group) group.push(i);
    else groups.set(item.algorithm, [i]);
  });
  for (const [algorithm, indexes] of groups) {
    const valid = await sigFor(algorithm).verifyMany(
      indexes.map((i) => items[i]!.data),
      indexes.map((i) => items[i]!.signature),
      indexes.map((i) => items[i]!.publicKey),
    );
    indexes.forEach((i, k) => (results[i] = valid[k]!));
  }
  return results;
}
