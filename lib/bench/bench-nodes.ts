import { Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import type { HandshakeLimits } from '../mesh/handshake.js';
import { PQMeshSecurity } from '../mesh/mesh-security.js';
import type { RekeyLimits } from '../mesh/record-layer.js';
import { probeSuite, X25519MLKEM768_SUITE, XWING_SUITE, type MeshSuite } from '../mesh/suites.js';

/**
 * Mesh nodes as the benchmarks run them: limits no benchmark may trip (the point is the cost of
 * the work, not the limits), no key rotation inside a timed loop, the default suite.
 */
export const BENCH_LIMITS: Partial<HandshakeLimits> = {
  initiationBurst: 1e9,
  initiationsPerSecond: 1e9,
  maxPendingPerPeer: 1e6,
  maxPending: 1e6,
  replayCacheSize: 1e7,
};

// rekeyAfterMs stays below setTimeout's 2^31 - 1 ms limit.
export const NO_ROTATION: RekeyLimits = { rekeyAfterMessages: 2 ** 50, rejectAfterMessages: 2 ** 51, rekeyAfterMs: 2 ** 30, rejectAfterMs: 2 ** 31 - 1 };

const silentLogger: Logger = { fatal() {}, error() {}, warn() {}, info() {}, debug() {} };

/** X-Wing when this backend can make X-Wing keys, else X25519MLKEM768. */
export async function defaultSuite(): Promise<MeshSuite> {
  const probe = await probeSuite(XWING_SUITE);
  const xwing = !(probe instanceof Error) && probe.canInitiate && probe.canRespond;
  return xwing ? XWING_SUITE : X25519MLKEM768_SUITE;
}

export function meshNode(registry: Registry, suite: MeshSuite, nodeId: string): Promise<PQMeshSecurity> {
  return PQMeshSecurity.create({
    nodeId,
    registry,
    logger: silentLogger,
    suites: [suite.name],
    limits: BENCH_LIMITS,
    rekey: NO_ROTATION,
    maxConnections: 1e6,
  });
}

/** Two nodes on one registry that trust each other, the second listening on loopback. */
export async function nodePair(first: string, second: string): Promise<{ suite: MeshSuite; a: PQMeshSecurity; b: PQMeshSecurity; port: number }> {
  const suite = await defaultSuite();
  const registry = new Registry();
  const a = await meshNode(registry, suite, first);
  const b = await meshNode(registry, suite, second);
  a.trustPeer(b.getPublicKeys());
  b.trustPeer(a.getPublicKeys());
  const { port } = await b.listen({ host: '127.0.0.1' });
  return { suite, a, b, port };
}
