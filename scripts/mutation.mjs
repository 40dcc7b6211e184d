#!/usr/bin/env node
/**
 * npm run test:mutation [-- TARGET… | --mutate PATTERN] [-- other StrykerJS options]
 *
 * Runs StrykerJS (stryker.config.mjs) once per target of scripts/mutation-targets.mjs, one after
 * another: all of them by default, the ones named, or the one whose folder holds the files of a
 * `--mutate` pattern (`--mutate 'lib/hybrid/**'`, `--mutate lib/hybrid/xwing.ts:120-130`). Other
 * options go to Stryker as they are (`--force` ignores the incremental files). Then prints the
 * score of each folder, and each mutant not detected, from the JSON reports in reports/mutation/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MUTATION_TARGETS } from './mutation-targets.mjs';
import { folderScores, undetected } from './mutation-scores.mjs';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const named = args.filter((arg) => arg in MUTATION_TARGETS);
const strykerArgs = args.filter((arg) => !(arg in MUTATION_TARGETS));
const mutateAt = strykerArgs.indexOf('--mutate');
const pattern = mutateAt >= 0 ? strykerArgs[mutateAt + 1] : undefined;

const targets = named.length > 0 ? named : pattern !== undefined ? [targetOf(pattern)] : Object.keys(MUTATION_TARGETS);

/** The target whose `mutate` patterns cover the files `pattern` names. */
function targetOf(pattern) {
  const path = pattern.replace(/:[\d:-]+$/, '');
  const found = Object.entries(MUTATION_TARGETS).find(([, { mutate }]) =>
    mutate.some((m) => path === m || path.startsWith(m.replace(/\*.*$/, '')) || m.startsWith(path.replace(/\*.*$/, ''))),
  );
  if (!found) {
    console.error(`--mutate ${pattern}: outside every mutation target (scripts/mutation-targets.mjs)`);
    process.exit(2);
  }
  return found[0];
}

// The tests read the shared vectors at ../shared beside the package; Stryker runs them in
// .stryker-tmp/sandbox-*/, whose ../shared this link provides.
mkdirSync(join(root, '.stryker-tmp'), { recursive: true });
const sharedLink = join(root, '.stryker-tmp', 'shared');
if (!existsSync(sharedLink) && existsSync(join(root, '..', 'shared'))) symlinkSync(join(root, '..', 'shared'), sharedLink);

let failed = false;
for (const target of targets) {
  console.log(`\n== mutation target ${target}: ${MUTATION_TARGETS[target].mutate.join(' ')}`);
  const run = spawnSync(process.execPath, [join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js'), 'run', 'stryker.config.mjs', ...strykerArgs], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PQC_MUTATION_TARGET: target },
  });
  if (run.status !== 0) failed = true;
}

console.log('\nMutation score per folder (killed + timed out) / (all − ignored):');
for (const target of targets) {
  const report = join(root, 'reports/mutation', `${target}.json`);
  if (!existsSync(report)) continue;
  const result = JSON.parse(readFileSync(report, 'utf8'));
  for (const row of folderScores(result, root)) {
    console.log(`  ${row.folder.padEnd(28)} ${row.score.toFixed(1).padStart(5)} %  (${row.detected}/${row.valid}; survived ${row.survived}, no coverage ${row.noCoverage}, equivalent ${row.ignored}, static left out ${row.static})`);
  }
  for (const line of undetected(result, root)) console.log(`    ${line}`);
}
process.exit(failed ? 1 : 0);
