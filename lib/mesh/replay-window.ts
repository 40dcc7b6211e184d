/**
 * RFC 6479's sliding anti-replay window: a ring of 32-bit blocks; a counter is new if it is
 * above the highest seen, or inside the window with its bit clear. `check` is side-effect free
 * so that the caller can decrypt first and `accept` only what authenticated — a forged record
 * must not move the window.
 */
const BLOCK_BITS = 32;

export class ReplayWindow {
  readonly #blocks: Uint32Array;
  readonly #mask: number;
  /** Counters this far below the highest are too old; one block is the ring's spare. */
  readonly size: number;
  #highest = -1;

  /** `blocks` must be a power of two; the default (128) gives a 4064-counter window. */
  constructor(blocks = 128) {
    this.#blocks = new Uint32Array(blocks);
    this.#mask = blocks - 1;
    this.size = (blocks - 1) * BLOCK_BITS;
  }

  /** 'ok', or why the counter must be refused. */
  check(counter: number): 'ok' | 'replay' | 'too_old' {
    if (counter > this.#highest) return 'ok';
    if (counter + this.size <= this.#highest) return 'too_old';
    const block = Math.floor(counter / BLOCK_BITS) & this.#mask;
    return this.#blocks[block]! & (1 << counter % BLOCK_BITS) ? 'replay' : 'ok';
  }

  /** Marks `counter` seen; call only after `check` said 'ok' and the record authenticated. */
  accept(counter: number): void {
    const index = Math.floor(counter / BLOCK_BITS);
    // Stryker disable next-line EqualityOperator: `>=` adds only counter === highest, for which the block clears 0 blocks and sets highest to itself: the same as skipping it
    if (counter > this.#highest) {
      // Before the first counter, floor(-1 / 32) = -1: the block before block 0.
      const current = Math.floor(this.#highest / BLOCK_BITS);
      // Blocks the window slides over are cleared; after a jump of the whole ring, all of them.
      const steps = Math.min(index - current, this.#blocks.length);
      for (let i = 1; i <= steps; i++) this.#blocks[(current + i) & this.#mask] = 0;
      this.#highest = counter;
    }
    const block = index & this.#mask;
    this.#blocks[block] = this.#blocks[block]! | (1 << counter % BLOCK_BITS);
  }
}
