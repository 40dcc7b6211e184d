import { info as backendInfo, type Info as BackendInfo } from '../backend.js';
import { POLICY_VARIABLES, policyVariables, type PolicyFlag } from './environment.js';
import { processPolicy } from './process-policy.js';

export interface PolicyInfo {
  /** Each flag as set now; null when its variable holds an invalid value. */
  production: boolean | null;
  mockAllowed: boolean | null;
  wasmAllowed: boolean | null;
  pqcDisabled: boolean | null;
  /** A mock KEM was constructed in production under X0TTA6BL4_ALLOW_MOCK_PQC. */
  mockInUse: boolean;
  /** Start-up accepted the WebAssembly liboqs in production under X0TTA6BL4_ALLOW_WASM_PQC. */
  wasmInProduction: boolean;
  /** This process's fallback mode; null before start-up. */
  fallback: { enabled: boolean; expired: boolean; reason: string | null; remainingSeconds: number | null; ttlSeconds: number } | null;
  configurationErrors: string[];
}

export interface Info extends BackendInfo {
  policy: PolicyInfo;
}

/** The backend in use (see backend.ts) and the production policy's state in this process. */
export function info(): Info {
  const variables = policyVariables();
  const flag = (key: PolicyFlag) => {
    const value = variables.find((variable) => variable.name === POLICY_VARIABLES[key].name)!.value;
    return value === undefined ? null : (value as boolean);
  };
  const handler = processPolicy.fallback;
  return {
    ...backendInfo(),
    policy: {
      production: flag('production'),
      mockAllowed: flag('allowMockPqc'),
      wasmAllowed: flag('allowWasmPqc'),
      pqcDisabled: flag('disablePqc'),
      mockInUse: processPolicy.mockUsedInProduction,
      wasmInProduction: processPolicy.wasmInProduction,
      fallback: handler && {
        enabled: handler.isEnabled(),
        expired: handler.isExpired(),
        reason: handler.reason,
        remainingSeconds: handler.remainingSeconds(),
        ttlSeconds: handler.ttlSeconds,
      },
      configurationErrors: variables.flatMap((variable) => (variable.error ? [variable.error] : [])),
    },
  };
}
