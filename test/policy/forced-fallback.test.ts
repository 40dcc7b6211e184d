import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { Kem } from '../../lib/kem.js';
import type { FallbackAlert } from '../../lib/policy/fallback-handler.js';
import { info } from '../../lib/policy/policy-info.js';
import { startup } from '../../lib/policy/startup.js';
import { X25519_KEM_NAME } from '../../lib/policy/x25519-kem.js';
import { toHex } from '../support/environment.js';
import { FakeClock } from './fake-clock.js';
import { captureLogger } from './support.js';

/**
 * The containment plan's test_forced_fallback: with X0TTA6BL4_DISABLE_PQC=true the node enters
 * fallback, alerts, counts it, keeps serving with reduced security, and shuts down after the
 * TTL. In-process (this file is its own process under vitest): the variables are set in
 * process.env before start-up.
 */
describe('forced fallback (X0TTA6BL4_DISABLE_PQC=true) in production mode', () => {
  it('enables fallback, alerts, counts, keeps serving, and shuts down after the TTL', async () => {
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    process.env.X0TTA6BL4_DISABLE_PQC = 'true';
    const clock = new FakeClock();
    const registry = new Registry();
    const { logger, lines, records } = captureLogger();
    const alerts: FallbackAlert[] = [];
    const shutdown = vi.fn();

    const { fallback } = await startup({ registry, logger, fallback: { clock, shutdown, on: { alert: (a) => alerts.push(a) } } });

    // 1. Fallback mode is on, for the reason "forced".
    expect(fallback.isEnabled()).toBe(true);
    expect(fallback.reason).toBe('forced');
    expect(info().policy.fallback).toMatchObject({ enabled: true, reason: 'forced', remainingSeconds: 3600, ttlSeconds: 3600 });

    // 2. The alert went out: the event and a critical log line.
    expect(alerts).toEqual([{ reason: 'forced', ttlSeconds: 3600, remainingSeconds: 3600 }]);
    expect(records().filter((r) => r.event === 'pqc_fallback_enabled')).toEqual([
      expect.objectContaining({ level: 60, reason: 'forced', ttlSeconds: 3600 }),
    ]);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/^pqc_fallback_total\{reason="forced"\} 1$/m);
    expect(metrics).toMatch(/^pqc_fallback_enabled 1$/m);

    // 3. The node keeps serving, with classical-only key exchange, until just before the TTL.
    const kem = new Kem(X25519_KEM_NAME);
    const secrets: string[] = [];
    const handshake = () => {
      const { publicKey, secretKey } = kem.generateKeyPair();
      const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
      const received = kem.decapsulate(ciphertext, secretKey);
      secrets.push(toHex(secretKey), toHex(sharedSecret));
      return toHex(received) === toHex(sharedSecret);
    };
    expect(handshake()).toBe(true);
    clock.advance(3_599_000);
    expect(fallback.checkTtl()).toBe(false);
    expect(handshake()).toBe(true);
    expect(shutdown).not.toHaveBeenCalled();

    // 4. At the TTL the shutdown action runs, once, and classical-only exchange stops.
    clock.advance(1000);
    await vi.waitFor(() => expect(shutdown).toHaveBeenCalledOnce());
    expect(shutdown.mock.calls[0]![0]).toMatchObject({ reason: 'forced', elapsedSeconds: 3600 });
    expect(records().filter((r) => r.event === 'pqc_fallback_expired')).toEqual([expect.objectContaining({ level: 60 })]);
    expect(handshake).toThrow(expect.objectContaining({ code: 'ERR_PQC_CLASSICAL_REQUIRES_FALLBACK' }));

    // No key or shared secret reached a log line.
    const log = lines.join('');
    for (const secret of secrets) expect(log).not.toContain(secret);
  });
});
