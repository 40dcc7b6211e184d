import { request } from 'node:http';
import { createServer } from 'node:http';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { metricsHandler, pqcMetrics, serveMetrics } from '../../lib/index.js';

function get(url: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serving /metrics', () => {
  it('answers GET /metrics in the text format on loopback, 404 elsewhere, 405 for other methods', async () => {
    const registry = new Registry();
    pqcMetrics(registry).handshakeFailure.inc({ reason: 'timeout' });
    const server = await serveMetrics({ registry });
    expect(server.host).toBe('127.0.0.1');
    const ok = await get(server.url);
    expect(ok.status).toBe(200);
    expect(ok.type).toBe(registry.contentType);
    expect(ok.body).toContain('pqc_handshake_failure_total{reason="timeout"} 1');
    expect(ok.body).toContain('# TYPE pqc_handshake_latency_seconds histogram');
    // Only the caller's registry: none of prom-client's default process metrics.
    expect(ok.body).not.toContain('process_cpu');
    expect((await get(server.url.replace('/metrics', '/'))).status).toBe(404);
    expect((await get(`${server.url}?x=1`)).status).toBe(200);
    expect((await get(server.url, 'POST')).status).toBe(405);
    const head = await get(server.url, 'HEAD');
    expect([head.status, head.body]).toEqual([200, '']);
    await server.close();
    await expect(get(server.url)).rejects.toThrow();
  });

  it('mounts on a server the service already has, and works on IPv6', async () => {
    const registry = new Registry();
    pqcMetrics(registry);
    const server = createServer(metricsHandler(registry));
    await new Promise<void>((resolve) => server.listen({ host: '::1', port: 0 }, resolve));
    const { port } = server.address() as { port: number };
    const response = await get(`http://[::1]:${port}/metrics`);
    expect(response.body).toContain('pqc_fallback_enabled 0');
    server.close();
    const v6 = await serveMetrics({ registry, host: '::1' });
    expect(v6.url).toMatch(/^http:\/\/\[::1\]:\d+\/metrics$/);
    expect((await get(v6.url)).status).toBe(200);
    await v6.close();
  });

  it('refuses a call without a registry, and a port in use, with typed errors', async () => {
    await expect(serveMetrics({} as never)).rejects.toMatchObject({ code: 'ERR_PQC_INVALID_INPUT' });
    const registry = new Registry();
    const first = await serveMetrics({ registry });
    await expect(serveMetrics({ registry, port: first.port })).rejects.toMatchObject({ code: 'ERR_PQC_INVALID_CONFIGURATION' });
    await first.close();
  });
});
