import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_FALLBACK_TTL_SECONDS } from '../../lib/policy/environment.js';
import { PQCFallbackHandler, type FallbackOptions, type ShutdownContext } from '../../lib/policy/fallback-handler.js';
import { FakeClock } from './fake-clock.js';
import { captureLogger } from './support.js';

function setup(options: FallbackOptions = {}) {
  const clock = new FakeClock();
  const registry = new Registry();
  const { logger, records } = captureLogger();
  const shutdowns: ShutdownContext[] = [];
  const handler = new PQCFallbackHandler({
    clock,
    registry,
    logger,
    shutdown: (context) => void shutdowns.push(context),
    ...options,
  });
  const alerts: unknown[] = [];
  const expiries: unknown[] = [];
  handler.on('alert', (alert) => alerts.push(alert));
  handler.on('expired', (expiry) => expiries.push(expiry));
  return { handler, clock, registry, records, shutdowns, alerts, expiries };
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name)!;
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('PQCFallbackHandler', () => {
  it('enable: critical log, alert with reason and TTL, counter +1, gauge 1, TTL clock started', async () => {
    const { handler, registry, records, alerts, clock } = setup();
    expect(handler.isEnabled()).toBe(false);
    expect(await value(registry, 'pqc_fallback_enabled')).toBe(0);

    handler.enable('liboqs_error');

    expect(handler.isEnabled()).toBe(true);
    expect(handler.reason).toBe('liboqs_error');
    expect(alerts).toEqual([{ reason: 'liboqs_error', ttlSeconds: 3600, remainingSeconds: 3600 }]);
    expect(await value(registry, 'pqc_fallback_total', { reason: 'liboqs_error' })).toBe(1);
    expect(await value(registry, 'pqc_fallback_enabled')).toBe(1);
    const [line] = records();
    expect(line).toMatchObject({ level: 60, event: 'pqc_fallback_enabled', reason: 'liboqs_error', ttlSeconds: 3600 });
    expect(line!.msg).toMatch(/PQC FALLBACK ENABLED/);
    clock.advance(600_000);
    expect(handler.remainingSeconds()).toBe(3000);
  });

  it('expires after the TTL: critical log, expired event, then the shutdown action, once', async () => {
    const { handler, clock, records, shutdowns, expiries } = setup({ ttlSeconds: 60 });
    handler.enable('forced');
    clock.advance(59_999);
    expect(handler.checkTtl()).toBe(false);
    expect(shutdowns).toHaveLength(0);

    clock.advance(1);
    await Promise.resolve();
    expect(expiries).toEqual([{ reason: 'forced', ttlSeconds: 60, elapsedSeconds: 60 }]);
    expect(shutdowns).toHaveLength(1);
    expect(shutdowns[0]).toMatchObject({ reason: 'forced', elapsedSeconds: 60 });
    expect(records().find((r) => r.event === 'pqc_fallback_expired')).toMatchObject({ level: 60 });
    expect(handler.isExpired()).toBe(true);
    expect(handler.isEnabled()).toBe(false);
    expect(handler.remainingSeconds()).toBe(0);

    expect(handler.checkTtl()).toBe(true);
    clock.advance(3_600_000);
    await Promise.resolve();
    expect(shutdowns).toHaveLength(1);
    expect(expiries).toHaveLength(1);
  });

  it('checkTtl expires on its own when the timer has not fired (a blocked event loop)', async () => {
    const clock = new FakeClock();
    const shutdown = vi.fn();
    // A clock whose timers never fire: only checkTtl can notice the expiry.
    const handler = new PQCFallbackHandler({
      ttlSeconds: 10,
      clock: { now: () => clock.now(), setTimeout: () => 0, clearTimeout: () => {} },
      shutdown,
      logger: captureLogger().logger,
    });
    handler.enable('forced');
    clock.advance(10_000);
    expect(shutdown).not.toHaveBeenCalled();
    expect(handler.checkTtl()).toBe(true);
    await Promise.resolve();
    expect(shutdown).toHaveBeenCalledOnce();
  });

  it('disable: gauge back to 0, TTL clock stopped, no shutdown later', async () => {
    const { handler, clock, registry, shutdowns } = setup({ ttlSeconds: 60 });
    const disabled = vi.fn();
    handler.on('disabled', disabled);
    handler.enable('forced');
    clock.advance(30_000);
    handler.disable();
    expect(handler.isEnabled()).toBe(false);
    expect(handler.remainingSeconds()).toBeNull();
    expect(await value(registry, 'pqc_fallback_enabled')).toBe(0);
    expect(await value(registry, 'pqc_fallback_total', { reason: 'forced' })).toBe(1);
    expect(disabled).toHaveBeenCalledWith({ reason: 'forced' });
    expect(clock.pendingTimers).toBe(0);
    clock.advance(120_000);
    await Promise.resolve();
    expect(shutdowns).toHaveLength(0);
  });

  it('a second enable counts and alerts again but does not extend the deadline', async () => {
    const { handler, clock, registry, alerts, shutdowns } = setup({ ttlSeconds: 100 });
    handler.enable('handshake_failure');
    clock.advance(60_000);
    handler.enable('handshake_failure');
    expect(await value(registry, 'pqc_fallback_total', { reason: 'handshake_failure' })).toBe(2);
    expect(alerts).toHaveLength(2);
    expect(alerts[1]).toMatchObject({ remainingSeconds: 40 });
    clock.advance(40_000);
    await Promise.resolve();
    expect(shutdowns).toHaveLength(1);
  });

  it('after disable, a new enable starts a new TTL', async () => {
    const { handler, clock, shutdowns } = setup({ ttlSeconds: 100 });
    handler.enable('forced');
    clock.advance(90_000);
    handler.disable();
    handler.enable('forced');
    clock.advance(90_000);
    await Promise.resolve();
    expect(shutdowns).toHaveLength(0);
    expect(handler.remainingSeconds()).toBe(10);
  });

  it('rejects reasons that could carry data into labels and logs', () => {
    const { handler } = setup();
    for (const reason of ['', 'Forced', 'has space', 'a'.repeat(65), 'key=00ff', 42 as unknown as string]) {
      expect(() => handler.enable(reason), String(reason)).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
    }
    expect(handler.isEnabled()).toBe(false);
  });

  it('rejects a TTL outside 1 s … 24 days and an unknown failure policy', () => {
    for (const ttlSeconds of [0, -1, Number.NaN, Infinity, 2_147_484]) {
      expect(() => new PQCFallbackHandler({ ttlSeconds }), String(ttlSeconds)).toThrow(
        expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION' }),
      );
    }
    expect(() => new PQCFallbackHandler({ onPqcFailure: 'ignore' as 'fail' })).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION' }),
    );
  });

  it('enters fallback on a PQC failure only when configured to', async () => {
    const failing = setup();
    expect(failing.handler.handlePqcFailure('liboqs_error')).toBe(false);
    expect(failing.handler.isEnabled()).toBe(false);
    expect(await value(failing.registry, 'pqc_fallback_enabled')).toBe(0);

    const falling = setup({ onPqcFailure: 'fallback' });
    expect(falling.handler.handlePqcFailure('liboqs_error')).toBe(true);
    expect(falling.handler.reason).toBe('liboqs_error');
    expect(falling.alerts).toHaveLength(1);
  });

  it('a throwing listener is logged and cannot stop the shutdown', async () => {
    const { handler, clock, records, shutdowns } = setup({ ttlSeconds: 1 });
    handler.on('alert', () => {
      throw new Error('pager down');
    });
    handler.on('expired', () => {
      throw new Error('pager down');
    });
    handler.enable('forced');
    expect(handler.isEnabled()).toBe(true);
    clock.advance(1000);
    await Promise.resolve();
    expect(shutdowns).toHaveLength(1);
    expect(records().filter((r) => String(r.event).endsWith('_listener_failed'))).toHaveLength(2);
  });

  it('by default closes the registered resources, newest first, then exits non-zero', async () => {
    const clock = new FakeClock();
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const closed: string[] = [];
    const handler = new PQCFallbackHandler({ ttlSeconds: 5, clock, logger: captureLogger().logger });
    handler.register({ close: () => void closed.push('listener') });
    handler.register({ close: async () => void closed.push('mesh') });
    handler.register({
      close: () => {
        throw new Error('already closed');
      },
    });
    handler.enable('forced');
    clock.advance(5000);
    await vi.waitFor(() => expect(exit).toHaveBeenCalled());
    expect(closed).toEqual(['mesh', 'listener']);
    expect(exit).toHaveBeenCalledWith(78);
  });

  it('does not wait past the grace period for a resource that never closes', async () => {
    const clock = new FakeClock();
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const { logger, records } = captureLogger();
    const handler = new PQCFallbackHandler({ ttlSeconds: 5, clock, logger, closeGraceMs: 2000, exitCode: 3 });
    handler.register({ close: () => new Promise(() => {}) });
    handler.enable('forced');
    clock.advance(5000);
    await Promise.resolve();
    expect(exit).not.toHaveBeenCalled();
    clock.advance(2000);
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(3));
    expect(records().some((r) => r.event === 'pqc_fallback_close_timeout')).toBe(true);
  });

  it('keeps its state per instance: two handlers do not share a mode', () => {
    const a = setup();
    const b = setup();
    a.handler.enable('forced');
    expect(b.handler.isEnabled()).toBe(false);
  });
});

