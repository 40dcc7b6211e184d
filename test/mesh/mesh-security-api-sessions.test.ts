import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { PQCFallbackHandler, PqcError, ready } from '../../lib/index.js';
import { FramedTransport, generateIdentity, PQMeshSecurity, type PQMeshSecurityOptions } from '../../lib/mesh/index.js';
import { parseInitHello } from '../../lib/mesh/messages.js';
import { X25519MLKEM768_SUITE } from '../../lib/mesh/suites.js';
import { environment } from '../support/environment.js';
import { FakeClock } from '../policy/fake-clock.js';
import { counter, linkedStreams, recordingLogger, silentLogger, type StreamEnd } from './support.js';

await ready();

const CLASSICAL = 'CLASSICAL-X25519-MLDSA65';
const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);
const frameOf = (chunk: Uint8Array) => chunk.subarray(4); // the 4-byte length prefix
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Two nodes that trust each other, each with its own registry and recording logger. */
async function loggedPair(options: Partial<PQMeshSecurityOptions> = {}, optionsB: Partial<PQMeshSecurityOptions> = options) {
  const logA = recordingLogger();
  const logB = recordingLogger();
  const a = await PQMeshSecurity.create({ registry: new Registry(), ...options, logger: logA, nodeId: 'node-a' });
  const b = await PQMeshSecurity.create({ registry: new Registry(), ...optionsB, logger: logB, nodeId: 'node-b' });
  a.trustPeer(b.getPublicKeys());
  b.trustPeer(a.getPublicKeys());
  return { a, b, logA, logB };
}

/** a opens a channel to b over in-memory streams that pass every chunk through `tap`. */
function openOver(a: PQMeshSecurity, b: PQMeshSecurity, tap?: (chunk: Uint8Array, from: StreamEnd) => boolean) {
  const [left, right] = linkedStreams(tap);
  return Promise.all([a.openChannel(new FramedTransport(left), b.nodeId), b.acceptChannel(new FramedTransport(right))]);
}

function fallbackHandler() {
  return new PQCFallbackHandler({ logger: silentLogger, registry: new Registry(), shutdown: () => {} });
}

describe(`PQMeshSecurity's handshake latency SLO on the ${environment.backend} backend`, () => {
  /** A handshake whose RespHello takes `ms` on the nodes' clock (which does not start at 0); a's log. */
  async function handshakeTaking(ms: number) {
    const clock = new FakeClock();
    clock.advance(60_000);
    const { a, b, logA } = await loggedPair({ clock });
    let delayed = false;
    await openOver(a, b, (_chunk, from) => {
      if (from === 'right' && !delayed) {
        delayed = true;
        clock.advance(ms);
      }
      return true;
    });
    await Promise.all([a.close(), b.close()]);
    return { a, slow: logA.entries.filter((entry) => entry.fields.event === 'pqc_handshake_slow') };
  }

  it('logs a handshake slower than the 100 ms SLO with its latency, and counts it', async () => {
    const { a, slow } = await handshakeTaking(150);
    expect(slow).toEqual([
      {
        level: 'warn',
        fields: { event: 'pqc_handshake_slow', peer: 'node-b', latencySeconds: 0.15, sloSeconds: 0.1 },
        message: 'the handshake with node-b took 150.0 ms, over the 100 ms SLO',
      },
    ]);
    expect(await counter(a.metrics.registry, 'pqc_handshake_latency_seconds')).toBe(1);
    const { sum } = await histogram(a);
    expect(sum).toBeCloseTo(0.15, 9);
  });

  it('does not log a handshake of exactly 100 ms', async () => {
    const { a, slow } = await handshakeTaking(100);
    expect(slow).toEqual([]);
    expect(await counter(a.metrics.registry, 'pqc_handshake_latency_seconds')).toBe(1);
  });
});

