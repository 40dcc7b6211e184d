import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { PqcError } from './errors.js';

/**
 * A node:http handler for Prometheus: `GET /metrics` (and HEAD) answers the registry in the
 * text exposition format with its content type; any other path is 404, another method 405.
 * Mount it on a server the service already has, or use `serveMetrics`.
 */
export function metricsHandler(registry: Registry): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (body) => {
        response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      () => response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('collecting the metrics failed\n'),
    );
  };
}

export interface MetricsServer {
  host: string;
  port: number;
  /** http://host:port/metrics */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `registry` at /metrics for services without an HTTP server of their own. Binds to
 * loopback unless `host` says otherwise: metrics tell an attacker which nodes run without PQC.
 */
export async function serveMetrics(options: { registry: Registry; host?: string; port?: number }): Promise<MetricsServer> {
  const { registry, host = '127.0.0.1', port = 0 } = options ?? ({} as never);
  if (!registry || typeof (registry as Registry).metrics !== 'function') {
    throw new PqcError('ERR_PQC_INVALID_INPUT', 'serveMetrics needs { registry } (a prom-client Registry)');
  }
  const server = createServer(metricsHandler(registry));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new PqcError('ERR_PQC_INVALID_CONFIGURATION', `cannot serve metrics on ${host}:${port}: ${error.message}`, { cause: error })),
    );
    server.listen({ host, port }, resolve);
  });
  const bound = (server.address() as { port: number }).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port: bound,
    url: `http://${shown}:${bound}/metrics`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
