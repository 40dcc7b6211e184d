import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../lib/mesh/replay-window.js';

describe('the RFC 6479 replay window', () => {
  it('accepts exactly the counters a set of seen counters and the window bound allow (fast-check, against a model)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat(300), fc.nat(20_000), fc.constant(0)), { maxLength: 400 }), fc.array(fc.boolean(), { maxLength: 400 }), (counters, authentic) => {
        const window = new ReplayWindow(4);
        const seen = new Set<number>();
        let highest = -1;
        counters.forEach((counter, i) => {
          const expected = counter > highest ? 'ok' : counter + window.size <= highest ? 'too_old' : seen.has(counter) ? 'replay' : 'ok';
          expect(window.check(counter)).toBe(expected);
          // Only what authenticated moves the window.
          if (expected === 'ok' && (authentic[i] ?? true)) {
            window.accept(counter);
            seen.add(counter);
            highest = Math.max(highest, counter);
          }
        });
      }),
      { numRuns: 300, seed: 6479 },
    );
  });

  it('handles counters beyond 2^32 and jumps larger than the ring', () => {
    const window = new ReplayWindow();
    window.accept(2 ** 40 + 5);
    expect(window.check(2 ** 40 + 5)).toBe('replay');
    expect(window.check(2 ** 40 + 4)).toBe('ok');
    window.accept(2 ** 41);
    expect(window.check(2 ** 40 + 4)).toBe('too_old');
    expect(window.check(2 ** 41 - 1)).toBe('ok');
    expect(window.size).toBe(4064);
  });

  it('refuses as too old exactly the counters `size` or more below the highest', () => {
    const window = new ReplayWindow();
    window.accept(window.size);
    expect(window.check(0)).toBe('too_old');
    expect(window.check(1)).toBe('ok');
    window.accept(1);
    expect(window.check(1)).toBe('replay');
  });

  it('with one block (size 0) takes only counters above the highest, from 0 on', () => {
    const window = new ReplayWindow(1);
    expect(window.size).toBe(0);
    expect(window.check(0)).toBe('ok');
    window.accept(0);
    expect(window.check(0)).toBe('too_old');
    expect(window.check(1)).toBe('ok');
    window.accept(5);
    expect(window.check(3)).toBe('too_old');
    expect(window.check(6)).toBe('ok');
  });

  it('clears the block it reuses when the window slides a whole ring forward', () => {
    // Four blocks of 32: counter 2 and counter 130 share block 0 of the ring (130 = 4 · 32 + 2).
    const window = new ReplayWindow(4);
    window.accept(2);
    window.accept(131);
    expect(window.check(130)).toBe('ok');
    expect(window.check(131)).toBe('replay');
  });

  it('clears every block it slides over, the last one included', () => {
    // Counter 33 is block 1, which block 5 (counters 160 to 191) reuses in a ring of four.
    const window = new ReplayWindow(4);
    window.accept(33);
    window.accept(100);
    window.accept(165);
    expect(window.check(161)).toBe('ok');
    expect(window.check(100)).toBe('replay');
    expect(window.check(33)).toBe('too_old');
  });
});
