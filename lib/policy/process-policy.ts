import { createJsonLogger, type Logger } from '../logger.js';
import type { PQCFallbackHandler } from './fallback-handler.js';

/**
 * What this process's policy has done so far, for `info()` and for the KEMs that consult the
 * policy: the logger and fallback handler start-up installed, and the production overrides in
 * force. Module state, so one per process (and per test file, which vitest isolates).
 */
export interface ProcessPolicyState {
  logger: Logger;
  /** The handler start-up created; null before start-up. */
  fallback: PQCFallbackHandler | null;
  /** A mock KEM was constructed in production under X0TTA6BL4_ALLOW_MOCK_PQC. */
  mockUsedInProduction: boolean;
  /** Start-up accepted the WebAssembly backend in production under X0TTA6BL4_ALLOW_WASM_PQC. */
  wasmInProduction: boolean;
}

export const processPolicy: ProcessPolicyState = {
  logger: createJsonLogger(),
  fallback: null,
  mockUsedInProduction: false,
  wasmInProduction: false,
};
