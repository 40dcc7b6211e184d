import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PQCFallbackHandler, ready } from '../../lib/index.js';
import { DEFAULT_HANDSHAKE_LIMITS, FramedTransport, generateIdentity, MeshError, PQMeshSecurity } from '../../lib/mesh/index.js';
import { environment } from '../support/environment.js';
import { FakeClock } from '../policy/fake-clock.js';
import { captureLogger } from '../policy/support.js';
import { counter, silentLogger, linkedStreams } from './support.js';

await ready();

// pino's level numbers, as createJsonLogger writes them.
const FATAL = 60;
const WARN = 40;
const DEBUG = 20;
const PQ_SUITE = 'X25519MLKEM768-MLDSA65';
const CLASSICAL = 'CLASSICAL-X25519-MLDSA65';

const failures = (records: Record<string, unknown>[]) => records.filter((record) => record.event === 'pqc_handshake_failed');
const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as MeshError);
const inFallback = (registry: Registry) => {
  const handler = new PQCFallbackHandler({ logger: silentLogger, registry, shutdown: () => {} });
  handler.enable('forced');
  return handler;
};

/** Streams on which a's first frame (its InitHello) is all that reaches b; `respHello` settles when b first answers. */
function initHelloOnly() {
  let replied!: () => void;
  const respHello = new Promise<void>((resolve) => (replied = resolve));
  let fromA = 0;
  const [left, right] = linkedStreams((_bytes, side) => {
    if (side === 'right') replied();
    return side === 'right' || ++fromA === 1;
  });
  return { left, right, respHello };
}

