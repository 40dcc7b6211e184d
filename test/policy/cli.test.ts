import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Diagnosis } from '../../lib/policy/doctor.js';
import { LIBOQS_0_11, NO_LIBOQS_0_11, NO_LIBOQS_ENV, NO_NATIVE, nativeLiboqs, runCli, skipWithoutNative, SYSTEM_LIBOQS } from './support.js';

function doctor(env: Record<string, string>) {
  const { status, stdout, stderr } = runCli(['doctor', '--json'], env);
  let diagnosis: Diagnosis;
  try {
    diagnosis = JSON.parse(stdout) as Diagnosis;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${status}).\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  return { status, diagnosis };
}

function native() {
  if (!nativeLiboqs) throw new Error(`PQC_REQUIRE_NATIVE=1, but ${NO_NATIVE}`);
  return { X0TTA6BL4_LIBOQS_PATH: nativeLiboqs };
}

const PRODUCTION = { X0TTA6BL4_PRODUCTION: 'true' };

describe('x0tta6bl4-pqc doctor --json', () => {
  it.skipIf(skipWithoutNative)(`production on native liboqs: ready, exit 0 ${NO_NATIVE}`, () => {
    const { status, diagnosis } = doctor({ ...PRODUCTION, ...native() });
    expect(status).toBe(0);
    expect(diagnosis).toMatchObject({ backend: 'native', production: true, ready: true, problems: [] });
    expect(diagnosis.liboqs?.path).toBe(nativeLiboqs);
    expect(diagnosis.liboqs?.version).toMatch(/^0\.(1[2-9]|[2-9]\d)\./);
    expect(diagnosis.kems).toContain('ML-KEM-768');
    expect(diagnosis.sigs).toContain('ML-DSA-65');
    expect(diagnosis.policy.X0TTA6BL4_PRODUCTION).toMatchObject({ raw: 'true', value: true, default: false });
    expect(Object.keys(diagnosis.policy)).toEqual([
      'X0TTA6BL4_PRODUCTION',
      'X0TTA6BL4_ALLOW_MOCK_PQC',
      'X0TTA6BL4_ALLOW_WASM_PQC',
      'X0TTA6BL4_DISABLE_PQC',
      'X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS',
    ]);
    expect(diagnosis.backendVariables).toEqual({ X0TTA6BL4_PQC_BACKEND: null, X0TTA6BL4_LIBOQS_PATH: nativeLiboqs });
  });

  it.skipIf(SYSTEM_LIBOQS)(`production without liboqs: not ready, exit 1, with the fix ${SYSTEM_LIBOQS}`, () => {
    const { status, diagnosis } = doctor({ ...PRODUCTION, ...NO_LIBOQS_ENV });
    expect(status).toBe(1);
    expect(diagnosis).toMatchObject({ backend: 'wasm', liboqs: null, production: true, ready: false });
    expect(diagnosis.problems).toHaveLength(1);
    expect(diagnosis.problems[0]).toMatch(/requires the native liboqs[\s\S]*Install liboqs 0\.12\.0 or newer[\s\S]*X0TTA6BL4_ALLOW_WASM_PQC=true/);
  });

  it.skipIf(NO_LIBOQS_0_11)(`production with liboqs 0.11: not ready, too old ${NO_LIBOQS_0_11}`, () => {
    const { status, diagnosis } = doctor({ ...PRODUCTION, X0TTA6BL4_LIBOQS_PATH: LIBOQS_0_11! });
    expect(status).toBe(1);
    expect(diagnosis).toMatchObject({ ready: false, nativeUnavailable: { code: 'ERR_PQC_LIBOQS_TOO_OLD' } });
    expect(diagnosis.problems[0]).toMatch(/older than 0\.12\.0/);
  });

  it.skipIf(SYSTEM_LIBOQS)(`outside production the WebAssembly liboqs is ready, with a warning ${SYSTEM_LIBOQS}`, () => {
    const { status, diagnosis } = doctor(NO_LIBOQS_ENV);
    expect(status).toBe(0);
    expect(diagnosis).toMatchObject({ backend: 'wasm', production: false, ready: true, problems: [] });
    expect(diagnosis.wasm?.package).toBe('@oqs/liboqs-js');
    expect(diagnosis.warnings.join('\n')).toMatch(/WebAssembly liboqs is in use/);
  });

  it.skipIf(SYSTEM_LIBOQS)(`production on WebAssembly by opt-in is ready, with a warning ${SYSTEM_LIBOQS}`, () => {
    const { status, diagnosis } = doctor({ ...PRODUCTION, ...NO_LIBOQS_ENV, X0TTA6BL4_ALLOW_WASM_PQC: 'true' });
    expect(status).toBe(0);
    expect(diagnosis).toMatchObject({ backend: 'wasm', ready: true });
    expect(diagnosis.warnings.join('\n')).toMatch(/X0TTA6BL4_ALLOW_WASM_PQC=true/);
  });

  it('production with the mock allowed, or PQC disabled, is not ready', () => {
    for (const variable of ['X0TTA6BL4_ALLOW_MOCK_PQC', 'X0TTA6BL4_DISABLE_PQC']) {
      const { status, diagnosis } = doctor({ ...PRODUCTION, X0TTA6BL4_ALLOW_WASM_PQC: 'true', [variable]: 'true' });
      expect(status, variable).toBe(1);
      expect(diagnosis.ready).toBe(false);
      expect(diagnosis.problems.join('\n')).toContain(`${variable}=true`);
    }
  });

  it('an invalid variable is a problem, and an invalid X0TTA6BL4_PRODUCTION counts as production', () => {
    const { status, diagnosis } = doctor({ X0TTA6BL4_PRODUCTION: 'yes' });
    expect(status).toBe(1);
    expect(diagnosis).toMatchObject({ production: true, ready: false });
    expect(diagnosis.policy.X0TTA6BL4_PRODUCTION).toMatchObject({ raw: 'yes', value: null });
    expect(diagnosis.problems[0]).toMatch(/X0TTA6BL4_PRODUCTION must be "true" or "false", got "yes"/);
  });
});

