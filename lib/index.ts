// TypeScript 6 and later load no @types package a program does not ask for, and the published
// types need Node's (node:events, node:net, node:util): this makes every consumer's program ask.
/// <reference types="node" preserve="true" />
export { ready, type BackendChoice } from './backend.js';
export { info, type Info, type PolicyInfo } from './policy/policy-info.js';
export { Kem, type KemKeyPair, type Encapsulation, type KemOptions } from './kem.js';
export { Sig, type SigKeyPair, type SignOptions } from './sig.js';
export { PqcError, type PqcErrorCode } from './errors.js';
export { SecretBytes } from './bytes.js';
export { closeWasmWorkers } from './wasm/worker-pool.js';
export { createJsonLogger, type Logger, type LogFn, type LogLevel, type JsonLoggerOptions } from './logger.js';
export { pqcMetrics, HANDSHAKE_LATENCY_BUCKETS, type PqcMetrics } from './metrics.js';
export { startup, type Startup, type StartupOptions } from './policy/startup.js';
export {
  PQCFallbackHandler,
  type FallbackOptions,
  type FallbackAlert,
  type FallbackExpiry,
  type FallbackEvents,
  type Closable,
  type ShutdownAction,
  type ShutdownContext,
  type PqcFailurePolicy,
} from './policy/fallback-handler.js';
export type { Clock } from './policy/clock.js';
export { readPolicy, policyVariables, POLICY_VARIABLES, type Policy, type PolicyVariable } from './policy/environment.js';
export { MockKemFaults, MOCK_KEM_NAME, type MockFault, type MockOperation } from './policy/mock-kem.js';
export { X25519_KEM_NAME } from './policy/x25519-kem.js';
export { diagnose, type Diagnosis } from './policy/doctor.js';
export * from './mesh/index.js';
export { metricsHandler, serveMetrics, type MetricsServer } from './metrics-http.js';
export * from './control-plane/index.js';
