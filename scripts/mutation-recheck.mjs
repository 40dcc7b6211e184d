#!/usr/bin/env node
/**
 * npm run test:mutation:recheck -- TARGET… [--all]
 *
 * Applies by hand each *static* mutant that a target's last StrykerJS run reports as survived
 * (`--all`: every survivor and uncovered mutant), one at a time, in a copy of the package, and
 * runs the target's test files in a fresh vitest process. Stryker switches a mutant on inside a
 * vitest process whose modules were loaded with it off, so a module-level value (a table, a
 * limit, a label) mutated that way is never seen by the tests that run afterwards: such a
 * mutant "survives" whatever the tests assert. This run, where the mutant is in the source from
 * the start, says whether it really does. Prints one line per mutant and the count per target;
 * exits 1 if any survives.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { MUTATION_TARGETS } from './mutation-targets.mjs';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const everySurvivor = args.includes('--all');
const targets = args.filter((arg) => !arg.startsWith('--'));
const unknown = targets.filter((target) => !(target in MUTATION_TARGETS));
if (targets.length === 0 || unknown.length > 0) {
  console.error(`usage: npm run test:mutation:recheck -- TARGET… [--all]; targets: ${Object.keys(MUTATION_TARGETS).join(', ')}`);
  process.exit(2);
}

// The copy sits where Stryker's sandboxes do, so that ../shared (the vectors) is the link
// scripts/mutation.mjs makes there.
const copy = join(root, '.stryker-tmp', `recheck-${process.pid}`);
// The package's own files as they are in the work tree (committed or not), and links to what is
// built or installed.
const LINKED = ['node_modules', 'build', 'prebuilds', 'dist'];

function makeCopy() {
  rmSync(copy, { recursive: true, force: true });
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && !LINKED.some((entry) => file === entry || file.startsWith(`${entry}/`)) && existsSync(join(root, file)));
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    copyFileSync(join(root, file), join(copy, file));
  }
  for (const entry of LINKED) if (existsSync(join(root, entry))) symlinkSync(join(root, entry), join(copy, entry));
  const shared = join(root, '.stryker-tmp', 'shared');
  if (!existsSync(shared) && existsSync(join(root, '..', 'shared'))) symlinkSync(join(root, '..', 'shared'), shared);
}

/** The source with one mutant applied; report locations are 1-based lines and columns. */
function applied(source, { location: { start, end }, replacement }) {
  const lines = source.split('\n');
  const offset = (at) => lines.slice(0, at.line - 1).reduce((sum, line) => sum + line.length + 1, 0) + at.column - 1;
  return source.slice(0, offset(start)) + replacement + source.slice(offset(end));
}

function runTests(target) {
  const run = spawnSync(process.execPath, [join(copy, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'vitest.mutation.config.ts', '--reporter', 'dot'], {
    cwd: copy,
    env: { ...process.env, PQC_MUTATION_TARGET: target },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { passed: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

makeCopy();
let survivors = 0;
try {
  for (const target of targets) {
    const reportPath = join(root, 'reports/mutation', `${target}.json`);
    if (!existsSync(reportPath)) {
      console.error(`${target}: no report at ${relative(root, reportPath)}; run npm run test:mutation -- ${target} first`);
      process.exitCode = 2;
      continue;
    }
    const unmutated = runTests(target);
    if (!unmutated.passed) throw new Error(`${target}: the tests fail without any mutant; fix that first:\n${unmutated.output.slice(-4000)}`);
    const report = JSON.parse(readFileSync(reportPath, 'utf8'));
    const counts = { killed: 0, survived: 0 };
    for (const [file, { source, mutants }] of Object.entries(report.files)) {
      const path = relative(root, resolve(root, file));
      if (readFileSync(join(root, path), 'utf8') !== source) {
        console.log(`  ${path}: changed since the report; run Stryker on it again`);
        continue;
      }
      const chosen = mutants.filter(({ status, static: isStatic }) => (everySurvivor ? status === 'Survived' || status === 'NoCoverage' : status === 'Survived' && isStatic));
      for (const mutant of chosen) {
        writeFileSync(join(copy, path), applied(source, mutant));
        const killed = !runTests(target).passed;
        writeFileSync(join(copy, path), source);
        counts[killed ? 'killed' : 'survived']++;
        const { line, column } = mutant.location.start;
        console.log(`  ${killed ? 'killed  ' : 'SURVIVED'} ${path}:${line}:${column} ${mutant.mutatorName} → ${JSON.stringify(mutant.replacement).slice(0, 80)}`);
      }
    }
    survivors += counts.survived;
    console.log(`${target}: ${counts.killed} killed, ${counts.survived} survived, applied by hand`);
  }
} finally {
  rmSync(copy, { recursive: true, force: true });
}
if (survivors > 0) process.exitCode = 1;
