import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { POLICY_VARIABLES } from '../../lib/policy/environment.js';
import type { Diagnosis } from '../../lib/policy/doctor.js';
import { CHOSEN_WHY, NATIVE, requiresLiboqs, WASM_IN_USE, wasmInProduction } from './backends.js';
import { stubEnvs } from './stub-envs.js';

/**
 * `x0tta6bl4-pqc doctor` in this process: diagnose() and formatDiagnosis() called as the CLI
 * calls them (cli.test.ts runs the CLI itself, in child processes, where no mutant is active).
 * diagnose() runs on the WebAssembly liboqs, chosen by X0TTA6BL4_PQC_BACKEND=wasm, so that every
 * machine sees the same backend; the policy variables are set in process.env before each call,
 * as README's "When the variables are read" allows.
 */
let doctor: typeof import('../../lib/policy/doctor.js');

const POLICY_NAMES = Object.values(POLICY_VARIABLES).map((spec) => spec.name);
const WASM_IN_PRODUCTION = wasmInProduction(CHOSEN_WHY);
const MOCK_ALLOWED = 'X0TTA6BL4_ALLOW_MOCK_PQC=true lifts the ban on the mock KEM, which has no security: unset it in production';
const pqcDisabled = (ttl: number) =>
  `X0TTA6BL4_DISABLE_PQC=true: start-up enters classical-only fallback mode and shuts the node down after ${ttl} s; unset it to run with PQC`;

beforeAll(async () => {
  vi.stubEnv('X0TTA6BL4_PQC_BACKEND', 'wasm');
  vi.resetModules();
  doctor = await import('../../lib/policy/doctor.js');
});

describe('diagnose()', () => {
  beforeEach(() => {
    vi.stubEnv('X0TTA6BL4_PQC_BACKEND', 'wasm');
    vi.stubEnv('X0TTA6BL4_LIBOQS_PATH', undefined);
    for (const name of POLICY_NAMES) vi.stubEnv(name, undefined);
  });
  afterEach(() => vi.unstubAllEnvs());

  it('reports the backend, every variable and a ready verdict for a development node', () => {
    vi.stubEnv('X0TTA6BL4_LIBOQS_PATH', '/opt/liboqs');
    const diagnosis = doctor.diagnose();
    expect(diagnosis).toMatchObject({
      backend: 'wasm',
      liboqs: null,
      wasm: { package: '@oqs/liboqs-js' },
      production: false,
      ready: true,
      problems: [],
      warnings: [WASM_IN_USE],
    });
    expect(diagnosis.kems).toContain('ML-KEM-768');
    expect(diagnosis.sigs).toContain('ML-DSA-65');
    expect(diagnosis.policy).toEqual(
      Object.fromEntries(
        Object.values(POLICY_VARIABLES).map((spec) => [spec.name, { raw: null, value: spec.default, default: spec.default, effect: spec.effect, error: null }]),
      ),
    );
    expect(diagnosis.backendVariables).toEqual({ X0TTA6BL4_PQC_BACKEND: 'wasm', X0TTA6BL4_LIBOQS_PATH: '/opt/liboqs' });
  });

  it('in production on the WebAssembly liboqs without the opt-in: not ready, with the fix', () => {
    stubEnvs({ X0TTA6BL4_PRODUCTION: 'true' });
    expect(doctor.diagnose()).toMatchObject({
      production: true,
      ready: false,
      problems: [requiresLiboqs(CHOSEN_WHY)],
      warnings: [],
    });
  });

  it('in production with the opt-in: ready, with the warning, and the values in force', () => {
    stubEnvs({ X0TTA6BL4_PRODUCTION: 'TRUE', X0TTA6BL4_ALLOW_WASM_PQC: 'true', X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '120' });
    const diagnosis = doctor.diagnose();
    expect(diagnosis).toMatchObject({ production: true, ready: true, problems: [], warnings: [WASM_IN_PRODUCTION] });
    expect(diagnosis.policy.X0TTA6BL4_PRODUCTION).toEqual({ raw: 'TRUE', value: true, default: false, effect: POLICY_VARIABLES.production.effect, error: null });
    expect(diagnosis.policy.X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS).toMatchObject({ raw: '120', value: 120, default: 3600 });
  });

  it('X0TTA6BL4_DISABLE_PQC=true is a problem in production and a warning elsewhere, naming the TTL', () => {
    stubEnvs({ X0TTA6BL4_PRODUCTION: 'true', X0TTA6BL4_ALLOW_WASM_PQC: 'true', X0TTA6BL4_DISABLE_PQC: 'true', X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '120' });
    expect(doctor.diagnose()).toMatchObject({ ready: false, problems: [pqcDisabled(120)], warnings: [WASM_IN_PRODUCTION] });
    stubEnvs({ X0TTA6BL4_PRODUCTION: 'false', X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '' });
    expect(doctor.diagnose()).toMatchObject({ production: false, ready: true, problems: [], warnings: [WASM_IN_USE, pqcDisabled(3600)] });
  });

  it('X0TTA6BL4_ALLOW_MOCK_PQC=true is a problem in production only', () => {
    stubEnvs({ X0TTA6BL4_PRODUCTION: 'true', X0TTA6BL4_ALLOW_WASM_PQC: 'true', X0TTA6BL4_ALLOW_MOCK_PQC: 'true' });
    expect(doctor.diagnose()).toMatchObject({ ready: false, problems: [MOCK_ALLOWED], warnings: [WASM_IN_PRODUCTION] });
    stubEnvs({ X0TTA6BL4_PRODUCTION: 'false' });
    expect(doctor.diagnose()).toMatchObject({ ready: true, problems: [], warnings: [WASM_IN_USE] });
  });

  it('an invalid variable is a problem that stops the other checks; an invalid X0TTA6BL4_PRODUCTION counts as production', () => {
    stubEnvs({ X0TTA6BL4_PRODUCTION: 'yes', X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '1h' });
    const diagnosis = doctor.diagnose();
    expect(diagnosis).toMatchObject({
      production: true,
      ready: false,
      problems: [
        'X0TTA6BL4_PRODUCTION must be "true" or "false", got "yes"',
        'X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS must be a number of seconds from 1 to 2147483, got "1h"',
      ],
      warnings: [],
    });
    expect(diagnosis.policy.X0TTA6BL4_PRODUCTION).toEqual({
      raw: 'yes',
      value: null,
      default: false,
      effect: POLICY_VARIABLES.production.effect,
      error: 'X0TTA6BL4_PRODUCTION must be "true" or "false", got "yes"',
    });
  });

  it('an invalid variable beside X0TTA6BL4_PRODUCTION=false or unset leaves the node out of production', () => {
    stubEnvs({ X0TTA6BL4_PRODUCTION: 'false', X0TTA6BL4_ALLOW_MOCK_PQC: '1' });
    expect(doctor.diagnose()).toMatchObject({ production: false, ready: false, problems: ['X0TTA6BL4_ALLOW_MOCK_PQC must be "true" or "false", got "1"'] });
    stubEnvs({ X0TTA6BL4_PRODUCTION: '' });
    expect(doctor.diagnose()).toMatchObject({ production: false, ready: false });
  });
});

