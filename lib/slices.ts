/**
 * Per-item work of a batch on the calling thread (checking inputs, making result objects), done
 * in slices of SLICE_ITEMS between which the event loop turns: a batch of a million items must
 * not stall every other request a service is handling. A batch of one slice runs at once.
 */
export const SLICE_ITEMS = 1024;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** work(0), …, work(count - 1), in slices. */
export async function eachInSlices(count: number, work: (i: number) => void): Promise<void> {
  for (let begin = 0; begin < count; begin += SLICE_ITEMS) {
    if (begin > 0) await nextTurn();
    const end = Math.min(count, begin + SLICE_ITEMS);
    for (let i = begin; i < end; i++) work(i);
  }
}

/** [make(0), …, make(count - 1)], made in slices. */
export async function mapInSlices<T>(count: number, make: (i: number) => T): Promise<T[]> {
  const items = new Array<T>(count);
  await eachInSlices(count, (i) => (items[i] = make(i)));
  return items;
}