describe('the TTL is measured by the clock, not only by the timer', () => {
  it('isEnabled() expires fallback once the TTL has passed, even if the timer has not fired', async () => {
    // Time moves but timers never fire: an event loop blocked past the TTL.
    let now = 0;
    const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
    const { handler, shutdowns, expiries } = setup({ ttlSeconds: 10, clock });
    handler.enable('forced');
    now = 9_999;
    expect(handler.isEnabled()).toBe(true);
    now = 10_000;
    expect(handler.isEnabled()).toBe(false);
    expect(expiries).toHaveLength(1);
    await Promise.resolve();
    expect(shutdowns).toHaveLength(1);
  });
});

describe('PQCFallbackHandler: what it says and when', () => {
  const lines = (records: () => Record<string, unknown>[]) => records().map(({ level, event, msg }) => ({ level, event, msg }));

  it('accepts a TTL of exactly 1 s and exactly MAX_FALLBACK_TTL_SECONDS', () => {
    expect(new PQCFallbackHandler({ ttlSeconds: 1 }).ttlSeconds).toBe(1);
    expect(new PQCFallbackHandler({ ttlSeconds: MAX_FALLBACK_TTL_SECONDS }).ttlSeconds).toBe(MAX_FALLBACK_TTL_SECONDS);
  });

  it('its configuration errors say what is allowed and what was given', () => {
    expect(() => new PQCFallbackHandler({ ttlSeconds: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION', message: `the fallback TTL must be from 1 to ${MAX_FALLBACK_TTL_SECONDS} seconds, got 0` }),
    );
    expect(() => new PQCFallbackHandler({ onPqcFailure: 'ignore' as 'fail' })).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION', message: 'onPqcFailure must be "fail" or "fallback", got ignore' }),
    );
  });

  it('a reason must be a string: one that only converts to a valid reason is refused, saying what it was', () => {
    const { handler } = setup();
    expect(() => handler.enable(['forced'] as unknown as string)).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT', message: 'a fallback reason must match /^[a-z][a-z0-9_]{0,63}$/, got ["forced"]' }),
    );
    expect(() => handler.enable('Forced')).toThrow(expect.objectContaining({ message: 'a fallback reason must match /^[a-z][a-z0-9_]{0,63}$/, got "Forced"' }));
    expect(handler.isEnabled()).toBe(false);
  });

  it('before any enable: not enabled, not expired, no reason, no remaining time, nothing to check or disable', () => {
    const { handler, records, clock } = setup();
    const disabled = vi.fn();
    handler.on('disabled', disabled);
    expect([handler.isEnabled(), handler.isExpired(), handler.reason, handler.remainingSeconds(), handler.checkTtl()]).toEqual([false, false, null, null, false]);
    handler.disable();
    expect(disabled).not.toHaveBeenCalled();
    expect(records()).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('logs each change with its event, level and message', async () => {
    const { handler, clock, records, shutdowns } = setup({ ttlSeconds: 90 });
    handler.enable('forced');
    clock.advance(30_500);
    handler.disable();
    handler.enable('pqc_unavailable');
    clock.advance(90_000);
    await Promise.resolve();
    expect(shutdowns).toHaveLength(1);
    expect(lines(records)).toEqual([
      {
        level: 60,
        event: 'pqc_fallback_enabled',
        msg: 'PQC FALLBACK ENABLED (forced): key exchange is classical only and not quantum-safe; the node shuts down in 90 s unless fallback is disabled',
      },
      { level: 40, event: 'pqc_fallback_disabled', msg: 'PQC fallback disabled: post-quantum key exchange restored' },
      {
        level: 60,
        event: 'pqc_fallback_enabled',
        msg: 'PQC FALLBACK ENABLED (pqc_unavailable): key exchange is classical only and not quantum-safe; the node shuts down in 90 s unless fallback is disabled',
      },
      { level: 60, event: 'pqc_fallback_expired', msg: 'PQC FALLBACK TTL EXPIRED (90 s >= 90 s): shutting down' },
    ]);
    expect(records()[1]).toMatchObject({ reason: 'forced' });
  });

  it('a second enable says the time left, rounded up', () => {
    const { handler, clock, records } = setup({ ttlSeconds: 90 });
    handler.enable('forced');
    clock.advance(30_500);
    handler.enable('forced');
    expect(records()[1]!.msg).toMatch(/the node shuts down in 60 s unless/);
  });

  it('measures the TTL from the enable, whatever the clock read then', async () => {
    const { handler, clock, shutdowns } = setup({ ttlSeconds: 60 });
    clock.advance(1_000_000);
    handler.enable('forced');
    clock.advance(59_999);
    expect([handler.checkTtl(), handler.isEnabled()]).toEqual([false, true]);
    expect(handler.remainingSeconds()).toBeCloseTo(0.001, 6);
    clock.advance(1);
    await Promise.resolve();
    expect(shutdowns).toMatchObject([{ elapsedSeconds: 60 }]);
  });

  it('sets one timer for the whole TTL, and one for the rest when it fires early', () => {
    let now = 0;
    const timers: { ms: number; fire: () => void }[] = [];
    const clock = { now: () => now, setTimeout: (fire: () => void, ms: number) => timers.push({ ms, fire }), clearTimeout: () => {} };
    const { handler, expiries } = setup({ ttlSeconds: 60, clock });
    handler.enable('forced');
    expect(timers.map((t) => t.ms)).toEqual([60_000]);
    now = 59_750;
    timers[0]!.fire();
    expect(timers.map((t) => t.ms)).toEqual([60_000, 250]);
    expect(expiries).toEqual([]);
    now = 60_000;
    timers[1]!.fire();
    expect(expiries).toHaveLength(1);
    expect(timers).toHaveLength(2);
  });

  it('the listeners given as options get every event', async () => {
    const events: [string, unknown][] = [];
    const on = {
      alert: (alert: unknown) => void events.push(['alert', alert]),
      expired: (expiry: unknown) => void events.push(['expired', expiry]),
      disabled: (disabled: unknown) => void events.push(['disabled', disabled]),
    };
    const { handler, clock } = setup({ ttlSeconds: 5, on });
    handler.enable('forced');
    handler.disable();
    handler.enable('forced');
    clock.advance(5000);
    await Promise.resolve();
    expect(events).toEqual([
      ['alert', { reason: 'forced', ttlSeconds: 5, remainingSeconds: 5 }],
      ['disabled', { reason: 'forced' }],
      ['alert', { reason: 'forced', ttlSeconds: 5, remainingSeconds: 5 }],
      ['expired', { reason: 'forced', ttlSeconds: 5, elapsedSeconds: 5 }],
    ]);
  });

  it('a throwing listener is logged with the event it failed on', async () => {
    const { handler, clock, records } = setup({ ttlSeconds: 1 });
    for (const event of ['alert', 'disabled', 'expired'] as const) {
      handler.on(event, () => {
        throw new Error(`pager down (${event})`);
      });
    }
    handler.enable('forced');
    handler.disable();
    handler.enable('forced');
    clock.advance(1000);
    await Promise.resolve();
    const failures = records().filter((r) => String(r.event).endsWith('_listener_failed'));
    expect(failures.map(({ level, event, msg, error }) => ({ level, event, msg, error }))).toEqual(
      ['alert', 'disabled', 'alert', 'expired'].map((event) => ({
        level: 50,
        event: `pqc_fallback_${event}_listener_failed`,
        msg: `a PQC fallback '${event}' listener threw`,
        error: { type: 'Error', message: `pager down (${event})` },
      })),
    );
  });

  it('a shutdown action that fails is logged at fatal level, not left as an unhandled rejection', async () => {
    const failure = new Error('cannot exit');
    const { handler, clock, records } = setup({
      ttlSeconds: 1,
      shutdown: async () => {
        throw failure;
      },
    });
    handler.enable('forced');
    clock.advance(1000);
    await vi.waitFor(() => expect(records().some((r) => r.event === 'pqc_fallback_shutdown_failed')).toBe(true));
    expect(records().find((r) => r.event === 'pqc_fallback_shutdown_failed')).toMatchObject({
      level: 60,
      msg: 'the PQC fallback shutdown action failed',
      error: { type: 'Error', message: 'cannot exit' },
    });
  });

  /** A handler whose shutdown action only closes the resources, with what it logs and whether it is done. */
  function closing(closeGraceMs?: number) {
    const { logger, records } = captureLogger();
    const clock = new FakeClock();
    const state = { done: false };
    const handler = new PQCFallbackHandler({
      ttlSeconds: 1,
      clock,
      logger,
      closeGraceMs,
      shutdown: async ({ closeResources }) => {
        await closeResources();
        state.done = true;
      },
    });
    return { handler, clock, records, state };
  }

  it('closing: a resource that fails is logged and the others still close; one that hangs is logged after the grace period', async () => {
    const { handler, clock, records, state } = closing(500);
    const closed: string[] = [];
    handler.register({ close: () => void closed.push('first') });
    handler.register({ close: () => new Promise(() => {}) });
    handler.register({
      close: () => {
        throw new Error('already closed');
      },
    });
    handler.enable('forced');
    clock.advance(1000);
    await vi.waitFor(() => expect(records().some((r) => r.event === 'pqc_fallback_close_failed')).toBe(true));
    clock.advance(500);
    await vi.waitFor(() => expect(state.done).toBe(true));
    expect(closed).toEqual([]);
    expect(records().filter((r) => Number(r.level) === 50).map(({ event, msg, error }) => ({ event, msg, error }))).toEqual([
      { event: 'pqc_fallback_close_failed', msg: 'closing a resource before shutdown failed', error: { type: 'Error', message: 'already closed' } },
      { event: 'pqc_fallback_close_timeout', msg: 'resources did not close in time; shutting down regardless', error: undefined },
    ]);
  });

  it('closing resources that all close logs nothing beyond the fallback itself', async () => {
    const { handler, clock, records, state } = closing();
    const closed: string[] = [];
    handler.register({ close: () => void closed.push('a') });
    handler.register({ close: async () => void closed.push('b') });
    handler.enable('forced');
    clock.advance(1000);
    await vi.waitFor(() => expect(state.done).toBe(true));
    expect(closed).toEqual(['b', 'a']);
    expect(records().map((r) => r.event)).toEqual(['pqc_fallback_enabled', 'pqc_fallback_expired']);
    expect(clock.pendingTimers).toBe(0);
  });
});
