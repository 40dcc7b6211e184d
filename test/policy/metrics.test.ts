import { Registry, register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HANDSHAKE_LATENCY_BUCKETS, pqcMetrics } from '../../lib/metrics.js';

const SEED_METRICS = {
  pqc_handshake_success_total: { type: 'counter', labels: [] },
  pqc_handshake_failure_total: { type: 'counter', labels: ['reason'] },
  pqc_handshake_latency_seconds: { type: 'histogram', labels: [] },
  pqc_fallback_enabled: { type: 'gauge', labels: [] },
  pqc_fallback_total: { type: 'counter', labels: ['reason'] },
  pqc_key_rotation_success_total: { type: 'counter', labels: [] },
  pqc_key_rotation_failure_total: { type: 'counter', labels: ['reason'] },
};

describe('metrics', () => {
  it('defines every metric of the containment plan, with its type and labels, on the given registry', () => {
    const registry = new Registry();
    pqcMetrics(registry);
    for (const [name, { type, labels }] of Object.entries(SEED_METRICS)) {
      const metric = registry.getSingleMetric(name) as unknown as { type?: string; labelNames: string[] } | undefined;
      expect(metric, name).toBeDefined();
      expect(metric!.labelNames, name).toEqual(labels);
      const exposition = registry.getMetricsAsArray().find((m) => m.name === name)!;
      expect(exposition.type, name).toBe(type);
    }
  });

  it('never registers on prom-client\'s global registry', async () => {
    pqcMetrics(new Registry());
    expect((await globalRegistry.metrics()).includes('pqc_')).toBe(false);
  });

  it('buckets handshake latency from 1 ms to 5 s around the 100 ms p95 objective', async () => {
    const registry = new Registry();
    const { handshakeLatency } = pqcMetrics(registry);
    expect(HANDSHAKE_LATENCY_BUCKETS[0]).toBe(0.001);
    expect(HANDSHAKE_LATENCY_BUCKETS.at(-1)).toBe(5);
    expect(HANDSHAKE_LATENCY_BUCKETS).toContain(0.1);
    handshakeLatency.observe(0.07);
    const text = await registry.metrics();
    expect(text).toContain('pqc_handshake_latency_seconds_bucket{le="0.05"} 0');
    expect(text).toContain('pqc_handshake_latency_seconds_bucket{le="0.1"} 1');
  });

  it('is registered once per registry, however often it is asked for', () => {
    const registry = new Registry();
    expect(pqcMetrics(registry)).toBe(pqcMetrics(registry));
    expect(pqcMetrics(new Registry())).not.toBe(pqcMetrics(registry));
  });

  it('starts with the fallback gauge at 0, so a scrape before any fallback shows the SLO met', async () => {
    const registry = new Registry();
    pqcMetrics(registry);
    expect(await registry.metrics()).toMatch(/^pqc_fallback_enabled 0$/m);
  });
});
