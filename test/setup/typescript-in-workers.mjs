// Passed to every test process with --import (vitest.config.ts), and so inherited by the worker
// threads they start: vitest compiles the TypeScript sources its tests import, but a worker
// thread is plain Node, which (20) cannot load the pool's worker entry, lib/wasm/wasm-worker.ts.
// In worker threads only, these hooks load lib/ from its sources, compiled as vitest compiles
// them (oxc, through rolldown, vite's bundler).
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (!isMainThread) register('./typescript-hooks.mjs', import.meta.url);
