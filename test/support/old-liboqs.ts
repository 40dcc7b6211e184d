import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

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
  /** Why there is none: the test's skip reason. */
  missing: string;
}

function compile(name: string, source: string): Fixture {
  const cc = process.env.CC ?? 'cc';
  const dir = mkdtempSync(path.join(tmpdir(), 'pqc-fixture-'));
  const file = path.join(dir, name);
  writeFileSync(`${file}.c`, source);
  const result = spawnSync(cc, ['-shared', '-fPIC', '-o', file, `${file}.c`], { encoding: 'utf8' });
  if (result.status !== 0) {
    const why = result.error?.message ?? result.stderr.trim().split('\n')[0];
    return { path: null, missing: `cannot compile the stand-in library with ${cc}: ${why}` };
  }
  return { path: file, missing: '' };
}

let tooOld: Fixture | undefined;

/** A liboqs older than 0.12: the installed 0.11 release, or a stand-in reporting 0.11.0. */
export function liboqsTooOld(): Fixture {
  tooOld ??= existsSync(INSTALLED_0_11)
    ? { path: INSTALLED_0_11, missing: '' }
    : compile('liboqs.so.6', 'const char *OQS_version(void) { return "0.11.0"; }\n');
  return tooOld;
}

/** A shared library with no OQS_version: something else sitting where liboqs was expected. */
export function notLiboqs(): Fixture {
  return compile('liboqs.so', 'int unrelated(void) { return 0; }\n');
}

/** A library claiming 0.12.0 that lacks the rest of liboqs's API. */
export function liboqsMissingSymbols(): Fixture {
  return compile('liboqs.so.7', 'const char *OQS_version(void) { return "0.12.0"; }\n');
}