const NATIVE_READY: Diagnosis = {
  ...NATIVE,
  production: true,
  policy: Object.fromEntries(
    Object.values(POLICY_VARIABLES).map((spec) => [spec.name, { raw: null, value: spec.default, default: spec.default, effect: spec.effect, error: null }]),
  ),
  backendVariables: { X0TTA6BL4_PQC_BACKEND: null, X0TTA6BL4_LIBOQS_PATH: '/opt/liboqs/0.16.0/lib' },
  ready: true,
  problems: [],
  warnings: [],
};
NATIVE_READY.policy.X0TTA6BL4_PRODUCTION = { ...NATIVE_READY.policy.X0TTA6BL4_PRODUCTION!, raw: 'true', value: true };

/** README's example of a command's output: the lines after `$ <command>`, up to `$ echo $?`. */
function readmeExample(heading: string): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = readme.split(`${heading}\n\n\`\`\`\n`)[1]!.split('\n$ echo $?')[0]!;
  return block.slice(block.indexOf('\n') + 1);
}

describe('formatDiagnosis()', () => {
  it("prints README's ready production node exactly", () => {
    const meshSuites =
      'XWING-MLDSA65: yes; X25519MLKEM768-MLDSA65: yes; MLKEM1024-MLDSA87: yes; CLASSICAL-X25519-MLDSA65: yes (only while in fallback mode)';
    expect(doctor.formatDiagnosis(NATIVE_READY, [['mesh suites', meshSuites]])).toBe(readmeExample('A ready production node:'));
  });

  it('pads the labels to the longest, and lists problems and warnings with their continuation lines indented', () => {
    const d: Diagnosis = {
      ...NATIVE_READY,
      backend: 'wasm',
      liboqs: null,
      wasm: { package: '@oqs/liboqs-js', version: '0.15.1' },
      kems: ['BIKE-L1', 'HQC-128', 'ML-KEM-1024', 'ML-KEM-512', 'ML-KEM-768', 'sntrup761', 'X25519-ML-KEM-768'],
      sigs: ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87', 'Falcon-512', 'SPHINCS+-SHA2-128f-simple', 'HashML-DSA-65'],
      capabilities: { kemKeypairDerand: true, kemEncapsDerand: false, sigContext: false },
      production: false,
      policy: { X0TTA6BL4_PRODUCTION: { raw: 'yes', value: null, default: false, effect: '', error: 'bad' } },
      backendVariables: { X0TTA6BL4_PQC_BACKEND: 'wasm' },
      ready: false,
      problems: ['first line\nsecond line', 'another'],
      warnings: ['a warning'],
    };
    expect(doctor.formatDiagnosis(d)).toBe(
      [
        'backend                wasm',
        'liboqs                 WebAssembly @oqs/liboqs-js 0.15.1',
        'KEMs                   7 enabled, including ML-KEM-1024, ML-KEM-512, ML-KEM-768 (--json lists all)',
        'signatures             ML-DSA-44, ML-DSA-65, ML-DSA-87, Falcon-512, SPHINCS+-SHA2-128f-simple, HashML-DSA-65',
        'capabilities           ML-KEM key pair from seed: yes, encapsulation from seed: no, signature context: no',
        'production             no',
        'X0TTA6BL4_PRODUCTION   "yes" -> INVALID (default false)',
        'X0TTA6BL4_PQC_BACKEND  "wasm"',
        'verdict                NOT READY',
        '',
        'problems:',
        '  - first line',
        '    second line',
        '  - another',
        '',
        'warnings:',
        '  - a warning',
      ].join('\n'),
    );
  });

  it('says "none" for no backend and no algorithms, and prints nothing after a verdict with no problem or warning', () => {
    const d: Diagnosis = { ...NATIVE_READY, backend: 'none', liboqs: null, kems: [], sigs: ['ML-DSA-65'], policy: {}, backendVariables: {} };
    expect(doctor.formatDiagnosis(d, [['a long extra row', 'x']])).toBe(
      [
        'backend           none',
        'liboqs            none',
        'KEMs              none',
        'signatures        ML-DSA-65',
        'capabilities      ML-KEM key pair from seed: yes, encapsulation from seed: yes, signature context: yes',
        'production        yes',
        'a long extra row  x',
        'verdict           READY',
      ].join('\n'),
    );
  });
});
