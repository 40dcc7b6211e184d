/**
 * Mutation scores per folder from a StrykerJS JSON report (mutation-testing-report-schema), as
 * Stryker counts them: detected (killed, timed out) over detected and undetected (survived, not
 * covered). Ignored mutants (static ones, and those with a `Stryker disable` comment giving why the
 * mutant is equivalent) and ones that do not compile or crash on load are left out.
 */
import { dirname, relative } from 'node:path';

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

/** lib/hybrid/xwing.ts → lib/hybrid; a file directly in lib/ is its own row. */
function folderOf(path) {
  const folder = dirname(path);
  return folder === 'lib' ? path : folder;
}

export function folderScores(report, root = process.cwd()) {
  const rows = new Map();
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const folder = folderOf(relative(root, file.startsWith('/') ? file : `${root}/${file}`));
    const row = rows.get(folder) ?? { folder, detected: 0, survived: 0, noCoverage: 0, ignored: 0, static: 0, total: 0 };
    for (const { status, static: isStatic } of mutants) {
      row.total++;
      if (DETECTED.has(status)) row.detected++;
      else if (status === 'Survived') row.survived++;
      else if (status === 'NoCoverage') row.noCoverage++;
      // Left out by `ignoreStatic` (stryker.config.mjs), or by a `Stryker disable` comment.
      else if (status === 'Ignored' && isStatic) row.static++;
      else if (status === 'Ignored') row.ignored++;
    }
    rows.set(folder, row);
  }
  return [...rows.values()].map((row) => {
    const valid = row.detected + row.survived + row.noCoverage;
    return { ...row, valid, score: valid === 0 ? 100 : (100 * row.detected) / valid };
  });
}

/**
 * Mutants that survived or were never reached, as `file:line status mutator → replacement`. A
 * static mutant that survived with fewer tests run than the target has may have made a test file
 * fail to load (StrykerJS's vitest runner counts only the tests that ran, so it says survived where
 * the plain suite fails), or may simply have run only the tests that cover it at run time too:
 * those are marked to be checked by hand (docs/reliability.md).
 */
export function undetected(report, root = process.cwd()) {
  const tests = Object.values(report.testFiles ?? {}).reduce((sum, { tests }) => sum + tests.length, 0);
  return Object.entries(report.files).flatMap(([file, { mutants }]) =>
    mutants
      .filter(({ status }) => UNDETECTED.has(status))
      .map((m) => {
        const loadFailure = m.status === 'Survived' && m.static && m.testsCompleted < tests;
        const where = `${relative(root, file)}:${m.location.start.line}`;
        return `${where} ${m.status} ${m.mutatorName} → ${JSON.stringify(m.replacement ?? '')}${loadFailure ? ` (static, ${m.testsCompleted} of ${tests} tests ran: check by hand whether a test file failed to load)` : ''}`;
      }),
  );
}
