import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { PqcError } from '../errors.js';
import { createJsonLogger, type Logger } from '../logger.js';
import { pqcMetrics, type PqcMetrics } from '../metrics.js';
import { systemClock, type Clock } from './clock.js';
import { MAX_FALLBACK_TTL_SECONDS, POLICY_VARIABLES } from './environment.js';

/** Something to close before the process exits when the fallback TTL expires. */
export interface Closable {
  close(): unknown;
}

export interface ShutdownContext {
  reason: string;
  elapsedSeconds: number;
  /** Closes the registered resources, most recently registered first. */
  closeResources(): Promise<void>;
}

export type ShutdownAction = (context: ShutdownContext) => void | Promise<void>;

/**
 * What a PQC failure does: 'fail' (the default) leaves the failure to the caller; 'fallback'
 * enters fallback mode. Fallback is never entered on a failure without this configuration.
 */
export type PqcFailurePolicy = 'fail' | 'fallback';

export interface FallbackOptions {
  /** Default 3600 (X0TTA6BL4_PQC_FALLBACK_TTL_SECONDS at start-up). */
  ttlSeconds?: number;
  onPqcFailure?: PqcFailurePolicy;
  /** Default: close the registered resources (for at most `closeGraceMs`), then exit with `exitCode`. */
  shutdown?: ShutdownAction;
  /** Default 78 (EX_CONFIG): the node's configuration no longer allows it to run. */
  exitCode?: number;
  /** Default 10 000: a resource that does not close in time must not keep the node in fallback. */
  closeGraceMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Where the fallback metrics are recorded; default a new registry of the handler's own. */
  registry?: Registry;
  /**
   * Listeners attached before anything can fire: start-up enables a forced fallback before it
   * returns the handler, and that alert must reach the operator too.
   */
  on?: { [K in keyof FallbackEvents]?: (...args: FallbackEvents[K]) => void };
}

export interface FallbackAlert {
  reason: string;
  ttlSeconds: number;
  remainingSeconds: number;
}

export interface FallbackExpiry {
  reason: string;
  ttlSeconds: number;
  elapsedSeconds: number;
}

export interface FallbackEvents {
  alert: [FallbackAlert];
  expired: [FallbackExpiry];
  disabled: [{ reason: string }];
}

// Reasons become metric labels and log fields: a short fixed vocabulary, never caller data.
const REASON = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Fallback mode: the node runs with classical-only key exchange, loudly and for a bounded time
 * (the containment plan's PQCFallbackHandler). One per process in a service (start-up creates
 * it); tests and embedders create their own with a fake clock and their own shutdown action.
 *
 * Events: 'alert' on every enable, 'expired' when the TTL runs out (then the shutdown action
 * runs), 'disabled'. A listener that throws is logged and cannot stop the shutdown.
 */
export class PQCFallbackHandler extends EventEmitter<FallbackEvents> {
  readonly ttlSeconds: number;
  readonly onPqcFailure: PqcFailurePolicy;
  readonly metrics: PqcMetrics;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #shutdown: ShutdownAction;
  readonly #closeGraceMs: number;
  readonly #resources: Closable[] = [];
  #state: { reason: string; since: number; timer: unknown; expired: boolean } | null = null;

