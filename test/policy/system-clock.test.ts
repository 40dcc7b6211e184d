import { describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/policy/clock.js';

describe('systemClock', () => {
  it("reads performance.now(), the monotonic clock, not the wall clock", () => {
    const before = performance.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(performance.now());
  });

  it('runs a timer that does not keep the process alive, and cancels one', async () => {
    const fired: string[] = [];
    const kept = systemClock.setTimeout(() => fired.push('kept'), 1) as NodeJS.Timeout;
    const cancelled = systemClock.setTimeout(() => fired.push('cancelled'), 1) as NodeJS.Timeout;
    expect(kept.hasRef()).toBe(false);
    systemClock.clearTimeout(cancelled);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fired).toEqual(['kept']);
  });
});
