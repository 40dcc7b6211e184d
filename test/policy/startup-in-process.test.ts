import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { POLICY_VARIABLES } from '../../lib/policy/environment.js';
import type { StartupOptions } from '../../lib/policy/startup.js';
import { CHOSEN_WHY, requiresLiboqs, WASM_IN_USE, wasmInProduction } from './backends.js';
import { FakeClock } from './fake-clock.js';
import { stubEnvs } from './stub-envs.js';
import { captureLogger, NO_NATIVE, skipWithoutNative } from './support.js';

/**
 * startup() in the vitest process, each call on a fresh copy of the package (vi.resetModules):
 * start-up and backend selection are once per process, so startup.test.ts and
 * startup-serving.test.ts start child processes, where no mutant is active. The WebAssembly
 * liboqs is chosen by X0TTA6BL4_PQC_BACKEND=wasm, which this process can select on every
 * machine; the native case needs this run's liboqs.
 */
const REQUIRES_LIBOQS = requiresLiboqs(CHOSEN_WHY);
const WASM_IN_PRODUCTION = wasmInProduction(CHOSEN_WHY);

/** The fields of a log record this file checks: what the operator reads. */
const fields = ({ level, event, msg, ...rest }: Record<string, unknown>) => {
  const { time: _time, pid: _pid, hostname: _hostname, ...own } = rest;
  return { level, event, msg, ...own };
};

async function start(env: Record<string, string>, options: StartupOptions = {}) {
  vi.resetModules();
  stubEnvs(env);
  const { startup } = await import('../../lib/policy/startup.js');
  const { info } = await import('../../lib/policy/policy-info.js');
  const { Kem } = await import('../../lib/kem.js');
  const { logger, records } = captureLogger();
  const started = startup({ logger, ...options });
  return { started, records: () => records().map(fields), info, Kem };
}

/** Fallback options for a start-up that may enter fallback: a fake clock, and a shutdown that only records. */
function contained(fallback: StartupOptions['fallback'] = {}) {
  return { clock: new FakeClock(), shutdown: vi.fn(), ...fallback };
}

beforeEach(() => {
  for (const { name } of Object.values(POLICY_VARIABLES)) vi.stubEnv(name, undefined);
  vi.stubEnv('X0TTA6BL4_PQC_BACKEND', 'wasm');
});
afterEach(() => vi.unstubAllEnvs());

