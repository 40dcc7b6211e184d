import { afterEach, describe, expect, it, vi } from 'vitest';
import { info } from '../../lib/policy/policy-info.js';
import { stubEnvs } from './stub-envs.js';

/** info().policy in this process: each flag read from the environment on each call (README "Variables"). */
describe('info().policy', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('reports each flag as set, null for an invalid one, and every configuration error', () => {
    stubEnvs({
      X0TTA6BL4_PRODUCTION: 'true',
      X0TTA6BL4_ALLOW_MOCK_PQC: 'false',
      X0TTA6BL4_ALLOW_WASM_PQC: '',
      X0TTA6BL4_DISABLE_PQC: 'yes',
      X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '0',
    });
    expect(info().policy).toEqual({
      production: true,
      mockAllowed: false,
      wasmAllowed: false,
      pqcDisabled: null,
      mockInUse: false,
      wasmInProduction: false,
      fallback: null,
      configurationErrors: [
        'X0TTA6BL4_DISABLE_PQC must be "true" or "false", got "yes"',
        'X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS must be a number of seconds from 1 to 2147483, got "0"',
      ],
    });
  });

  it('tells the flags apart, and has no configuration error when every value is valid', () => {
    stubEnvs({
      X0TTA6BL4_PRODUCTION: 'false',
      X0TTA6BL4_ALLOW_MOCK_PQC: 'TRUE',
      X0TTA6BL4_ALLOW_WASM_PQC: 'false',
      X0TTA6BL4_DISABLE_PQC: ' true ',
      X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '60',
    });
    expect(info().policy).toMatchObject({
      production: false,
      mockAllowed: true,
      wasmAllowed: false,
      pqcDisabled: true,
      configurationErrors: [],
    });
    stubEnvs({ X0TTA6BL4_PRODUCTION: 'nope', X0TTA6BL4_ALLOW_WASM_PQC: 'True' });
    expect(info().policy).toMatchObject({ production: null, mockAllowed: true, wasmAllowed: true, pqcDisabled: true });
  });
});
