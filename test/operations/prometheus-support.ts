import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../support/environment.js';

const has = (command: string) => spawnSync(command, ['--version']).status === 0;
export const requirePromtool = process.env.PQC_REQUIRE_PROMTOOL === '1';

/** Why the Prometheus tests cannot run here, or '' when they can. */
export function missingPrometheus(binary: 'promtool' | 'prometheus'): string {
  if (has(binary)) return '';
  const why = `skipped: no ${binary} (Debian package prometheus; the test set-up installs it as root or with passwordless sudo)`;
  if (!requirePromtool) console.warn(`[x0tta6bl4-pqc] tests ${why}`);
  return requirePromtool ? '' : why;
}

export const rulesDir = join(projectRoot, 'prometheus');

/** A port free on loopback now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningPrometheus {
  url: string;
  stop(): Promise<void>;
}

/**
 * A real Prometheus on a free loopback port with a temporary data directory, scraping
 * `targets` every second and evaluating the package's rules every second.
 */
export async function startPrometheus(targets: string[]): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'x0tta6bl4-prometheus-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [join(rulesDir, 'pqc.rules.yml')],
    scrape_configs: [{ job_name: 'mesh-demo', static_configs: [{ targets }] }],
  };
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config));
  const child = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => (await fetch(`${url}/-/ready`)).ok, 20_000, () => `Prometheus did not become ready: ${stderr}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` until it answers true, at most `ms`. */
export async function waitFor(check: () => Promise<boolean>, ms: number, why: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface ActiveAlert {
  labels: Record<string, string>;
  state: string;
}

export async function activeAlerts(prometheusUrl: string): Promise<ActiveAlert[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/alerts`);
  const body = (await response.json()) as { data: { alerts: ActiveAlert[] } };
  return body.data.alerts;
}
