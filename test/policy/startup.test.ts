import { describe, expect, it } from 'vitest';
import { runInChild } from '../support/environment.js';
import { LIBOQS_0_11, NO_LIBOQS_0_11, NO_LIBOQS_ENV, NO_NATIVE, nativeLiboqs, skipWithoutNative, SYSTEM_LIBOQS } from './support.js';

interface Outcome {
  ok: boolean;
  code?: string;
  message?: string;
  backend?: string;
  liboqs?: string | null;
  fallback?: string | null;
  policy?: { production: boolean; wasmInProduction: boolean; fallback: { enabled: boolean; reason: string | null } | null };
  metrics?: string;
  stderr: string;
}

/** start-up in a fresh process: backend selection is once per process. */
function startIn(env: Record<string, string>, options = '{}'): Outcome {
  const { stdout, stderr } = runInChild(
    `
    let result;
    try {
      const started = await pqc.startup(${options});
      const again = await pqc.startup();
      if (again !== started) throw new Error('startup() ran twice');
      result = {
        ok: true,
        backend: started.backend.backend,
        liboqs: started.backend.liboqs?.version ?? null,
        fallback: started.fallback.reason,
        policy: pqc.info().policy,
        metrics: await started.metrics.registry.metrics(),
      };
    } catch (error) {
      result = { ok: false, code: error.code, message: error.message };
    }
    process.stdout.write(JSON.stringify(result));`,
    env,
  );
  try {
    return { ...(JSON.parse(stdout) as Omit<Outcome, 'stderr'>), stderr };
  } catch {
    throw new Error(`the child printed no result.\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
}

const PRODUCTION = { X0TTA6BL4_PRODUCTION: 'true' };
function native() {
  if (!nativeLiboqs) throw new Error(`PQC_REQUIRE_NATIVE=1, but ${NO_NATIVE}`);
  return { X0TTA6BL4_LIBOQS_PATH: nativeLiboqs };
}

describe('fail-closed start-up in production mode', () => {
  it.skipIf(SYSTEM_LIBOQS)(`fails without liboqs, saying how to install it ${SYSTEM_LIBOQS}`, () => {
    const outcome = startIn({ ...PRODUCTION, ...NO_LIBOQS_ENV });
    expect(outcome).toMatchObject({ ok: false, code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS' });
    expect(outcome.message).toMatch(/requires the native liboqs/);
    expect(outcome.message).toMatch(/Install liboqs 0\.12\.0 or newer/);
    expect(outcome.message).toMatch(/X0TTA6BL4_LIBOQS_PATH/);
    expect(outcome.message).toMatch(/X0TTA6BL4_ALLOW_WASM_PQC=true/);
    expect(outcome.stderr).toMatch(/"level":60.*"event":"pqc_startup_failed"/);
  });

  it.skipIf(NO_LIBOQS_0_11)(`fails with liboqs 0.11, too old ${NO_LIBOQS_0_11}`, () => {
    const outcome = startIn({ ...PRODUCTION, X0TTA6BL4_LIBOQS_PATH: LIBOQS_0_11! });
    expect(outcome).toMatchObject({ ok: false, code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS' });
    expect(outcome.message).toMatch(/older than 0\.12\.0/);
    expect(outcome.message).toMatch(/0\.11\.0/);
    expect(outcome.message).toMatch(/Install liboqs 0\.12\.0 or newer/);
  });

  it.skipIf(skipWithoutNative)(`starts on the native liboqs ${NO_NATIVE}`, () => {
    const outcome = startIn({ ...PRODUCTION, ...native() });
    expect(outcome).toMatchObject({ ok: true, backend: 'native', fallback: null });
    expect(outcome.policy).toMatchObject({ production: true, wasmInProduction: false, fallback: { enabled: false } });
    expect(outcome.metrics).toMatch(new RegExp(`pqc_backend_info\\{backend="native",liboqs_version="${outcome.liboqs}",production="true",wasm_opt_in="false"\\} 1`));
    expect(outcome.metrics).toMatch(/^pqc_fallback_enabled 0$/m);
  });

  it.skipIf(skipWithoutNative)(`refuses the WebAssembly backend chosen by X0TTA6BL4_PQC_BACKEND ${NO_NATIVE}`, () => {
    const outcome = startIn({ ...PRODUCTION, ...native(), X0TTA6BL4_PQC_BACKEND: 'wasm' });
    expect(outcome).toMatchObject({ ok: false, code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS' });
    expect(outcome.message).toMatch(/X0TTA6BL4_PQC_BACKEND=wasm/);
  });

  it.skipIf(SYSTEM_LIBOQS)(`runs on WebAssembly only by explicit opt-in, loudly ${SYSTEM_LIBOQS}`, () => {
    const outcome = startIn({ ...PRODUCTION, ...NO_LIBOQS_ENV, X0TTA6BL4_ALLOW_WASM_PQC: 'true' });
    expect(outcome).toMatchObject({ ok: true, backend: 'wasm', fallback: null });
    expect(outcome.policy).toMatchObject({ production: true, wasmInProduction: true });
    expect(outcome.metrics).toMatch(/pqc_backend_info\{backend="wasm",liboqs_version="[\d.]+",production="true",wasm_opt_in="true"\} 1/);
    expect(outcome.stderr).toMatch(/"level":50.*"event":"pqc_wasm_in_production"/);
  });

  it.skipIf(SYSTEM_LIBOQS)(`never falls back silently: only an explicit failure policy turns a missing liboqs into fallback ${SYSTEM_LIBOQS}`, () => {
    const outcome = startIn({ ...PRODUCTION, ...NO_LIBOQS_ENV }, `{ fallback: { onPqcFailure: 'fallback' } }`);
    expect(outcome).toMatchObject({ ok: true, fallback: 'pqc_unavailable' });
    expect(outcome.policy?.fallback).toMatchObject({ enabled: true, reason: 'pqc_unavailable' });
    expect(outcome.metrics).toMatch(/^pqc_fallback_total\{reason="pqc_unavailable"\} 1$/m);
    expect(outcome.stderr).toMatch(/"level":60.*"event":"pqc_fallback_enabled"/);
  });

  it.skipIf(SYSTEM_LIBOQS)(`starts in forced fallback without liboqs when the operator disables PQC ${SYSTEM_LIBOQS}`, () => {
    const outcome = startIn({ ...PRODUCTION, ...NO_LIBOQS_ENV, X0TTA6BL4_DISABLE_PQC: 'true' });
    expect(outcome).toMatchObject({ ok: true, fallback: 'forced' });
    expect(outcome.metrics).toMatch(/^pqc_fallback_total\{reason="forced"\} 1$/m);
    expect(outcome.metrics).toMatch(/^pqc_fallback_enabled 1$/m);
  });

  it('fails on an invalid policy variable rather than guessing', () => {
    for (const env of [{ X0TTA6BL4_PRODUCTION: '1' }, { X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '1h' }] as Record<string, string>[]) {
      const outcome = startIn(env);
      expect(outcome, JSON.stringify(env)).toMatchObject({ ok: false, code: 'ERR_PQC_INVALID_CONFIGURATION' });
      expect(outcome.message).toContain(Object.keys(env)[0]);
    }
  });
});

describe('start-up outside production mode', () => {
  it.skipIf(SYSTEM_LIBOQS)(`uses the WebAssembly liboqs when no native one loads ${SYSTEM_LIBOQS}`, () => {
    const outcome = startIn(NO_LIBOQS_ENV);
    expect(outcome).toMatchObject({ ok: true, backend: 'wasm', fallback: null });
    expect(outcome.policy).toMatchObject({ production: false, wasmInProduction: false });
    expect(outcome.stderr).toMatch(/"level":40.*the WebAssembly liboqs is in use/);
  });

  it.skipIf(skipWithoutNative)(`prefers the native liboqs ${NO_NATIVE}`, () => {
    expect(startIn(native())).toMatchObject({ ok: true, backend: 'native' });
  });

  it('takes the fallback TTL from X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS', () => {
    const { stdout } = runInChild(
      `const { fallback } = await pqc.startup(); process.stdout.write(String(fallback.ttlSeconds));`,
      { X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS: '120' },
    );
    expect(stdout).toBe('120');
  });
});