async function histogram(node: PQMeshSecurity): Promise<{ sum: number }> {
  const { values } = await node.metrics.registry.getSingleMetric('pqc_handshake_latency_seconds')!.get();
  return { sum: values.find((value) => String((value as { metricName?: string }).metricName).endsWith('_sum'))!.value };
}

describe(`PQMeshSecurity's handshakes on the ${environment.backend} backend`, () => {
  it('timestamps an InitHello with the wall clock moved on by the node clock since create', async () => {
    const clock = new FakeClock();
    clock.advance(7_200_000); // the clock's origin is not the wall clock's
    const { a, b } = await loggedPair({ clock });
    clock.advance(3_600_000);
    let hello: Uint8Array | undefined;
    const before = Date.now();
    await openOver(a, b, (chunk, from) => {
      if (from === 'left') hello ??= frameOf(chunk);
      return true;
    });
    const after = Date.now();
    const { timestamp } = parseInitHello(hello!);
    expect(timestamp).toBeGreaterThanOrEqual(before + 3_600_000 - 1000);
    expect(timestamp).toBeLessThanOrEqual(after + 3_600_000);
    await Promise.all([a.close(), b.close()]);
  });

  it('offers a real X25519MLKEM768 share: an ML-KEM-768 encapsulation key (1184 bytes, FIPS 203) and an X25519 key (32)', async () => {
    const { a, b } = await loggedPair({ suites: [X25519MLKEM768_SUITE.name] });
    let hello: Uint8Array | undefined;
    const [outbound] = await openOver(a, b, (chunk, from) => {
      if (from === 'left') hello ??= frameOf(chunk);
      return true;
    });
    expect(outbound.suite).toBe(X25519MLKEM768_SUITE.name);
    const parsed = parseInitHello(hello!);
    expect(parsed.shareSuite).toBe(X25519MLKEM768_SUITE.id);
    expect(parsed.share.length).toBe(1184 + 32);
    await Promise.all([a.close(), b.close()]);
  });

  it('counts and logs a half-open handshake the responder drops after timeoutMs as timeout', async () => {
    const clock = new FakeClock();
    const { a, b, logB } = await loggedPair({ clock });
    let fromLeft = 0;
    const opened = rejection(
      openOver(a, b, (_chunk, from) => from === 'right' || ++fromLeft === 1), // the InitAuth is lost
    );
    while (fromLeft < 2) await turn();
    clock.advance(5000 + 1000);
    await opened;
    expect(await counter(b.metrics.registry, 'pqc_handshake_failure_total', { reason: 'timeout' })).toBeGreaterThanOrEqual(1);
    expect(logB.entries).toContainEqual({
      level: 'warn',
      fields: { event: 'pqc_handshake_failed', reason: 'timeout', peer: 'node-a', code: null },
      message: 'handshake failed (timeout)',
    });
    await Promise.all([a.close(), b.close()]);
  });

  it('counts and logs a key rotation the peer does not answer', async () => {
    const clock = new FakeClock();
    const { a, b, logA } = await loggedPair({ clock });
    let lost = false;
    const [outbound] = await openOver(a, b, (_chunk, from) => !(lost && from === 'left'));
    lost = true;
    const rotation = rejection(outbound.rotateKeys());
    outbound.on('error', () => undefined);
    await turn();
    clock.advance(5000);
    expect(await rotation).toBeInstanceOf(PqcError);
    expect(await counter(a.metrics.registry, 'pqc_key_rotation_failure_total', { reason: 'timeout' })).toBe(1);
    expect(logA.entries).toContainEqual({
      level: 'warn',
      fields: { event: 'pqc_key_rotation_failed', peer: 'node-b', reason: 'timeout' },
      message: 'key rotation with node-b failed (timeout)',
    });
    await Promise.all([a.close(), b.close()]);
  });

  it('logs a post-quantum session as no classical session', async () => {
    const { a, b, logA } = await loggedPair();
    await openOver(a, b);
    expect(logA.entries.filter((entry) => entry.level === 'fatal')).toEqual([]);
    expect(await counter(a.metrics.registry, 'pqc_fallback_total', { reason: 'classical_session' })).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });
});

