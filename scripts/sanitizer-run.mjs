// What test-asan.mjs and test-valgrind.mjs share: the package's root, running a step with its
// output shown, the CPU time that children used, and (test:asan) the built package's view of the
// backend as a child process with a given environment sees it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `command` with the output shown; its exit status (a signal counts as 128 + its number). */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 128 + (result.signal ? 9 : 0);
}

/**
 * CPU seconds (user + system) used by the children this process has waited for, theirs
 * included: a figure that a busy machine does not inflate the way it does wall time.
 */
export function childCpuSeconds() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // cutime and cstime are fields 16 and 17 of /proc/[pid]/stat, in clock ticks (100 a second).
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/**
 * What the built package (dist/) does in a child with `env`: its backend, the liboqs it loaded
 * and the shared objects mapped into it whose path matches `mapped` (the addon, a runtime).
 */
export function probe(env, mapped) {
  const script = `const pqc = await import(${JSON.stringify(path.join(root, 'dist/index.js'))});
    const { readFileSync } = await import('node:fs');
    const info = pqc.info();
    const maps = readFileSync('/proc/self/maps', 'utf8').split('\\n').map((line) => line.split(/\\s+/)[5] ?? '');
    console.log(JSON.stringify({ backend: info.backend, liboqs: info.liboqs?.version ?? null,
      why: info.nativeUnavailable?.code ?? null,
      mapped: [...new Set(maps.filter((file) => ${mapped}.test(file)))] }));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env, encoding: 'utf8' });
  const line = result.stdout?.trim().split('\n').pop();
  if (result.status !== 0 || !line) {
    throw new Error(`the package did not load (exit ${result.status ?? result.signal}): ${result.stderr?.trim()}`);
  }
  return JSON.parse(line);
}
