import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withoutSanitizers } from './environment.js';

/**
 * Libraries that the loader must refuse, for tests of its refusals. A real liboqs 0.11 is used
 * where one is installed; otherwise a stand-in compiled here from a few lines of C (our own,
 * no liboqs code) plays the part: the loader reads OQS_version before it binds anything else,
 * so a library that reports "0.11.0" is, to it, exactly a liboqs 0.11.
 */
const INSTALLED_0_11 = '/opt/liboqs/0.11.0/lib';

export interface Fixture {
  /** A file or directory for X0TTA6BL4_LIBOQS_PATH, or null when none could be made. */
  path: string | null;
  /** What it is, for test names (which must not change from run to run). */
  description: string;
  /** Why there is none: the test's skip reason. */
  missing: string;
}

/**
 * A shared library compiled from `source` with `flags`, once per machine into a directory named
 * after them, and reused: test files run in parallel and may be stopped without an exit hook,
 * so nothing is made per run.
 */
export function compile(name: string, source: string, description: string, flags: readonly string[] = []): Fixture {
  const cc = process.env.CC ?? 'cc';
  const dir = path.join(tmpdir(), 'x0tta6bl4-pqc-fixtures', createHash('sha256').update(source).update(flags.join(' ')).digest('hex').slice(0, 16));
  const file = path.join(dir, name);
  if (existsSync(file)) return { path: file, description, missing: '' };
  mkdirSync(dir, { recursive: true });
  const partial = `${file}.${process.pid}`;
  writeFileSync(`${partial}.c`, source);
  const result = spawnSync(cc, ['-shared', '-fPIC', '-o', partial, `${partial}.c`, ...flags], { encoding: 'utf8', env: withoutSanitizers() });
  rmSync(`${partial}.c`, { force: true });
  if (result.status !== 0) {
    const why = result.error?.message ?? result.stderr.trim().split('\n')[0];
    return { path: null, description, missing: `cannot compile the stand-in library with ${cc}: ${why}` };
  }
  renameSync(partial, file);
  return { path: file, description, missing: '' };
}

let tooOld: Fixture | undefined;

/** A liboqs older than 0.12: the installed 0.11 release, or a stand-in reporting 0.11.0. */
export function liboqsTooOld(): Fixture {
  tooOld ??= existsSync(INSTALLED_0_11)
    ? { path: INSTALLED_0_11, description: `liboqs 0.11.0 at ${INSTALLED_0_11}`, missing: '' }
    : compile('liboqs.so.6', 'const char *OQS_version(void) { return "0.11.0"; }\n', 'a stand-in library reporting 0.11.0');
  return tooOld;
}

/** A shared library with no OQS_version: something else sitting where liboqs was expected. */
export function notLiboqs(): Fixture {
  return compile('liboqs.so', 'int unrelated(void) { return 0; }\n', 'a library without OQS_version');
}

/** A library claiming 0.12.0 that lacks the rest of liboqs's API. */
export function liboqsMissingSymbols(): Fixture {
  return compile('liboqs.so.7', 'const char *OQS_version(void) { return "0.12.0"; }\n', 'a library reporting 0.12.0 and nothing else');
}
