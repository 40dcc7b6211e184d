import { createJsonLogger } from '../logger.js';
import { parseArgs } from 'node:util';
import { parseCommandLine, UsageError } from '../command-options.js';
import { runMeshDemo, type MeshDemoProgress, type MeshDemoSummary } from './mesh-demo.js';

export const MESH_DEMO_USAGE = `usage: x0tta6bl4-pqc mesh-demo [--nodes N] [--duration S] [--metrics-port P] [--suite NAME] [--intruders K] [--json]

  N nodes (default 4, 2-64) on loopback TCP, every pair with a channel, exchanging messages and
  rotating keys for S seconds (default 5), serving /metrics (all nodes on one registry) on
  127.0.0.1:P (default a free port) while they run. --intruders K: K dial attempts by a node
  nobody trusts (refused and counted as unknown_peer). The production variables apply
  (X0TTA6BL4_DISABLE_PQC=true runs it in fallback mode).
  --json: one JSON object on stdout. Exit 0 when every pair of nodes got a channel, else 1.`;

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

function formatSummary(s: MeshDemoSummary): string {
  const reasons = Object.entries(s.handshakes.byReason).map(([reason, n]) => `${reason} ${n}`).join(', ');
  const ms = (value: number | null) => (value === null ? '-' : `${value.toFixed(1)} ms`);
  return [
    `backend     ${s.backend}${s.liboqs ? ` (liboqs ${s.liboqs})` : ''}`,
    `mesh        ${s.nodes} nodes, ${s.channels} of ${(s.nodes * (s.nodes - 1)) / 2} channels, suite ${s.suite ?? '-'}, ${s.durationSeconds} s`,
    `handshakes  ${s.handshakes.success} ok, ${s.handshakes.failure} failed${reasons ? ` (${reasons})` : ''}`,
    `latency     p50 ${ms(s.latencyMs.p50)}, p95 ${ms(s.latencyMs.p95)}, p99 ${ms(s.latencyMs.p99)}`,
    `rotations   ${s.rotations.success} ok, ${s.rotations.failure} failed`,
    `messages    ${s.messages}`,
    `gossip      ${s.gossip.published} signed envelopes published, ${s.gossip.accepted} accepted, ${s.gossip.rejected} refused${Object.keys(s.gossip.byReason).length ? ` (${Object.entries(s.gossip.byReason).map(([r, n]) => `${r} ${n}`).join(', ')})` : ''}`,
    `fallback    ${s.fallback.enabled ? `ENABLED (${s.fallback.reason})` : 'off'}`,
    `metrics     ${s.metricsUrl} (served while the demo ran)`,
  ].join('\n');
}

/** `x0tta6bl4-pqc mesh-demo …`: the exit code. */
export async function meshDemoCommand(args: string[]): Promise<number> {
  const { values } = parseCommandLine('mesh-demo', () =>
    parseArgs({
      args,
      options: {
        nodes: { type: 'string' },
        duration: { type: 'string' },
        'metrics-port': { type: 'string' },
        suite: { type: 'string' },
        intruders: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    console.log(MESH_DEMO_USAGE);
    return 0;
  }
  const live = process.stderr.isTTY && !values.json;
  const summary = await runMeshDemo({
    nodes: integer(values.nodes, 'nodes'),
    durationSeconds: integer(values.duration, 'duration'),
    metricsPort: integer(values['metrics-port'], 'metrics-port'),
    intruders: integer(values.intruders, 'intruders'),
    suite: values.suite,
    // Warnings and worse reach stderr; the summary says the rest.
    logger: createJsonLogger({ level: 'error' }),
    onMetrics: (url) => {
      if (!values.json) console.error(`serving ${url}`);
    },
    onProgress: live
      ? (p: MeshDemoProgress) =>
          process.stderr.write(`\r${p.elapsedSeconds.toFixed(1)} s  ${p.channels} channel ends  ${p.messages} messages  ${p.rotations} rotations  ${p.failures} failed handshakes `)
      : undefined,
  });
  if (live) process.stderr.write('\n');
  console.log(values.json ? JSON.stringify(summary) : formatSummary(summary));
  return summary.channels === (summary.nodes * (summary.nodes - 1)) / 2 ? 0 : 1;
}
