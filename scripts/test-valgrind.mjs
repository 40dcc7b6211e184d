// npm run test:valgrind: scripts/valgrind-workload.mjs (every KEM and signature scheme the loaded
// liboqs enables, sync, async and batch, every error the addon raises, worker_threads) under
// valgrind's memcheck, on the addon as npm builds it (build/Release). Fails on any memcheck error
// and on any definite leak that scripts/valgrind.supp does not explain; prints the figures.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { failer } from './bench-support.mjs';
import { childCpuSeconds, root, run } from './sanitizer-run.mjs';

const fail = failer('test:valgrind');
if (spawnSync('valgrind', ['--version']).error) fail('valgrind is not on PATH; one-time set-up: apt-get install valgrind');

const out = path.join(root, 'build-valgrind');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const log = path.join(out, 'memcheck.log');
const started = Date.now();
const cpuBefore = childCpuSeconds();
const stdout = path.join(out, 'workload.json');
const status = run('sh', ['-c', 'exec "$@" > "$0"', stdout, 'valgrind', '--tool=memcheck', '--error-exitcode=99',
  '--leak-check=full', '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite', '--num-callers=40',
  `--suppressions=${path.join(root, 'scripts/valgrind.supp')}`, `--log-file=${log}`,
  process.execPath, path.join(root, 'scripts/valgrind-workload.mjs')]);

const report = readFileSync(log, 'utf8');
const bytes = (kind) => Number(new RegExp(`${kind}: ([\\d,]+) bytes`).exec(report)?.[1].replace(/,/g, '') ?? NaN);
const errors = /ERROR SUMMARY: (\d+) errors/.exec(report);
const workload = JSON.parse(readFileSync(stdout, 'utf8').trim().split('\n').pop() || '{}');
const figures = {
  ...workload,
  errors: errors ? Number(errors[1]) : null,
  definitelyLost: bytes('definitely lost'),
  indirectlyLost: bytes('indirectly lost'),
  possiblyLost: bytes('possibly lost'),
  suppressedBytes: bytes('suppressed'),
  wallSeconds: Math.round((Date.now() - started) / 1000),
  cpuSeconds: Math.round(childCpuSeconds() - cpuBefore),
};
console.log(`test:valgrind: ${JSON.stringify(figures)}`);
writeFileSync(path.join(out, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
if (status !== 0 || figures.errors !== 0) {
  console.error(report.split('\n').filter((line) => !/^==\d+== (Memcheck|Copyright|Using|Command|Parent)/.test(line)).slice(0, 400).join('\n'));
  fail(`memcheck found ${figures.errors ?? 'an unknown number of'} error(s) or the workload failed (exit ${status}); the log is ${log}`);
}
