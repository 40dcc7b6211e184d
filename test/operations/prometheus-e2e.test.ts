import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../support/environment.js';
import { activeAlerts, freePort, missingPrometheus, startPrometheus, stopChild, waitFor, type RunningPrometheus } from './prometheus-support.js';

const missing = missingPrometheus('prometheus');
const started: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  for (const thing of started.splice(0).reverse()) await thing.stop();
});

/** `x0tta6bl4-pqc mesh-demo` in a child process (the built CLI), serving /metrics on `port`. */
function meshDemo(port: number, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['dist/cli.js', 'mesh-demo', '--nodes', '3', '--duration', '60', '--metrics-port', String(port), '--json', ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  started.push({ stop: () => stopChild(child) });
  return child;
}

describe('the alerts in a real Prometheus, scraping running mesh demos', () => {
  it.skipIf(missing !== '')(
    `PQCFallbackEnabled fires for a demo in forced fallback, PQCHandshakeFailure for one with refused handshakes${missing ? ` (${missing})` : ''}`,
    async () => {
      const [fallbackPort, faultPort] = [await freePort(), await freePort()];
      meshDemo(fallbackPort, [], { X0TTA6BL4_DISABLE_PQC: 'true' });
      meshDemo(faultPort, ['--intruders', '3']);
      const fallbackTarget = `127.0.0.1:${fallbackPort}`;
      const faultTarget = `127.0.0.1:${faultPort}`;
      const prometheus: RunningPrometheus = await startPrometheus([fallbackTarget, faultTarget]);
      started.push(prometheus);
      const firing = async (alertname: string, instance: string) =>
        (await activeAlerts(prometheus.url)).some((alert) => alert.labels.alertname === alertname && alert.labels.instance === instance && alert.state === 'firing');
      await waitFor(
        async () => (await firing('PQCFallbackEnabled', fallbackTarget)) && (await firing('PQCHandshakeFailure', faultTarget)),
        40_000,
        () => 'the alerts did not fire in time',
      );
      const alerts = await activeAlerts(prometheus.url);
      // Each alert only where its cause is.
      expect(alerts.some((alert) => alert.labels.alertname === 'PQCFallbackEnabled' && alert.labels.instance === faultTarget)).toBe(false);
      const failure = alerts.find((alert) => alert.labels.alertname === 'PQCHandshakeFailure' && alert.labels.instance === faultTarget)!;
      expect(failure.labels).toMatchObject({ reason: 'unknown_peer', severity: 'warning' });
      // The demos' own metrics as Prometheus stored them.
      const query = await (await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent('pqc_fallback_enabled')}`)).json();
      const byInstance = Object.fromEntries((query as { data: { result: { metric: { instance: string }; value: [number, string] }[] } }).data.result.map((r) => [r.metric.instance, r.value[1]]));
      expect(byInstance).toEqual({ [fallbackTarget]: '1', [faultTarget]: '0' });
    },
    90_000,
  );
});
