import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The package's Prometheus metrics (the containment plan's list, plus the backend in use).
 * They live on the registry the caller passes, never on prom-client's global registry, so a
 * service decides what it exposes. The fallback handler records the fallback metrics; the
 * mesh layer records the handshake and key-rotation metrics.
 */
export interface PqcMetrics {
  readonly registry: Registry;
  readonly handshakeSuccess: Counter;
  readonly handshakeFailure: Counter<'reason'>;
  /** SLO: p95 below 0.1 s. */
  readonly handshakeLatency: Histogram;
  /** 1 while the node runs without PQC; the SLO is 0. */
  readonly fallbackEnabled: Gauge;
  readonly fallbackTotal: Counter<'reason'>;
  readonly keyRotationSuccess: Counter;
  readonly keyRotationFailure: Counter<'reason'>;
  /** Channel records refused (replayed, forged, malformed, under keys out of sync), by reason. */
  readonly recordRejected: Counter<'reason'>;
  /** Control-plane envelopes applied, and those refused by reason (lib/control-plane/). */
  readonly gossipAccepted: Counter;
  readonly gossipRejected: Counter<'reason'>;
  /** Quorum certificates accepted, and those refused by reason. */
  readonly certificateAccepted: Counter;
  readonly certificateRejected: Counter<'reason'>;
  /** Always 1; its labels say which liboqs serves the node and whether a production override is in force. */
  readonly backendInfo: Gauge<'backend' | 'liboqs_version' | 'production' | 'wasm_opt_in'>;
}

export const HANDSHAKE_LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

// prom-client refuses a second metric of the same name on one registry: one set per registry.
const byRegistry = new WeakMap<Registry, PqcMetrics>();

/** The package's metrics on `registry`, registered on first use. */
export function pqcMetrics(registry: Registry): PqcMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    const registers = [registry];
    metrics = {
      registry,
      handshakeSuccess: new Counter({
        name: 'pqc_handshake_success_total',
        help: 'Successful PQC handshakes',
        registers,
      }),
      handshakeFailure: new Counter({
        name: 'pqc_handshake_failure_total',
        help: 'Failed PQC handshakes, by reason',
        labelNames: ['reason'],
        registers,
      }),
      handshakeLatency: new Histogram({
        name: 'pqc_handshake_latency_seconds',
        help: 'PQC handshake latency in seconds',
        buckets: HANDSHAKE_LATENCY_BUCKETS,
        registers,
      }),
      fallbackEnabled: new Gauge({
        name: 'pqc_fallback_enabled',
        help: 'PQC fallback mode: 1 while the node runs without post-quantum key exchange',
        registers,
      }),
      fallbackTotal: new Counter({
        name: 'pqc_fallback_total',
        help: 'Times PQC fallback was entered, by reason',
        labelNames: ['reason'],
        registers,
      }),
      keyRotationSuccess: new Counter({
        name: 'pqc_key_rotation_success_total',
        help: 'Successful PQC key rotations',
        registers,
      }),
      keyRotationFailure: new Counter({
        name: 'pqc_key_rotation_failure_total',
        help: 'Failed PQC key rotations, by reason',
        labelNames: ['reason'],
        registers,
      }),
      recordRejected: new Counter({
        name: 'pqc_record_rejected_total',
        help: 'Channel records refused, by reason',
        labelNames: ['reason'],
        registers,
      }),
      gossipAccepted: new Counter({ name: 'pqc_gossip_accepted_total', help: 'Signed control-plane envelopes accepted', registers }),
      gossipRejected: new Counter({
        name: 'pqc_gossip_rejected_total',
        help: 'Signed control-plane envelopes refused, by reason',
        labelNames: ['reason'],
        registers,
      }),
      certificateAccepted: new Counter({ name: 'pqc_certificate_accepted_total', help: 'Quorum certificates accepted', registers }),
      certificateRejected: new Counter({
        name: 'pqc_certificate_rejected_total',
        help: 'Quorum certificates refused, by reason',
        labelNames: ['reason'],
        registers,
      }),
      backendInfo: new Gauge({
        name: 'pqc_backend_info',
        help: 'The liboqs backend serving this node (always 1)',
        labelNames: ['backend', 'liboqs_version', 'production', 'wasm_opt_in'],
        registers,
      }),
    };
    metrics.fallbackEnabled.set(0);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}
