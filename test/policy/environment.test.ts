import { describe, expect, it } from 'vitest';
import { MAX_FALLBACK_TTL_SECONDS, policyVariables, readFlag, readPolicy } from '../../lib/policy/environment.js';

describe('policy variables', () => {
  it('default to a development node with PQC on and a one-hour fallback TTL', () => {
    expect(readPolicy({})).toEqual({
      production: false,
      allowMockPqc: false,
      allowWasmPqc: false,
      disablePqc: false,
      fallbackTtlSeconds: 3600,
    });
  });

  it('read flags case-insensitively, trimmed, with empty meaning the default', () => {
    const env = {
      X0TTA6BL4_PRODUCTION: 'TRUE',
      X0TTA6BL4_ALLOW_MOCK_PQC: ' True ',
      X0TTA6BL4_ALLOW_WASM_PQC: '',
      X0TTA6BL4_DISABLE_PQC: 'False',
      X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: ' 90 ',
    };
    expect(readPolicy(env)).toEqual({
      production: true,
      allowMockPqc: true,
      allowWasmPqc: false,
      disablePqc: false,
      fallbackTtlSeconds: 90,
    });
    expect(readFlag('production', env)).toBe(true);
  });

  it('name every invalid variable in one error', () => {
    const env = { X0TTA6BL4_PRODUCTION: '1', X0TTA6BL4_DISABLE_PQC: 'yes', X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '0' };
    expect(() => readPolicy(env)).toThrow(
      expect.objectContaining({
        code: 'ERR_PQC_INVALID_CONFIGURATION',
        message: expect.stringMatching(/X0TTA6BL4_PRODUCTION.*X0TTA6BL4_DISABLE_PQC.*X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS/),
      }),
    );
    // Each variable's own error, as doctor lists it, separated by "; ".
    const each = policyVariables(env).flatMap((variable) => (variable.error ? [variable.error] : []));
    expect(each).toHaveLength(3);
    expect(() => readPolicy(env)).toThrow(expect.objectContaining({ message: each.join('; ') }));
  });

  it('bound the TTL by what a Node timer can hold', () => {
    const ttl = (value: string) => readPolicy({ X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: value }).fallbackTtlSeconds;
    expect(ttl(String(MAX_FALLBACK_TTL_SECONDS))).toBe(MAX_FALLBACK_TTL_SECONDS);
    for (const bad of [String(MAX_FALLBACK_TTL_SECONDS + 1), '-5', 'NaN', 'Infinity', '1h']) {
      expect(() => ttl(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION' }));
    }
  });

  it('a flag read alone ignores a typo in another variable', () => {
    expect(readFlag('production', { X0TTA6BL4_PRODUCTION: 'true', X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: 'x' })).toBe(true);
  });

  it('list every variable with its raw value, value in force, default and error, for doctor', () => {
    const variables = policyVariables({ X0TTA6BL4_PRODUCTION: 'maybe', X0TTA6BL4_ALLOW_WASM_PQC: 'true' });
    expect(variables.map((v) => v.name)).toEqual([
      'X0TTA6BL4_PRODUCTION',
      'X0TTA6BL4_ALLOW_MOCK_PQC',
      'X0TTA6BL4_ALLOW_WASM_PQC',
      'X0TTA6BL4_DISABLE_PQC',
      'X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS',
    ]);
    expect(variables[0]).toMatchObject({ raw: 'maybe', value: undefined, default: false, error: expect.stringContaining('"maybe"') });
    expect(variables[1]).toMatchObject({ raw: undefined, value: false, error: null });
    expect(variables[2]).toMatchObject({ raw: 'true', value: true, error: null });
    expect(variables.every((v) => v.effect.length > 0)).toBe(true);
  });
});
