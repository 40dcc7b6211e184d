import { PqcError } from '../errors.js';

/**
 * The production policy's environment variables. They are read each time they matter (each
 * construction of a mock KEM, each classical-only KEM operation, each start-up and doctor
 * run), not once at module load: a variable set by the process environment and one set in
 * `process.env` before the call behave the same, whatever the import order.
 *
 * A flag is "true" or "false" in any case, or unset/empty for its default. Anything else is a
 * configuration error rather than false: "X0TTA6BL4_PRODUCTION=1" must not quietly mean "not
 * production".
 */

export type Environment = Record<string, string | undefined>;

export interface PolicyVariableSpec {
  name: string;
  default: boolean | number;
  effect: string;
}

export const POLICY_VARIABLES = {
  production: {
    name: 'X0TTA6BL4_PRODUCTION',
    default: false,
    effect: 'production mode: the mock KEM is banned, start-up requires the native liboqs, X25519 alone works only in fallback',
  },
  allowMockPqc: {
    name: 'X0TTA6BL4_ALLOW_MOCK_PQC',
    default: false,
    effect: 'lets the mock KEM (SimplifiedNTRU) be constructed in production mode, with a critical log line; tests only',
  },
  allowWasmPqc: {
    name: 'X0TTA6BL4_ALLOW_WASM_PQC',
    default: false,
    effect: 'lets production mode run on the WebAssembly liboqs when the native one is unavailable, loudly',
  },
  disablePqc: {
    name: 'X0TTA6BL4_DISABLE_PQC',
    default: false,
    effect: 'operator-forced fallback: start-up enables classical-only mode (reason "forced") for the fallback TTL',
  },
  fallbackTtlSeconds: {
    name: 'X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS',
    default: 3600,
    effect: 'how long fallback mode may last before the shutdown action runs',
  },
} as const satisfies Record<string, PolicyVariableSpec>;

export interface Policy {
  production: boolean;
  allowMockPqc: boolean;
  allowWasmPqc: boolean;
  disablePqc: boolean;
  fallbackTtlSeconds: number;
}

/** Node's timers hold at most 2^31-1 ms; a longer fallback is not a containment measure anyway. */
export const MAX_FALLBACK_TTL_SECONDS = Math.floor(0x7fff_ffff / 1000);

export interface PolicyVariable extends PolicyVariableSpec {
  /** As set in the environment; undefined when unset. */
  raw: string | undefined;
  /** The value in force; undefined when `raw` is invalid. */
  value: boolean | number | undefined;
  error: string | null;
}

function parse(spec: PolicyVariableSpec, raw: string | undefined): Pick<PolicyVariable, 'value' | 'error'> {
  const text = raw?.trim() ?? '';
  if (text === '') return { value: spec.default, error: null };
  if (typeof spec.default === 'boolean') {
    const lower = text.toLowerCase();
    if (lower === 'true' || lower === 'false') return { value: lower === 'true', error: null };
    return { value: undefined, error: `${spec.name} must be "true" or "false", got "${raw}"` };
  }
  const seconds = Number(text);
  if (Number.isFinite(seconds) && seconds > 0 && seconds <= MAX_FALLBACK_TTL_SECONDS) {
    return { value: seconds, error: null };
  }
  return {
    value: undefined,
    error: `${spec.name} must be a number of seconds from 1 to ${MAX_FALLBACK_TTL_SECONDS}, got "${raw}"`,
  };
}

/** Every policy variable with its raw value, the value in force and any error, for doctor. */
export function policyVariables(env: Environment = process.env): PolicyVariable[] {
  return Object.values(POLICY_VARIABLES).map((spec) => ({ ...spec, raw: env[spec.name], ...parse(spec, env[spec.name]) }));
}

/** The policy in force; throws ERR_PQC_INVALID_CONFIGURATION naming every invalid variable. */
export function readPolicy(env: Environment = process.env): Policy {
  const errors: string[] = [];
  const read = <K extends keyof Policy>(key: K): Policy[K] => {
    const { value, error } = parse(POLICY_VARIABLES[key], env[POLICY_VARIABLES[key].name]);
    if (error) errors.push(error);
    return value as Policy[K];
  };
  const policy: Policy = {
    production: read('production'),
    allowMockPqc: read('allowMockPqc'),
    allowWasmPqc: read('allowWasmPqc'),
    disablePqc: read('disablePqc'),
    fallbackTtlSeconds: read('fallbackTtlSeconds'),
  };
  if (errors.length > 0) throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', errors.join('; '));
  return policy;
}

export type PolicyFlag = 'production' | 'allowMockPqc' | 'allowWasmPqc' | 'disablePqc';

/** One flag alone, for a check that needs no other variable (a typo elsewhere must not break it). */
export function readFlag(key: PolicyFlag, env: Environment = process.env): boolean {
  const { value, error } = parse(POLICY_VARIABLES[key], env[POLICY_VARIABLES[key].name]);
  if (error) throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', error);
  return value as boolean;
}