describe(`the handshake's log lines and counts on the ${environment.backend} backend`, () => {
  it('logs a refused dial at debug with its reason, the peer and the code, the error’s message as its own', async () => {
    const registry = new Registry();
    const capture = captureLogger();
    const node = await PQMeshSecurity.create({ nodeId: 'node-a', registry, logger: capture.logger });
    const [left] = linkedStreams();
    const unknown = await rejection(node.openChannel(new FramedTransport(left), 'stranger'));
    expect(unknown).toMatchObject({ reason: 'unknown_peer', code: 'ERR_PQC_UNKNOWN_PEER' });
    // The refusal says how to fix it: trust the peer first.
    expect(unknown!.message).toMatch(/^stranger is not a trusted peer: trustPeer\(\)/);
    const itself = await rejection(node.openChannel(new FramedTransport(left), 'node-a'));
    expect(itself).toMatchObject({ reason: 'reflection', code: 'ERR_PQC_REFLECTION', message: expect.stringMatching(/cannot open a channel to itself/) });
    expect(failures(capture.records())).toEqual([
      expect.objectContaining({ level: DEBUG, reason: 'unknown_peer', peer: 'stranger', code: 'ERR_PQC_UNKNOWN_PEER', msg: unknown!.message }),
      expect.objectContaining({ level: DEBUG, reason: 'reflection', peer: 'node-a', code: 'ERR_PQC_REFLECTION', msg: itself!.message }),
    ]);
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'unknown_peer' })).toBe(1);
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'reflection' })).toBe(1);
    await node.close();
  });

  it('logs a refusal from a sender with no node id with peer null', async () => {
    const capture = captureLogger();
    const node = await PQMeshSecurity.create({ nodeId: 'node-b', logger: capture.logger });
    const [left, right] = linkedStreams();
    const accepted = rejection(node.acceptChannel(new FramedTransport(right)));
    left.write(Uint8Array.of(0, 0, 0, 5, 1, 2, 3, 4, 5)); // one frame of garbage
    expect(await accepted).toMatchObject({ reason: 'malformed' });
    expect(failures(capture.records())).toEqual([expect.objectContaining({ level: DEBUG, reason: 'malformed', peer: null, code: 'ERR_PQC_MALFORMED_MESSAGE' })]);
    await node.close();
  });

  it('sweeps a half-open handshake the initiator abandoned: counted and logged as a timeout with no error code', async () => {
    const registry = new Registry();
    const clock = new FakeClock();
    const capture = captureLogger();
    const a = await PQMeshSecurity.create({ nodeId: 'node-a', logger: silentLogger });
    const b = await PQMeshSecurity.create({ nodeId: 'node-b', registry, clock, logger: capture.logger });
    a.trustPeer(b.getPublicKeys());
    b.trustPeer(a.getPublicKeys());
    // Only a's InitHello reaches b: its InitAuth is lost, so b's half-open handshake is never completed.
    const { left, right, respHello } = initHelloOnly();
    const accepted = rejection(b.acceptChannel(new FramedTransport(right)));
    void rejection(a.openChannel(new FramedTransport(left), 'node-b'));
    await respHello;
    expect(failures(capture.records())).toEqual([]);
    // Past the handshake timeout, the next periodic sweep drops the entry.
    clock.advance(DEFAULT_TIMEOUT_MS + SWEEP_MS);
    expect(await accepted).toMatchObject({ reason: 'timeout', message: 'no handshake in time' });
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'timeout' })).toBe(1);
    expect(failures(capture.records())).toEqual([expect.objectContaining({ level: WARN, reason: 'timeout', peer: 'node-a', code: null, msg: 'handshake failed (timeout)' })]);
    await Promise.all([a.close(), b.close()]);
  });

  it('leaves no sweep timer behind when a logger closes the node from a swept timeout', async () => {
    const clock = new FakeClock();
    const capture = captureLogger();
    let node: PQMeshSecurity | undefined;
    const closing = { ...capture.logger, warn: (fields: Record<string, unknown>, message: string) => {
      capture.logger.warn(fields, message);
      if (fields.reason === 'timeout') void node?.close();
    } };
    const a = await PQMeshSecurity.create({ nodeId: 'node-a', logger: silentLogger });
    node = await PQMeshSecurity.create({ nodeId: 'node-b', clock, logger: closing });
    a.trustPeer(node.getPublicKeys());
    node.trustPeer(a.getPublicKeys());
    const { left, right, respHello } = initHelloOnly();
    void rejection(node.acceptChannel(new FramedTransport(right)));
    void rejection(a.openChannel(new FramedTransport(left), 'node-b'));
    await respHello;
    clock.advance(DEFAULT_TIMEOUT_MS + SWEEP_MS);
    expect(failures(capture.records())).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
    await a.close();
  });

  it('logs a post-quantum session at debug and a classical one at fatal, counting the classical one', async () => {
    const registry = new Registry();
    const capture = captureLogger();
    const suites = [PQ_SUITE, CLASSICAL];
    const a = await PQMeshSecurity.create({ nodeId: 'node-a', registry, logger: capture.logger, suites, fallback: inFallback(registry) });
    const b = await PQMeshSecurity.create({ nodeId: 'node-b', registry, logger: silentLogger, suites: [CLASSICAL], fallback: inFallback(registry) });
    const c = await PQMeshSecurity.create({ nodeId: 'node-c', registry, logger: silentLogger, suites: [PQ_SUITE] });
    for (const peer of [b, c]) {
      a.trustPeer(peer.getPublicKeys());
      peer.trustPeer(a.getPublicKeys());
    }
    await open(a, b);
    await open(a, c);
    const records = capture.records();
    expect(records.filter((record) => record.event === 'pqc_classical_session')).toEqual([
      expect.objectContaining({ level: FATAL, peer: 'node-b', suite: CLASSICAL, msg: expect.stringMatching(/^CLASSICAL SESSION with node-b: .*not quantum-safe/) }),
    ]);
    expect(records.filter((record) => record.event === 'pqc_handshake_ok')).toEqual([
      expect.objectContaining({ level: DEBUG, peer: 'node-b', suite: CLASSICAL, role: 'initiator', msg: expect.stringContaining('node-b') }),
      expect.objectContaining({ level: DEBUG, peer: 'node-c', suite: PQ_SUITE, role: 'initiator', msg: expect.stringContaining('node-c') }),
    ]);
    // Both ends of the classical session count it; the post-quantum one is not a fallback.
    expect(await counter(registry, 'pqc_fallback_total', { reason: 'classical_session' })).toBe(2);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('pins a peer to post-quantum suites once a post-quantum handshake with it completed', async () => {
    const registry = new Registry();
    const identity = await generateIdentity();
    const suites = [PQ_SUITE, CLASSICAL];
    const b = await PQMeshSecurity.create({ nodeId: 'node-b', registry, logger: silentLogger, suites, fallback: inFallback(registry) });
    // The same node twice: once able to run only the classical suite, once also a post-quantum one.
    const classicalA = await PQMeshSecurity.create({ nodeId: 'node-a', identity, registry, logger: silentLogger, suites: [CLASSICAL], fallback: inFallback(registry) });
    const a = await PQMeshSecurity.create({ nodeId: 'node-a', identity, registry, logger: silentLogger, suites, fallback: inFallback(registry) });
    for (const side of [a, classicalA]) side.trustPeer(b.getPublicKeys());
    b.trustPeer(a.getPublicKeys());
    // Before any post-quantum session, the classical one is allowed in fallback mode...
    expect((await open(classicalA, b)).suite).toBe(CLASSICAL);
    expect((await open(a, b)).suite).toBe(PQ_SUITE);
    // ...after one, an offer of only the classical suite is a downgrade.
    const refused = await rejection(open(classicalA, b));
    expect(refused).toMatchObject({ reason: 'downgrade', code: 'ERR_PQC_DOWNGRADE' });
    await Promise.all([a.close(), classicalA.close(), b.close()]);
  });
});

const DEFAULT_TIMEOUT_MS = DEFAULT_HANDSHAKE_LIMITS.timeoutMs;
// Half-open handshakes are swept about once a second: one interval past the timeout, one has run.
const SWEEP_MS = 1000;

/** A channel from `from` to `to` over an in-memory transport; resolves with `from`'s end. */
async function open(from: PQMeshSecurity, to: PQMeshSecurity) {
  const [left, right] = linkedStreams();
  const [outbound] = await Promise.all([from.openChannel(new FramedTransport(left), to.nodeId), to.acceptChannel(new FramedTransport(right))]);
  return outbound;
}