describe('startup() in process', () => {
  it('outside production on the WebAssembly liboqs: ready for sync calls, one warning, the info metric and the started line', async () => {
    const { started, records, Kem } = await start({ X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '600' });
    const result = await started;
    expect(result.serving).toBe('wasm');
    expect(result.warnings).toEqual([WASM_IN_USE]);
    expect(result.fallback.isEnabled()).toBe(false);
    expect(result.fallback.ttlSeconds).toBe(600);
    // ready() preloaded the WebAssembly instances: a sync call on this fresh copy works.
    const kem = new Kem('ML-KEM-768');
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    expect(kem.decapsulate(ciphertext, secretKey)).toEqual(sharedSecret);
    const version = result.backend.wasm!.version;
    expect(await result.metrics.registry.metrics()).toMatch(
      new RegExp(`^pqc_backend_info\\{backend="wasm",liboqs_version="${version.replaceAll('.', '\\.')}",production="false",wasm_opt_in="false"\\} 1$`, 'm'),
    );
    expect(records()).toEqual([
      { level: 40, event: 'pqc_startup_warning', msg: WASM_IN_USE },
      { level: 30, event: 'pqc_started', msg: 'PQC ready on the wasm backend', backend: 'wasm', liboqs: null, production: false, fallback: null },
    ]);
  });

  it.skipIf(skipWithoutNative)(`on the native liboqs: no warning, and its version in the metric and the started line ${NO_NATIVE}`, async () => {
    const { started, records } = await start({ X0TTA6BL4_PQC_BACKEND: 'native', X0TTA6BL4_PRODUCTION: 'true' });
    const result = await started;
    const version = result.backend.liboqs!.version;
    expect(result).toMatchObject({ serving: 'native', warnings: [] });
    expect(await result.metrics.registry.metrics()).toMatch(
      new RegExp(`^pqc_backend_info\\{backend="native",liboqs_version="${version.replaceAll('.', '\\.')}",production="true",wasm_opt_in="false"\\} 1$`, 'm'),
    );
    expect(records()).toEqual([
      { level: 30, event: 'pqc_started', msg: 'PQC ready on the native backend', backend: 'native', liboqs: version, production: true, fallback: null },
    ]);
  });

  it('fails closed in production on the WebAssembly liboqs, with one fatal line', async () => {
    const fallback = contained();
    const { started, records } = await start({ X0TTA6BL4_PRODUCTION: 'true' }, { fallback });
    await expect(started).rejects.toMatchObject({ name: 'PqcError', code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS', message: REQUIRES_LIBOQS });
    expect(records()).toEqual([
      { level: 60, event: 'pqc_startup_failed', msg: REQUIRES_LIBOQS, code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS', production: true },
    ]);
    expect(fallback.shutdown).not.toHaveBeenCalled();
  });

  it("onPqcFailure: 'fallback' turns that failure into fallback mode, with nothing serving PQC calls", async () => {
    const { started, records } = await start({ X0TTA6BL4_PRODUCTION: 'true' }, { fallback: contained({ onPqcFailure: 'fallback', ttlSeconds: 120 }) });
    const result = await started;
    expect(result).toMatchObject({ serving: 'none', warnings: [REQUIRES_LIBOQS] });
    expect(result.fallback).toMatchObject({ reason: 'pqc_unavailable', ttlSeconds: 120 });
    expect(await result.metrics.registry.metrics()).toMatch(/^pqc_backend_info\{backend="none",liboqs_version="",production="true",wasm_opt_in="false"\} 1$/m);
    expect(records().filter((r) => r.event !== 'pqc_fallback_enabled')).toEqual([
      { level: 40, event: 'pqc_startup_warning', msg: REQUIRES_LIBOQS },
      { level: 30, event: 'pqc_started', msg: 'started in PQC fallback mode (pqc_unavailable)', backend: 'none', liboqs: null, production: true, fallback: 'pqc_unavailable' },
    ]);
  });

  it('X0TTA6BL4_DISABLE_PQC=true starts forced fallback whatever the failure policy', async () => {
    const { started, records } = await start({ X0TTA6BL4_PRODUCTION: 'true', X0TTA6BL4_DISABLE_PQC: 'true' }, { fallback: contained() });
    const result = await started;
    expect(result).toMatchObject({ serving: 'none', warnings: [REQUIRES_LIBOQS] });
    expect(result.fallback).toMatchObject({ reason: 'forced', ttlSeconds: 3600 });
    expect(records().find((r) => r.event === 'pqc_started')).toMatchObject({ msg: 'started in PQC fallback mode (forced)', fallback: 'forced' });
  });

  it('production on the WebAssembly liboqs by opt-in says so: a warning, an error line, the metric label and info()', async () => {
    const { started, records, info } = await start({ X0TTA6BL4_PRODUCTION: 'true', X0TTA6BL4_ALLOW_WASM_PQC: 'true' });
    const result = await started;
    expect(result).toMatchObject({ serving: 'wasm', warnings: [WASM_IN_PRODUCTION] });
    expect(await result.metrics.registry.metrics()).toMatch(/^pqc_backend_info\{backend="wasm",liboqs_version="[\d.]+",production="true",wasm_opt_in="true"\} 1$/m);
    expect(info().policy.wasmInProduction).toBe(true);
    expect(records()).toEqual([
      { level: 40, event: 'pqc_startup_warning', msg: WASM_IN_PRODUCTION },
      {
        level: 50,
        event: 'pqc_wasm_in_production',
        msg: 'PRODUCTION ON THE WEBASSEMBLY LIBOQS (X0TTA6BL4_ALLOW_WASM_PQC=true): install a native liboqs 0.12 or newer',
      },
      { level: 30, event: 'pqc_started', msg: 'PQC ready on the wasm backend', backend: 'wasm', liboqs: null, production: true, fallback: null },
    ]);
  });

  it('a liboqs without ML-KEM-768 and ML-DSA-65 fails start-up outside production too, naming both, one per line', async () => {
    // A liboqs built without the two algorithms: the WebAssembly one, described without them.
    vi.doMock('../../lib/backend.js', async (importOriginal) => {
      const actual = await importOriginal<typeof import('../../lib/backend.js')>();
      const without = (names: string[], name: string) => names.filter((other) => other !== name);
      return {
        ...actual,
        info: () => {
          const real = actual.info();
          return { ...real, kems: without(real.kems, 'ML-KEM-768'), sigs: without(real.sigs, 'ML-DSA-65') };
        },
      };
    });
    try {
      const { started, records } = await start({}, { fallback: contained() });
      const where = `the WebAssembly liboqs ${(await import('../../lib/backend.js')).info().wasm!.version}`;
      const fix = 'install a liboqs built with it (the default build enables it)';
      const message = `${where} does not enable ML-KEM-768: ${fix}\n${where} does not enable ML-DSA-65: ${fix}`;
      await expect(started).rejects.toMatchObject({ code: 'ERR_PQC_UNSUPPORTED_ALGORITHM', message });
      expect(records()).toEqual([{ level: 60, event: 'pqc_startup_failed', msg: message, code: 'ERR_PQC_UNSUPPORTED_ALGORITHM', production: false }]);
    } finally {
      vi.doUnmock('../../lib/backend.js');
    }
  });
});