describe(`PQMeshSecurity's classical sessions on the ${environment.backend} backend`, () => {
  it('offers nothing, and says so in getSecurityLevel, with only the classical suite outside fallback', async () => {
    const node = await PQMeshSecurity.create({ nodeId: 'node-a', logger: silentLogger, suites: [CLASSICAL], fallback: fallbackHandler() });
    expect(node.getSecurityLevel()).toMatchObject({ suite: null, kem: null, nistLevel: 0, peersWithPq: 0, fallback: false });
    await node.close();
  });

  it('logs a classical session at fatal level with the peer and suite', async () => {
    const fa = fallbackHandler();
    const fb = fallbackHandler();
    fa.enable('forced');
    fb.enable('forced');
    const { a, b, logA } = await loggedPair({ suites: [CLASSICAL], fallback: fa }, { suites: [CLASSICAL], fallback: fb });
    await openOver(a, b);
    expect(logA.entries.filter((entry) => entry.level === 'fatal')).toEqual([
      {
        level: 'fatal',
        fields: { event: 'pqc_classical_session', peer: 'node-b', suite: CLASSICAL },
        message: 'CLASSICAL SESSION with node-b: key exchange is X25519 only and not quantum-safe (fallback mode)',
      },
    ]);
    await Promise.all([a.close(), b.close()]);
  });

  it("runs the classical KEM under the node's own fallback handler in production mode", async () => {
    const fa = fallbackHandler();
    const fb = fallbackHandler();
    fa.enable('forced');
    fb.enable('forced');
    const { a, b } = await loggedPair({ suites: [CLASSICAL], fallback: fa }, { suites: [CLASSICAL], fallback: fb });
    const production = process.env.X0TTA6BL4_PRODUCTION;
    process.env.X0TTA6BL4_PRODUCTION = 'true';
    try {
      const [outbound] = await openOver(a, b);
      expect(outbound.suite).toBe(CLASSICAL);
    } finally {
      if (production === undefined) delete process.env.X0TTA6BL4_PRODUCTION;
      else process.env.X0TTA6BL4_PRODUCTION = production;
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('counts a peer with a classical and a post-quantum channel as post-quantum, and offers it no classical suite after', async () => {
    const fallback = fallbackHandler();
    fallback.enable('forced');
    const identity = await generateIdentity();
    const a = await PQMeshSecurity.create({ nodeId: 'node-a', logger: silentLogger, suites: [X25519MLKEM768_SUITE.name, CLASSICAL], fallback });
    // One identity on two nodes: the peer node-b, before and after it gained post-quantum suites.
    const classicalB = await PQMeshSecurity.create({ nodeId: 'node-b', logger: silentLogger, identity, suites: [CLASSICAL], fallback });
    const quantumB = await PQMeshSecurity.create({ nodeId: 'node-b', logger: silentLogger, identity, suites: [X25519MLKEM768_SUITE.name] });
    a.trustPeer(classicalB.getPublicKeys());
    classicalB.trustPeer(a.getPublicKeys());
    quantumB.trustPeer(a.getPublicKeys());
    const [classical] = await openOver(a, classicalB);
    expect(classical.suite).toBe(CLASSICAL);
    expect(a.getSecurityLevel().peersWithPq).toBe(0);
    const [quantum] = await openOver(a, quantumB);
    expect(quantum.suite).toBe(X25519MLKEM768_SUITE.name);
    expect(a.channels('node-b')).toEqual([classical, quantum]);
    expect(a.getSecurityLevel().peersWithPq).toBe(1);
    // node-b is now pinned to post-quantum: a offers it only post-quantum suites, which classicalB cannot run.
    const refused = await rejection(openOver(a, classicalB));
    expect(refused).toBeInstanceOf(PqcError);
    expect(a.channels('node-b')).toEqual([classical, quantum]);
    await Promise.all([a.close(), classicalB.close(), quantumB.close()]);
  });
});
