import { Registry } from 'prom-client';
import { info as backendInfo, ready, servingBackend, type Info as BackendInfo } from '../backend.js';
import type { BackendName } from '../engine.js';
import { PqcError } from '../errors.js';
import type { Logger } from '../logger.js';
import { pqcMetrics, type PqcMetrics } from '../metrics.js';
import { readPolicy, type Policy } from './environment.js';
import { PQCFallbackHandler, type FallbackOptions } from './fallback-handler.js';
import { processPolicy } from './process-policy.js';
import { assessBackend } from './readiness.js';

export interface StartupOptions {
  /** Default: JSON lines on stderr. A pino logger fits. */
  logger?: Logger;
  /** Where the metrics go; default a new registry (never prom-client's global one), see `metrics.registry`. */
  registry?: Registry;
  /** The fallback handler's TTL (default X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS), failure policy, clock, shutdown. */
  fallback?: Omit<FallbackOptions, 'logger' | 'registry'>;
}

export interface Startup {
  policy: Policy;
  /**
   * The liboqs that serves PQC calls: 'none' when every one is refused, as in a fallback that
   * started for want of an acceptable liboqs (then `backend` still describes the one selected).
   */
  serving: BackendName | 'none';
  /** `info()` of the selected backend at start-up (without `policy`). */
  backend: BackendInfo;
  /** This process's fallback handler; the classical-only KEM consults it in production. */
  fallback: PQCFallbackHandler;
  metrics: PqcMetrics;
  warnings: string[];
}

let started: Promise<Startup> | undefined;

/**
 * The start-up check every service (and the mesh layer, and the CLI) awaits first; once per
 * process — later calls get the first call's result and ignore their options.
 *
 * - X0TTA6BL4_DISABLE_PQC=true: fallback mode, reason "forced", for the TTL.
 * - Production mode: the native liboqs (0.12 or newer) must serve the node, or the WebAssembly
 *   one under X0TTA6BL4_ALLOW_WASM_PQC=true; otherwise start-up fails with
 *   ERR_PQC_PRODUCTION_REQUIRES_LIBOQS saying how to install it — unless the fallback options
 *   say onPqcFailure: 'fallback', in which case fallback mode starts (reason "pqc_unavailable").
 * - Otherwise: the native liboqs, else the WebAssembly one; neither is an error.
 */
export function startup(options: StartupOptions = {}): Promise<Startup> {
  return (started ??= start(options));
}

async function start(options: StartupOptions): Promise<Startup> {
  const logger = (processPolicy.logger = options.logger ?? processPolicy.logger);
  const policy = readPolicy();
  const metrics = pqcMetrics(options.registry ?? new Registry());
  const fallback = new PQCFallbackHandler({
    ...options.fallback,
    ttlSeconds: options.fallback?.ttlSeconds ?? policy.fallbackTtlSeconds,
    logger,
    registry: metrics.registry,
  });
  processPolicy.fallback = fallback;

  const backend = backendInfo();
  const { problems, warnings, wasmInProduction } = assessBackend(policy, backend);
  if (problems.length > 0) {
    const message = problems.map((problem) => problem.message).join('\n');
    if (policy.disablePqc || fallback.handlePqcFailure('pqc_unavailable')) {
      warnings.push(message);
    } else {
      logger.fatal({ event: 'pqc_startup_failed', code: problems[0]!.code, production: policy.production }, message);
      throw new PqcError(problems[0]!.code, message);
    }
  } else {
    await ready();
  }
  if (policy.disablePqc) fallback.enable('forced');

  const serving = servingBackend();
  processPolicy.wasmInProduction = wasmInProduction;
  for (const warning of warnings) logger.warn({ event: 'pqc_startup_warning' }, warning);
  if (wasmInProduction) {
    logger.error(
      { event: 'pqc_wasm_in_production' },
      'PRODUCTION ON THE WEBASSEMBLY LIBOQS (X0TTA6BL4_ALLOW_WASM_PQC=true): install a native liboqs 0.12 or newer',
    );
  }
  metrics.backendInfo.set(
    {
      backend: serving,
      liboqs_version: serving === 'none' ? '' : (backend.liboqs?.version ?? backend.wasm!.version),
      production: String(policy.production),
      wasm_opt_in: String(wasmInProduction),
    },
    1,
  );
  logger.info(
    {
      event: 'pqc_started',
      backend: serving,
      // A selected native liboqs always serves (production refuses only the WebAssembly one).
      liboqs: backend.liboqs?.version ?? null,
      production: policy.production,
      fallback: fallback.reason,
    },
    fallback.isEnabled()
      ? `started in PQC fallback mode (${fallback.reason})`
      : `PQC ready on the ${serving} backend`,
  );
  return { policy, serving, backend, fallback, metrics, warnings };
}
