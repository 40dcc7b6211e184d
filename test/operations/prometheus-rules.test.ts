import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { missingPrometheus, rulesDir } from './prometheus-support.js';

const missing = missingPrometheus('promtool');

describe('the shipped Prometheus rules', () => {
  it.skipIf(missing !== '')(`are valid, and every alert fires and stays silent when its promtool cases say${missing ? ` (${missing})` : ''}`, () => {
    const check = spawnSync('promtool', ['check', 'rules', 'pqc.rules.yml'], { cwd: rulesDir, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('SUCCESS: 10 rules found');
    const test = spawnSync('promtool', ['test', 'rules', 'pqc.rules.test.yml'], { cwd: rulesDir, encoding: 'utf8' });
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toContain('SUCCESS');
  });
});
