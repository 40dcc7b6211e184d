import { spawnSync } from 'node:child_process';
import { createJsonLogger } from '../../lib/logger.js';
import { environment, requireNative, runInChild } from '../support/environment.js';
import { liboqsTooOld } from '../support/old-liboqs.js';

/** A JSON logger whose lines the test reads back, exactly as they would be written. */
export function captureLogger() {
  const lines: string[] = [];
  const logger = createJsonLogger({ level: 'debug', write: (line) => lines.push(line) });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/**
 * The liboqs this suite runs on, passed to child processes by file so that they load exactly
 * it; null on the WebAssembly backend. Tests that need it skip with the reason, or fail under
 * PQC_REQUIRE_NATIVE=1.
 */
export const nativeLiboqs = environment.liboqs?.path ?? null;
export const NO_NATIVE = nativeLiboqs ? '' : `no native liboqs >= 0.12 in this run (${environment.nativeUnavailable?.code ?? 'wasm'})`;
export const skipWithoutNative = !nativeLiboqs && !requireNative;

/** A liboqs older than 0.12 (test/support/old-liboqs.ts), with the skip reason when none can be had. */
export const { path: LIBOQS_0_11, missing: NO_LIBOQS_0_11 } = liboqsTooOld();

/** No liboqs anywhere the loader looks, unless the system's loader cache has one. */
export const NO_LIBOQS_ENV = { X0TTA6BL4_LIBOQS_PATH: '/nonexistent' };

const cli = new URL('../../dist/cli.js', import.meta.url).pathname;

export function runCli(args: string[], env: Record<string, string>, cwd?: string) {
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A node whose loader cache holds a liboqs cannot be made to lack one by environment alone. */
export const SYSTEM_LIBOQS =
  runInChild('process.stdout.write(pqc.info().backend)', NO_LIBOQS_ENV).stdout === 'native'
    ? 'a system liboqs is in the dynamic loader cache, so its absence cannot be simulated'
    : '';