  constructor(options: FallbackOptions = {}) {
    super();
    this.ttlSeconds = options.ttlSeconds ?? POLICY_VARIABLES.fallbackTtlSeconds.default;
    if (!(this.ttlSeconds > 0 && this.ttlSeconds <= MAX_FALLBACK_TTL_SECONDS)) {
      throw new PqcError(
        'ERR_PQC_INVALID_CONFIGURATION',
        `the fallback TTL must be from 1 to ${MAX_FALLBACK_TTL_SECONDS} seconds, got ${String(options.ttlSeconds)}`,
      );
    }
    this.onPqcFailure = options.onPqcFailure ?? 'fail';
    if (this.onPqcFailure !== 'fail' && this.onPqcFailure !== 'fallback') {
      throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `onPqcFailure must be "fail" or "fallback", got ${String(this.onPqcFailure)}`);
    }
    this.metrics = pqcMetrics(options.registry ?? new Registry());
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? createJsonLogger();
    this.#closeGraceMs = options.closeGraceMs ?? 10_000;
    const exitCode = options.exitCode ?? 78;
    this.#shutdown =
      options.shutdown ??
      (async (context) => {
        await context.closeResources();
        process.exit(exitCode);
      });
    const { alert, expired, disabled } = options.on ?? {};
    if (alert) this.on('alert', alert);
    if (expired) this.on('expired', expired);
    if (disabled) this.on('disabled', disabled);
  }

  /** Enters fallback mode. While already in it, counts and alerts again but keeps the first deadline. */
  enable(reason: string): void {
    if (typeof reason !== 'string' || !REASON.test(reason)) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `a fallback reason must match ${REASON}, got ${JSON.stringify(reason)}`);
    }
    if (!this.#state) {
      this.#state = { reason, since: this.#clock.now(), timer: undefined, expired: false };
      this.#schedule(this.ttlSeconds * 1000);
    }
    this.metrics.fallbackTotal.inc({ reason });
    this.metrics.fallbackEnabled.set(1);
    const alert = { reason, ttlSeconds: this.ttlSeconds, remainingSeconds: this.remainingSeconds()! };
    this.#logger.fatal(
      { event: 'pqc_fallback_enabled', ...alert },
      `PQC FALLBACK ENABLED (${reason}): key exchange is classical only and not quantum-safe; ` +
        `the node shuts down in ${Math.ceil(alert.remainingSeconds)} s unless fallback is disabled`,
    );
    this.#notify('alert', () => this.emit('alert', alert));
  }

  /** Leaves fallback mode and stops the TTL clock. */
  disable(): void {
    const state = this.#state;
    if (!state) return;
    this.#clock.clearTimeout(state.timer);
    this.#state = null;
    this.metrics.fallbackEnabled.set(0);
    this.#logger.warn({ event: 'pqc_fallback_disabled', reason: state.reason }, 'PQC fallback disabled: post-quantum key exchange restored');
    this.#notify('disabled', () => this.emit('disabled', { reason: state.reason }));
  }

  /** True while in fallback mode and before the TTL expired: classical-only key exchange is allowed. */
  isEnabled(): boolean {
    // The clock, not only the timer, decides: a blocked event loop must not stretch the TTL.
    return this.#state !== null && !this.checkTtl();
  }

  isExpired(): boolean {
    return this.#state?.expired ?? false;
  }

  /** Why fallback was entered, or null outside fallback mode. */
  get reason(): string | null {
    return this.#state?.reason ?? null;
  }

  /** Seconds until the TTL expires; null outside fallback mode. */
  remainingSeconds(): number | null {
    if (!this.#state) return null;
    return Math.max(0, this.ttlSeconds - (this.#clock.now() - this.#state.since) / 1000);
  }

  /**
   * Expires fallback mode if its TTL has run out (the internal timer does the same); answers
   * whether it has expired.
   */
  checkTtl(): boolean {
    const state = this.#state;
    if (!state) return false;
    if (state.expired) return true;
    const elapsedSeconds = (this.#clock.now() - state.since) / 1000;
    if (elapsedSeconds < this.ttlSeconds) return false;
    state.expired = true;
    this.#clock.clearTimeout(state.timer);
    const expiry = { reason: state.reason, ttlSeconds: this.ttlSeconds, elapsedSeconds };
    this.#logger.fatal(
      { event: 'pqc_fallback_expired', ...expiry },
      `PQC FALLBACK TTL EXPIRED (${Math.floor(elapsedSeconds)} s >= ${this.ttlSeconds} s): shutting down`,
    );
    this.#notify('expired', () => this.emit('expired', expiry));
    void this.#runShutdown(state.reason, elapsedSeconds);
    return true;
  }

  /**
   * The PQC failure policy: with onPqcFailure 'fallback' enters fallback mode for `reason` and
   * answers true; otherwise answers false and the caller fails.
   */
  handlePqcFailure(reason: string): boolean {
    if (this.onPqcFailure !== 'fallback') return false;
    this.enable(reason);
    return true;
  }

  /** Registers a resource the default shutdown action closes. */
  register(resource: Closable): void {
    this.#resources.push(resource);
  }

  #schedule(ms: number): void {
    this.#state!.timer = this.#clock.setTimeout(() => {
      // A timer may fire a little before the clock agrees the TTL is over: wait the rest.
      if (this.#state && !this.checkTtl()) this.#schedule(this.remainingSeconds()! * 1000);
    }, ms);
  }

  /** A listener that throws must not undo the state change or stop the shutdown. */
  #notify(event: keyof FallbackEvents, emit: () => void): void {
    try {
      emit();
    } catch (error) {
      this.#logger.error({ event: `pqc_fallback_${event}_listener_failed`, error }, `a PQC fallback '${event}' listener threw`);
    }
  }

  async #runShutdown(reason: string, elapsedSeconds: number): Promise<void> {
    const closeResources = async () => {
      let timer: unknown;
      const grace = new Promise<void>((resolve) => {
        timer = this.#clock.setTimeout(() => {
          this.#logger.error({ event: 'pqc_fallback_close_timeout' }, 'resources did not close in time; shutting down regardless');
          resolve();
        }, this.#closeGraceMs);
      });
      await Promise.race([this.#closeAll(), grace]);
      this.#clock.clearTimeout(timer);
    };
    try {
      await this.#shutdown({ reason, elapsedSeconds, closeResources });
    } catch (error) {
      this.#logger.fatal({ event: 'pqc_fallback_shutdown_failed', error }, 'the PQC fallback shutdown action failed');
    }
  }

  async #closeAll(): Promise<void> {
    for (const resource of [...this.#resources].reverse()) {
      try {
        await resource.close();
      } catch (error) {
        this.#logger.error({ event: 'pqc_fallback_close_failed', error }, 'closing a resource before shutdown failed');
      }
    }
  }
}
