// Helpers the bench*.mjs scripts share: failing with the script's name, progress lines, one-line
// error text, the native-backend check, the calling thread's CPU time and what stalled its loop,
// and the child processes that bench-mesh.mjs, bench-control-plane.mjs and bench-throughput.mjs
// run each measurement in (the IPC message is { ok, result, error }).
// The timing and its statistics are the package's (dist/bench/timing.js).
import { fork } from 'node:child_process';
import fs from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** fail(message) for the script named `prefix`: prints "prefix: message" to stderr, exits 1. */
export function failer(prefix) {
  return (message) => {
    console.error(`${prefix}: ${message}`);
    process.exit(1);
  };
}

export const progress = (message) => process.stderr.write(`${message}\n`);

/** `text` on one line: its lines trimmed, the empty ones dropped, joined by spaces. */
export const oneLine = (text) =>
  String(text)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');

/** Calls `fail` unless the native backend is in use or `allowWasm` is set. */
export function requireNative(status, allowWasm, fail) {
  if (status.backend !== 'native' && !allowWasm) {
    fail(
      `this benchmark measures the native backend, but the ${status.backend} backend is in use` +
        (status.nativeUnavailable ? ` (${oneLine(status.nativeUnavailable.message)})` : '') +
        '; load liboqs (e.g. X0TTA6BL4_LIBOQS_PATH=/opt/liboqs/0.16.0/lib/liboqs.so) or pass --allow-wasm to measure it anyway',
    );
  }
}

/**
 * Runs `job` in a child process of `script` (with --expose-gc), the job as JSON in the
 * environment variable `jobEnv`; `env` is added to (or, as undefined, removed from) ours.
 * Resolves to the child's result.
 */
export function forkJob(script, jobEnv, job, env = {}) {
  return new Promise((resolve, reject) => {
    const childEnv = { ...process.env, [jobEnv]: JSON.stringify(job) };
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) delete childEnv[name];
      else childEnv[name] = value;
    }
    const child = fork(script, [], {
      execArgv: [...process.execArgv.filter((arg) => arg !== '--expose-gc'), '--expose-gc'],
      env: childEnv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let message;
    child.on('message', (received) => (message = received));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (message?.ok) resolve(message.result);
      else reject(new Error(`the ${job.mode} run failed (${signal ?? `exit ${code}`}): ${message?.error ?? 'no result'}`));
    });
  });
}

/**
 * In the child: runs `jobs[job.mode]` (after checking that `loadPackage` gives the parent's
 * backend), sends the result to the parent and exits; run by hand, prints it instead.
 */
export async function answerParent(job, loadPackage, jobs) {
  let message;
  try {
    const pkg = await loadPackage();
    if (pkg.info().backend !== job.backend) throw new Error(`the child uses the ${pkg.info().backend} backend, the parent ${job.backend}`);
    message = { ok: true, result: await jobs[job.mode](job) };
  } catch (error) {
    message = { ok: false, error: error?.stack ?? String(error) };
  }
  if (process.send) process.send(message, () => process.exit(message.ok ? 0 : 1));
  else {
    console.log(JSON.stringify(message, null, 2)); // run by hand, without a parent
    process.exitCode = message.ok ? 0 : 1;
  }
}

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');

/** A module of the built package, named by its path under dist/ (e.g. 'bench/timing.js'). */
export const dist = (file) => import(pathToFileURL(path.join(distRoot, ...file.split('/'))).href);

/** [time on a core, time waiting for one] of this thread so far, in ns (Linux's schedstat), or undefined. */
function schedstat() {
  try {
    return fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ', 2).map(Number);
  } catch {
    return undefined;
  }
}

/** CPU time this thread has run, in ns (Linux's schedstat), or undefined where there is none. */
export const threadCpuNs = () => schedstat()?.[0];

/**
 * The longest gap between calls of `tick()` (made on a 1 ms timer), when it began and ended
 * (performance.now() times), and how much of it this thread spent waiting for a core (ms;
 * undefined off Linux).
 */
export function gapWatch() {
  let last;
  let lastWait;
  let longest;
  const reset = () => {
    last = performance.now();
    lastWait = schedstat()?.[1];
    longest = { ms: 0, startMs: last, endMs: last, waitedMs: undefined };
  };
  reset();
  return {
    tick() {
      const now = performance.now();
      const wait = schedstat()?.[1];
      if (now - last > longest.ms) {
        longest = { ms: now - last, startMs: last, endMs: now, waitedMs: wait === undefined ? undefined : (wait - lastWait) / 1e6 };
      }
      last = now;
      lastWait = wait;
    },
    reset,
    longest: () => longest,
  };
}

/**
 * What made this thread's event loop stall, from now until `stop()`: the longest gap between
 * ticks of a 1 ms timer (ms), how much of that gap the thread spent waiting for a core (ms;
 * undefined off Linux), and the longest garbage collection (ms).
 */
export function stallCauses() {
  const watch = gapWatch();
  const ticker = setInterval(watch.tick, 1);
  const gc = longestCollection();
  return {
    async stop() {
      clearInterval(ticker);
      const { ms, waitedMs } = watch.longest();
      return { gapMs: ms, waitedMs, gcMs: await gc.end() };
    },
  };
}

/**
 * Every garbage collection from now until `stop()`: `longestBetween(start, end)` is the longest
 * that began in that span (performance.now() times), in ms, and `pausedBetween` their time in
 * it, once `settled()` has resolved. One log serves many rounds: waiting for the observer after
 * each would leave the pool idle between them, and a pool woken from idle runs the next round
 * slower (a batch of 256: 13.9 against 8.6 µs an item, median of the rounds).
 */
export function collectionLog() {
  const entries = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    // The observer is told of the last collections later, after the next turn (found by test).
    settled: () => new Promise((resolve) => setTimeout(resolve, 10)),
    longestBetween(start, end) {
      return entries.reduce((longest, entry) => (entry.startTime >= start && entry.startTime < end ? Math.max(longest, entry.duration) : longest), 0);
    },
    /** How much of the span collections took (their pauses' overlap with it), in ms. */
    pausedBetween(start, end) {
      return entries.reduce((paused, entry) => paused + Math.max(0, Math.min(end, entry.startTime + entry.duration) - Math.max(start, entry.startTime)), 0);
    },
    stop: () => observer.disconnect(),
  };
}

/** The longest garbage collection from now until `end()`, in ms. */
export function longestCollection() {
  const log = collectionLog();
  const start = performance.now();
  return {
    async end() {
      const end = performance.now();
      await log.settled();
      log.stop();
      return log.longestBetween(start, end);
    },
  };
}
