import { describe, expect, it } from 'vitest';
import { runInChild } from '../support/environment.js';
import { NO_LIBOQS_ENV, NO_NATIVE, nativeLiboqs, skipWithoutNative, SYSTEM_LIBOQS } from './support.js';

interface Served {
  /** startup()'s account of what serves PQC calls. */
  serving: string;
  /** The backend selected, as info() reports it. */
  selected: string;
  /** What an ML-KEM-768 made after start-up actually runs on, or the code refusing it. */
  served: string;
  metrics: string;
  started: Record<string, unknown>;
}

/** Starts a fresh process, then asks a PQC call what serves it. */
function serveIn(env: Record<string, string>, options = '{}'): Served {
  const { stdout, stderr } = runInChild(
    `const lines = [];
     const logger = pqc.createJsonLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line)) });
     const started = await pqc.startup({ ...${options}, logger });
     let served;
     try { served = new pqc.Kem('ML-KEM-768').backend; } catch (error) { served = error.code; }
     process.stdout.write(JSON.stringify({
       serving: started.serving,
       selected: started.backend.backend,
       served,
       metrics: await started.metrics.registry.metrics(),
       started: lines.find((line) => line.event === 'pqc_started'),
     }));`,
    env,
  );
  try {
    return JSON.parse(stdout) as Served;
  } catch {
    throw new Error(`the child printed no result.\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
}

const PRODUCTION = { X0TTA6BL4_PRODUCTION: 'true' };
const FORCED = { X0TTA6BL4_DISABLE_PQC: 'true' };

describe('startup() reports the backend that serves PQC calls, not merely the one selected', () => {
  it.skipIf(SYSTEM_LIBOQS)(`forced fallback in production without liboqs: nothing serves, and startup(), pqc_backend_info and the log say so ${SYSTEM_LIBOQS}`, () => {
    const outcome = serveIn({ ...PRODUCTION, ...FORCED, ...NO_LIBOQS_ENV });
    expect(outcome.selected).toBe('wasm');
    expect(outcome.served).toBe('ERR_PQC_PRODUCTION_REQUIRES_LIBOQS');
    expect(outcome.serving).toBe('none');
    expect(outcome.metrics).toMatch(/^pqc_backend_info\{backend="none",liboqs_version="",production="true",wasm_opt_in="false"\} 1$/m);
    expect(outcome.started).toMatchObject({ backend: 'none', liboqs: null, fallback: 'forced' });
  });

  it.skipIf(SYSTEM_LIBOQS)(`fallback by onPqcFailure in production without liboqs: nothing serves ${SYSTEM_LIBOQS}`, () => {
    const outcome = serveIn({ ...PRODUCTION, ...NO_LIBOQS_ENV }, `{ fallback: { onPqcFailure: 'fallback' } }`);
    expect(outcome.served).toBe('ERR_PQC_PRODUCTION_REQUIRES_LIBOQS');
    expect(outcome.serving).toBe('none');
    expect(outcome.metrics).toMatch(/^pqc_backend_info\{backend="none",/m);
  });

  it.skipIf(SYSTEM_LIBOQS)(`forced fallback outside production without liboqs: the WebAssembly liboqs still serves ${SYSTEM_LIBOQS}`, () => {
    const outcome = serveIn({ ...FORCED, ...NO_LIBOQS_ENV });
    expect(outcome.served).toBe('wasm');
    expect(outcome.serving).toBe('wasm');
    expect(outcome.metrics).toMatch(/^pqc_backend_info\{backend="wasm",liboqs_version="[\d.]+",/m);
  });

  it.skipIf(skipWithoutNative)(`forced fallback in production with liboqs: the native liboqs serves ${NO_NATIVE}`, () => {
    if (!nativeLiboqs) throw new Error(`PQC_REQUIRE_NATIVE=1, but ${NO_NATIVE}`);
    const outcome = serveIn({ ...PRODUCTION, ...FORCED, X0TTA6BL4_LIBOQS_PATH: nativeLiboqs });
    expect(outcome.served).toBe('native');
    expect(outcome.serving).toBe('native');
    expect(outcome.started).toMatchObject({ backend: 'native', fallback: 'forced' });
  });
});