describe('x0tta6bl4-pqc doctor (text)', () => {
  it.skipIf(SYSTEM_LIBOQS)(`prints a verdict and the problems ${SYSTEM_LIBOQS}`, () => {
    const { status, stdout } = runCli(['doctor'], { ...PRODUCTION, ...NO_LIBOQS_ENV });
    expect(status).toBe(1);
    expect(stdout).toMatch(/^verdict +NOT READY$/m);
    expect(stdout).toMatch(/^production +yes$/m);
    expect(stdout).toMatch(/^X0TTA6BL4_PRODUCTION +"true" -> true \(default false\)$/m);
    expect(stdout).toMatch(/^problems:\n {2}- production mode/m);
  });
});

describe('x0tta6bl4-pqc selftest', () => {
  it('is the default command: round trips on the selected backend', () => {
    const { status, stdout, stderr } = runCli([], nativeLiboqs ? { X0TTA6BL4_LIBOQS_PATH: nativeLiboqs } : {});
    expect(status, stderr).toBe(0);
    expect(stdout).toMatch(new RegExp(`^backend +${nativeLiboqs ? 'native' : 'wasm'}`, 'm'));
    expect(stdout).toMatch(/^ML-KEM-768 +ok$/m);
    expect(stdout).toMatch(/^ML-DSA-65 +ok$/m);
  });

  it.skipIf(SYSTEM_LIBOQS)(`fails closed in production without liboqs ${SYSTEM_LIBOQS}`, () => {
    const { status, stdout, stderr } = runCli(['selftest'], { ...PRODUCTION, ...NO_LIBOQS_ENV });
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/x0tta6bl4-pqc: ERR_PQC_PRODUCTION_REQUIRES_LIBOQS: .*requires the native liboqs/);
  });

});

// Each case is a process of its own; on a loaded machine a handful of them outlast the default timeout.
describe('x0tta6bl4-pqc usage', { timeout: 60_000 }, () => {
  const USAGE = /^usage: x0tta6bl4-pqc \[selftest\]$[\s\S]*doctor \[--json\]/m;

  function usageError(args: string[], message: string) {
    const { status, stdout, stderr } = runCli(args, {});
    expect(status, args.join(' ')).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.split('\n')[0]).toBe(`x0tta6bl4-pqc: ${message}`);
    expect(stderr).toMatch(USAGE);
    // parseArgs' own wording ("Unknown option '--x'. To specify a positional argument ...") never shows.
    expect(stderr).not.toMatch(/Unknown option|positional argument|does not take an argument/);
  }

  it('names an unknown command and lists the commands', () => {
    usageError(['frobnicate'], 'unknown command "frobnicate"; the commands are selftest, doctor, policy check, mesh-demo, bench, help');
    usageError(['__proto__'], 'unknown command "__proto__"; the commands are selftest, doctor, policy check, mesh-demo, bench, help');
  });

  it('names an option or argument a command does not take', () => {
    usageError(['doctor', '--bogus'], 'doctor takes only --json, got "--bogus"');
    usageError(['doctor', '-j'], 'doctor takes only --json, got "-j"');
    usageError(['selftest', '--json'], 'selftest takes no options, got "--json"');
    usageError(['--json'], 'selftest (the default command) takes no options, got "--json"');
    usageError(['doctor', '--json=yes'], '--json takes no value, got "--json=yes"');
    usageError(['doctor', 'now'], 'doctor takes no arguments, got "now"');
    usageError(['doctor', '--', '--json'], 'doctor takes no arguments, got "--json"');
  });

  it('help, --help and -h print the usage and exit 0, whatever else is on the line', () => {
    for (const args of [['help'], ['--help'], ['-h'], ['doctor', '--help'], ['help', 'doctor']]) {
      const { status, stdout, stderr } = runCli(args, {});
      expect(status, args.join(' ')).toBe(0);
      expect(stdout).toMatch(USAGE);
      expect(stderr).toBe('');
    }
  });

  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const { status, stdout } = runCli(['--version'], {});
    expect(status).toBe(0);
    expect(stdout).toBe(`${version}\n`);
  });
});
