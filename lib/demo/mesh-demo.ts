import { info } from '../backend.js';
import { PqcError } from '../errors.js';
import type { Logger } from '../logger.js';
import { serveMetrics } from '../metrics-http.js';
import { ControlPlane, EnvelopeKind } from '../control-plane/index.js';
import { generateIdentity, PQMeshSecurity, type SecureChannel } from '../mesh/index.js';
import { startup } from '../policy/startup.js';

export interface MeshDemoOptions {
  /** Nodes on loopback, 2 to 64 (default 4); every pair opens a channel. */
  nodes?: number;
  /** How long the nodes exchange messages and rotate keys (default 5 s, at most 3600). */
  durationSeconds?: number;
  /** Where /metrics is served while the demo runs (default a free port on 127.0.0.1). */
  metricsPort?: number;
  metricsHost?: string;
  /** One suite for every node, by name (default: each node's best). */
  suite?: string;
  /** Dial attempts by a node nobody trusts: real refusals, counted as unknown_peer (default 0). */
  intruders?: number;
  logger?: Logger;
  /** Called about four times a second with the figures so far. */
  onProgress?: (progress: MeshDemoProgress) => void;
  /** Called once /metrics is served. */
  onMetrics?: (url: string) => void;
}

export interface MeshDemoProgress {
  elapsedSeconds: number;
  channels: number;
  messages: number;
  rotations: number;
  failures: number;
}

export interface MeshDemoSummary {
  backend: string;
  liboqs: string | null;
  nodes: number;
  durationSeconds: number;
  suite: string | null;
  /** Pairs of nodes with a channel (of count × (count − 1) / 2). */
  channels: number;
  metricsUrl: string;
  handshakes: { success: number; failure: number; byReason: Record<string, number> };
  /** Handshake latency as each dialling node saw it (connect to channel), in milliseconds. */
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  rotations: { success: number; failure: number };
  /** Channel messages received (each a signed control-plane envelope, forwarded ones included). */
  messages: number;
  /** Signed gossip: envelopes published, and those accepted or refused (duplicates of forwarded copies among them) by the receivers. */
  gossip: { published: number; accepted: number; rejected: number; byReason: Record<string, number> };
  fallback: { enabled: boolean; reason: string | null };
}

const MESSAGE_INTERVAL_MS = 50;
const ROTATION_INTERVAL_MS = 1000;
const DIAL_CONCURRENCY = 8;
// After the last publication, how long the mesh must stay quiet (no message arriving, nothing
// being verified or rotated) before the nodes close, and the most that waiting may take.
const DRAIN_QUIET_MS = 100;
const DRAIN_LIMIT_MS = 5000;

function requireInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PqcError('ERR_PQC_INVALID_INPUT', `${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return Number(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!.toFixed(3));
}

/**
 * The main job: a mesh of nodes on loopback TCP, every pair with a channel, exchanging messages
 * and rotating keys for a while, with /metrics served from the one registry start-up gave (all
 * nodes of the process count into it). Start-up's policy applies: forced fallback shows in the
 * metrics and the summary; production without liboqs refuses to start.
 */
export async function runMeshDemo(options: MeshDemoOptions = {}): Promise<MeshDemoSummary> {
  const count = requireInteger(options.nodes ?? 4, 'nodes', 2, 64);
  const durationSeconds = requireInteger(options.durationSeconds ?? 5, 'duration', 1, 3600);
  const intruders = requireInteger(options.intruders ?? 0, 'intruders', 0, 1000);
  const { metrics, fallback } = await startup({ logger: options.logger });
  const registry = metrics.registry;
  const server = await serveMetrics({ registry, host: options.metricsHost, port: options.metricsPort ?? 0 });
  options.onMetrics?.(server.url);
  const nodes: PQMeshSecurity[] = [];
  const channels: SecureChannel[] = [];
  const latencies: number[] = [];
  let messages = 0;
  const started = performance.now();
  const counterValue = async (name: string) =>
    ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((sum, value) => sum + value.value, 0);
  const planes: ControlPlane[] = [];
  const ownChannels: SecureChannel[][] = [];
  let published = 0;
  const inFlight = new Set<Promise<unknown>>();
  const follow = (work: Promise<unknown>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };
  // Every message on a channel is a signed control-plane envelope: checked, applied once, and
  // flooded on to the node's other channels within its hop limit.
  const track = (channel: SecureChannel, owner: number) => {
    channels.push(channel);
    ownChannels[owner]!.push(channel);
    channel.on('message', (bytes) => {
      messages++;
      const verified = planes[owner]!.receive(bytes).then(({ outgoing }) => {
        for (const next of ownChannels[owner]!) if (next !== channel && next.isOpen) for (const out of outgoing) void next.send(out).catch(() => undefined);
      });
      follow(verified);
    });
    channel.on('error', () => undefined); // counted by the node's metrics
  };
  try {
    // Each demo node is a mesh node of its own; the limits allow the burst of a full mesh starting at once.
    const limits = { initiationBurst: 2 * count, maxPendingPerPeer: count };
    for (let i = 0; i < count; i++) {
      const identity = await generateIdentity();
      const nodeId = `node-${i}`;
      const node = await PQMeshSecurity.create({ nodeId, identity, registry, logger: options.logger, suites: options.suite ? [options.suite] : undefined, limits });
      node.on('channel', (channel) => track(channel, i));
      nodes.push(node);
      ownChannels.push([]);
      // In a full mesh one forward reaches everyone: a hop limit of 2 still exercises forwarding.
      planes.push(new ControlPlane({ nodeId, identity, registry, trust: (id) => node.peerKeys(id), limits: { hopLimit: 2 } }));
    }
    for (const node of nodes) for (const peer of nodes) if (peer !== node) node.trustPeer(peer.getPublicKeys());
    const ports = await Promise.all(nodes.map(async (node) => (await node.listen()).port));

    const pairs = nodes.flatMap((_, i) => nodes.slice(i + 1).map((__, k) => [i, i + 1 + k] as const));
    const dial = async ([i, j]: readonly [number, number]) => {
      const begin = performance.now();
      try {
        track(await nodes[i]!.establishSecureChannel(nodes[j]!.nodeId, { port: ports[j]! }), i);
        latencies.push(performance.now() - begin);
      } catch {
        // counted under its reason by the node's metrics
      }
    };
    for (let next = 0; next < pairs.length; next += DIAL_CONCURRENCY) await Promise.all(pairs.slice(next, next + DIAL_CONCURRENCY).map(dial));

    if (intruders > 0) {
      const intruder = await PQMeshSecurity.create({ nodeId: 'intruder', registry, logger: options.logger });
      intruder.trustPeer(nodes[0]!.getPublicKeys());
      for (let n = 0; n < intruders; n++) await intruder.establishSecureChannel(nodes[0]!.nodeId, { port: ports[0]! }).catch(() => undefined);
      await intruder.close();
    }

    const encoder = new TextEncoder();
    let rotationIndex = 0;
    // The duration is the mesh's time up, so that slow set-up (a loaded machine, the WebAssembly
    // backend) never leaves it without traffic; rotations come often enough for several in it.
    const rotationInterval = Math.min(ROTATION_INTERVAL_MS, (durationSeconds * 1000) / 3);
    let lastRotation = performance.now();
    const deadline = lastRotation + durationSeconds * 1000;
    do {
      const open = channels.filter((channel) => channel.isOpen);
      await Promise.all(
        planes.map(async (plane, i) => {
          const envelope = await plane.publish(EnvelopeKind.Gossip, encoder.encode(`route update from ${plane.nodeId}`));
          published++;
          await Promise.all(ownChannels[i]!.filter((c) => c.isOpen).map((channel) => channel.send(envelope).catch(() => undefined)));
        }),
      );
      if (performance.now() - lastRotation >= rotationInterval && open.length > 0) {
        lastRotation = performance.now();
        follow(open[rotationIndex++ % open.length]!.rotateKeys().catch(() => undefined));
      }
      options.onProgress?.({
        elapsedSeconds: (performance.now() - started) / 1000,
        channels: open.length,
        messages,
        rotations: await counterValue('pqc_key_rotation_success_total'),
        failures: await counterValue('pqc_handshake_failure_total'),
      });
      await new Promise((resolve) => setTimeout(resolve, MESSAGE_INTERVAL_MS));
    } while (performance.now() < deadline);
    // What is still on the wire, being verified or rotating belongs in the summary: closing at
    // once would count envelopes as published that no node got to accept, and lose rotations.
    const drainEnds = performance.now() + DRAIN_LIMIT_MS;
    for (let seen = -1; (seen !== messages || inFlight.size > 0) && performance.now() < drainEnds; ) {
      seen = messages;
      await Promise.allSettled([...inFlight]);
      await new Promise((resolve) => setTimeout(resolve, DRAIN_QUIET_MS));
    }
  } finally {
    await Promise.all(nodes.map((node) => node.close()));
    await server.close();
  }

  const byReasonOf = async (name: string) => {
    const out: Record<string, number> = {};
    for (const value of (await registry.getSingleMetric(name)?.get())?.values ?? []) {
      const reason = String(value.labels.reason);
      out[reason] = (out[reason] ?? 0) + value.value;
    }
    return out;
  };
  const byReason = await byReasonOf('pqc_handshake_failure_total');
  const gossipReasons = await byReasonOf('pqc_gossip_rejected_total');
  const sorted = [...latencies].sort((a, b) => a - b);
  const backend = info();
  return {
    backend: backend.backend,
    liboqs: backend.liboqs?.version ?? backend.wasm?.version ?? null,
    nodes: count,
    durationSeconds,
    suite: options.suite ?? channels[0]?.suite ?? null,
    channels: latencies.length,
    metricsUrl: server.url,
    handshakes: {
      success: await counterValue('pqc_handshake_success_total'),
      failure: Object.values(byReason).reduce((sum, n) => sum + n, 0),
      byReason,
    },
    latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
    rotations: { success: await counterValue('pqc_key_rotation_success_total'), failure: await counterValue('pqc_key_rotation_failure_total') },
    messages,
    gossip: {
      published,
      accepted: await counterValue('pqc_gossip_accepted_total'),
      rejected: Object.values(gossipReasons).reduce((sum, n) => sum + n, 0),
      byReason: gossipReasons,
    },
    fallback: { enabled: fallback.isEnabled(), reason: fallback.reason },
  };
}
