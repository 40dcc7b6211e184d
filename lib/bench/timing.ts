import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * One implementation in a benchmark row: `measure(calls)` makes `calls` calls and gives the time
 * per item in ns; one call does `items` items (a batch's size, else 1).
 */
export interface Timer {
  readonly items: number;
  measure(calls: number): Promise<number>;
  /**
   * The time per call in ns after warming itself up, for timers that the doubling in
   * `calibrate` would make slow (a child process that warms up on every run).
   */
  calibrate?(): Promise<number>;
}

/**
 * A row's timers by the key of their column. A row is a list of these: an extra column is an
 * extra entry, and every summary and JSON object carries whatever keys the row has.
 */
export type NamedTimers = [key: string, timer: Timer][];

export interface RoundSettings {
  /** Alternating rounds per measurement. */
  rounds: number;
  /** Wall time of one measurement of one timer, ms. */
  targetMs: number;
  /** Warm-up (and calibration) of each timer, ms. */
  warmupMs: number;
}

/** RoundSettings for rows with a batch column. */
export interface BatchRoundSettings extends RoundSettings {
  /** Items per …Many call. */
  batch: number;
}

/** How long a benchmark runs: `full` for the figures, `quick` for a look, `smoke` to check that every row runs. */
export type Budget = 'full' | 'quick' | 'smoke';

/** How rounds are summarised: the best (interference on a shared machine only adds time), or the median. */
export type Stat = 'min' | 'median';

// Results land here so that no call can be optimised away.
const sink: { value: unknown } = { value: undefined };

const now = () => process.hrtime.bigint();

export function syncTimer(fn: () => unknown): Timer {
  return {
    items: 1,
    async measure(calls) {
      const start = now();
      for (let i = 0; i < calls; i++) sink.value = fn();
      return Number(now() - start) / calls;
    },
  };
}

/** `fn` awaited one call at a time. */
export function asyncTimer(fn: () => Promise<unknown>): Timer {
  return batchTimer(fn, 1);
}

/** `fn` does `items` items per call (a …Many call); the time is per item. */
export function batchTimer(fn: () => Promise<unknown>, items: number): Timer {
  return {
    items,
    async measure(calls) {
      const start = now();
      for (let i = 0; i < calls; i++) sink.value = await fn();
      return Number(now() - start) / (calls * items);
    },
  };
}

/**
 * A timer made on its first measurement (after a WebAssembly module has loaded, say), so that
 * building a row's timers costs nothing for the ones that never run.
 */
export function lazyTimer(items: number, make: () => Promise<Timer>): Timer {
  let timer: Timer | undefined;
  return {
    items,
    async measure(calls) {
      timer ??= await make();
      return timer.measure(calls);
    },
  };
}

let gc: (() => void) | undefined;

/**
 * A full collection, so that each measurement pays for its own garbage (the allocation and
 * collection of its outputs count) and not for the previous one's. V8 gives `gc` to a context
 * made after --expose-gc is set, so this works without the flag on the command line.
 */
export function collectGarbage(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  sink.value = undefined;
  gc();
}

/** Warms `timer` up for about `warmupMs` and returns its estimated time per call, ns. */
export async function calibrate(timer: Timer, warmupMs: number): Promise<number> {
  if (timer.calibrate) return (await timer.calibrate()) * timer.items;
  const budget = warmupMs * 1e6;
  let spent = 0;
  let perItem = 0;
  for (let calls = 1; ; calls *= 2) {
    perItem = await timer.measure(calls);
    spent += perItem * timer.items * calls;
    if (spent >= budget || calls >= 1 << 20) break;
  }
  return perItem * timer.items;
}

export interface AlternatingOptions {
  /** Scales the time per measurement (ML-DSA signing varies from call to call: it gets more). */
  weight?: number;
  /**
   * Each round starts this many timers further along the list, so that no timer always runs
   * first or after the same one (0: the same order every round).
   */
  stagger?: number;
  onRound?: (round: number) => void;
}

/**
 * Calibrates every timer, then runs them all in alternating rounds, each measurement from a
 * collected heap, so that whatever else the machine is doing falls on all of them alike.
 * Gives every round's ns per item, by key.
 */
export async function measureAlternating(timers: NamedTimers, settings: RoundSettings, options: AlternatingOptions = {}): Promise<Map<string, number[]>> {
  const { weight = 1, stagger = 0, onRound } = options;
  const entries = [];
  for (const [key, timer] of timers) {
    const perCall = await calibrate(timer, settings.warmupMs);
    const wanted = Math.ceil((settings.targetMs * weight * 1e6) / perCall);
    entries.push({ key, timer, calls: Math.max(timer.items > 1 ? 1 : 3, Math.min(wanted, 1 << 22)), samples: [] as number[] });
  }
  for (let round = 0; round < settings.rounds; round++) {
    onRound?.(round);
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[(k + round * stagger) % entries.length]!;
      collectGarbage();
      entry.samples.push(await entry.timer.measure(entry.calls));
    }
  }
  return new Map(entries.map((entry) => [entry.key, entry.samples]));
}

/**
 * The timers of several rows in one alternation (each round runs every timer of every row), so
 * that rows compared with each other share the machine's moods; each row's rounds by key.
 */
export async function measureTogether(rows: NamedTimers[], settings: RoundSettings, options: AlternatingOptions = {}): Promise<Map<string, number[]>[]> {
  const flat: NamedTimers = rows.flatMap((timers, r) => timers.map(([key, timer]): [string, Timer] => [`${r} ${key}`, timer]));
  const samples = await measureAlternating(flat, settings, options);
  return rows.map((timers, r) => new Map(timers.map(([key]) => [key, samples.get(`${r} ${key}`)!])));
}

/**
 * Runs every timer hot for about `ms` before anything is timed, so that no row pays for
 * compiling code that a later row shares.
 */
export async function warmUp(timers: NamedTimers, ms: number): Promise<void> {
  for (const [, timer] of timers) if (!timer.calibrate) await calibrate(timer, ms);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarise(values: readonly number[], stat: Stat): number {
  return stat === 'min' ? Math.min(...values) : median(values);
}

/** (max − min) ÷ median of the rounds: a large one means the machine was busy. */
export function spread(values: readonly number[]): number {
  return (Math.max(...values) - Math.min(...values)) / median(values);
}

/** Every key's rounds summarised. */
export function summariseAll(samples: Map<string, number[]>, stat: Stat): Record<string, number> {
  return Object.fromEntries([...samples].map(([key, values]) => [key, summarise(values, stat)]));
}

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** n, nearest-rank p50/p95/p99, mean, min and max of `samples`. */
export function percentiles(samples: readonly number[]): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { n: sorted.length, p50: at(50), p95: at(95), p99: at(99), mean, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}
