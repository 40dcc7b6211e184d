import { describe, expect, it } from 'vitest';
import { runMeshDemo, type MeshDemoProgress } from '../../lib/demo/mesh-demo.js';
import { environment } from '../support/environment.js';
import { silentLogger } from '../mesh/support.js';

describe(`the mesh demo on the ${environment.backend} backend`, () => {
  it('runs a full mesh with real handshakes, messages and rotations, serving /metrics while it runs', async () => {
    let scraped: Promise<Response> | undefined;
    let metricsUrl = '';
    const progress: MeshDemoProgress[] = [];
    const summary = await runMeshDemo({
      nodes: 3,
      durationSeconds: 2,
      intruders: 2,
      logger: silentLogger,
      onMetrics: (url) => (metricsUrl = url),
      onProgress: (p) => {
        progress.push(p);
        scraped ??= fetch(metricsUrl);
      },
    });
    expect(summary).toMatchObject({ backend: environment.backend, nodes: 3, durationSeconds: 2, channels: 3, fallback: { enabled: false, reason: null } });
    expect(summary.handshakes.success).toBe(6);
    expect(summary.handshakes.byReason.unknown_peer).toBeGreaterThanOrEqual(2);
    expect(summary.handshakes.failure).toBe(Object.values(summary.handshakes.byReason).reduce((a, b) => a + b, 0));
    expect(summary.messages).toBeGreaterThan(0);
    // Every message is a signed envelope: each published one is accepted once by each other node;
    // forwarded copies come back as duplicates, and nothing else is refused.
    expect(summary.gossip.published).toBeGreaterThan(0);
    expect(summary.gossip.accepted).toBe(summary.gossip.published * 2);
    expect(Object.keys(summary.gossip.byReason).filter((r) => r !== 'duplicate')).toEqual([]);
    expect(summary.rotations.success).toBeGreaterThanOrEqual(2);
    expect(summary.latencyMs.p50).toBeGreaterThan(0);
    expect(summary.latencyMs.p99!).toBeGreaterThanOrEqual(summary.latencyMs.p50!);
    expect(progress.at(-1)!.messages).toBeGreaterThan(0);
    const response = await scraped!;
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const body = await response.text();
    expect(body).toContain('pqc_handshake_success_total 6');
    expect(body).toContain('pqc_handshake_failure_total{reason="unknown_peer"}');
    // The server is gone once the demo ends.
    await expect(fetch(summary.metricsUrl)).rejects.toThrow();
  });

  it('refuses nonsense sizes with a typed error', async () => {
    await expect(runMeshDemo({ nodes: 1 })).rejects.toMatchObject({ code: 'ERR_PQC_INVALID_INPUT' });
    await expect(runMeshDemo({ durationSeconds: 0 })).rejects.toMatchObject({ code: 'ERR_PQC_INVALID_INPUT' });
  });
});
