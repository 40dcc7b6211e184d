import { availableParallelism } from 'node:os';

/**
 * How many threads a backend's pool runs at once: as many as the libuv pool has
 * (UV_THREADPOOL_SIZE, default 4), but no more than can run at once. Read once:
 * availableParallelism() is a system call, and every async call would pay it.
 */
export const parallelThreads = Math.min(Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4), availableParallelism());
