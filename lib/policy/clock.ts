/**
 * Time as the fallback handler sees it, so that tests and embedders can substitute a fake
 * clock and never sleep.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * A monotonic clock, so that a wall-clock step (NTP, an operator's `date -s`) neither shortens
 * nor extends a fallback TTL. Its timers do not keep an otherwise idle process alive.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
