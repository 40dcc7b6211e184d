import { connect } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PQCFallbackHandler, PqcError, ready } from '../../lib/index.js';
import { DEFAULT_HANDSHAKE_LIMITS, FramedTransport, PQMeshSecurity, type SecureChannel } from '../../lib/mesh/index.js';
import { environment } from '../support/environment.js';
import { FakeClock } from '../policy/fake-clock.js';
import { connectPair, counter, nodePair, silentLogger, linkedStreams } from './support.js';

await ready();

const PQ_SUITE = 'X25519MLKEM768-MLDSA65';
const CLASSICAL = 'CLASSICAL-X25519-MLDSA65';
const handler = (registry: Registry, enabled: boolean) => {
  const fallback = new PQCFallbackHandler({ logger: silentLogger, registry, shutdown: () => {} });
  if (enabled) fallback.enable('forced');
  return fallback;
};
const closeOf = (channel: SecureChannel) => new Promise<PqcError | undefined>((resolve) => channel.once('close', resolve));
const settled = <T>(promise: Promise<T>) => Promise.race([promise.then(() => 'settled'), new Promise((resolve) => setImmediate(() => resolve('pending')))]);

/** Two nodes that speak only the classical suite, each in fallback mode with its own handler and registry. */
async function classicalPair() {
  const [registryA, registryB] = [new Registry(), new Registry()];
  const [fallbackA, fallbackB] = [handler(registryA, true), handler(registryB, true)];
  const suites = [CLASSICAL];
  const { a, b } = await nodePair({ registry: registryA, suites, fallback: fallbackA }, { registry: registryB, suites, fallback: fallbackB });
  return { a, b, fallbackA, fallbackB, registryA, registryB };
}

/** A channel from `from` to `to` over an in-memory transport; resolves with both ends. */
async function open(from: PQMeshSecurity, to: PQMeshSecurity, tap?: Parameters<typeof linkedStreams>[0]) {
  const [left, right] = linkedStreams(tap);
  const [outbound, inbound] = await Promise.all([from.openChannel(new FramedTransport(left), to.nodeId), to.acceptChannel(new FramedTransport(right))]);
  return { outbound, inbound };
}

describe(`a node's open channels on the ${environment.backend} backend`, () => {
  it('keeps each other channel with a peer when one closes, and forgets the peer with its last', async () => {
    const { a, b } = await nodePair();
    const first = await open(a, b);
    const second = await open(a, b);
    expect(a.channels('node-b')).toEqual([first.outbound, second.outbound]);
    first.outbound.close();
    expect(a.channels('node-b')).toEqual([second.outbound]);
    expect(a.getSecurityLevel().peersWithPq).toBe(1);
    expect(second.outbound.isOpen).toBe(true);
    second.outbound.close();
    expect(a.channels('node-b')).toEqual([]);
    expect(a.getSecurityLevel().peersWithPq).toBe(0);
    expect(() => a.encryptForPeer('node-b', new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'ERR_PQC_NO_CHANNEL' }));
    await Promise.all([a.close(), b.close()]);
  });

  it('keeps a post-quantum channel open under a fallback handler that is not enabled', async () => {
    const registry = new Registry();
    const { a, b } = await nodePair({ registry, fallback: handler(registry, false) });
    const { outbound, inbound } = await open(a, b);
    expect([outbound.isOpen, inbound.isOpen]).toEqual([true, true]);
    expect(a.channels('node-b')).toEqual([outbound]);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses, as fallback_expired, a classical session that completes at the initiator after fallback mode ended', async () => {
    const { a, b, fallbackA, registryA } = await classicalPair();
    let fromB = 0;
    // Fallback ends on a's side while b's RespAuth, the last handshake message, is on its way.
    const [left, right] = linkedStreams((_bytes, side) => {
      if (side === 'right' && ++fromB === 2) fallbackA.disable();
    });
    const accepted = b.acceptChannel(new FramedTransport(right));
    const dial = a.openChannel(new FramedTransport(left), 'node-b').then(() => undefined, (error: unknown) => error as PqcError);
    const inboundClosed = closeOf(await accepted);
    expect(await dial).toMatchObject({ reason: 'fallback_expired', code: 'ERR_PQC_FALLBACK_EXPIRED', message: 'fallback mode ended during the handshake' });
    await inboundClosed;
    expect(a.channels('node-b')).toEqual([]);
    expect(await counter(registryA, 'pqc_handshake_failure_total', { reason: 'fallback_expired' })).toBe(1);
    expect(await counter(registryA, 'pqc_handshake_success_total')).toBe(0);
    expect(await counter(registryA, 'pqc_fallback_total', { reason: 'classical_session' })).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses, before its RespAuth, a classical session that completes at the responder after fallback mode ended', async () => {
    const { a, b, fallbackB, registryB } = await classicalPair();
    let fromA = 0;
    let fromB = 0;
    // Fallback ends on b's side while a's InitAuth is on its way.
    const [left, right] = linkedStreams((_bytes, side) => {
      if (side === 'left' && ++fromA === 2) fallbackB.disable();
      if (side === 'right') fromB++;
    });
    const accepted = b.acceptChannel(new FramedTransport(right)).then(() => undefined, (error: unknown) => error as PqcError);
    const dial = a.openChannel(new FramedTransport(left), 'node-b').then(() => undefined, (error: unknown) => error as PqcError);
    expect(await accepted).toMatchObject({ reason: 'fallback_expired', code: 'ERR_PQC_FALLBACK_EXPIRED' });
    expect(await dial).toMatchObject({ reason: 'fallback_expired', code: 'ERR_PQC_FALLBACK_EXPIRED' });
    // RespHello and the Abort: no RespAuth.
    expect(fromB).toBe(2);
    expect([a.channels('node-b'), b.channels('node-a')]).toEqual([[], []]);
    expect(await counter(registryB, 'pqc_handshake_failure_total', { reason: 'fallback_expired' })).toBe(1);
    expect(await counter(registryB, 'pqc_handshake_success_total')).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  it('closes only the classical channels when fallback mode ends', async () => {
    const registry = new Registry();
    const fallbackA = handler(registry, true);
    const a = await PQMeshSecurity.create({ nodeId: 'node-a', registry, logger: silentLogger, suites: [PQ_SUITE, CLASSICAL], fallback: fallbackA });
    const b = await PQMeshSecurity.create({ nodeId: 'node-b', registry, logger: silentLogger, suites: [CLASSICAL], fallback: handler(registry, true) });
    const c = await PQMeshSecurity.create({ nodeId: 'node-c', registry, logger: silentLogger, suites: [PQ_SUITE] });
    for (const peer of [b, c]) {
      a.trustPeer(peer.getPublicKeys());
      peer.trustPeer(a.getPublicKeys());
    }
    const classical = (await open(a, b)).outbound;
    const pq = (await open(a, c)).outbound;
    expect([classical.suite, pq.suite]).toEqual([CLASSICAL, PQ_SUITE]);
    const closed = closeOf(classical);
    fallbackA.disable();
    expect(await closed).toMatchObject({ reason: 'fallback_expired', code: 'ERR_PQC_FALLBACK_EXPIRED', message: expect.stringMatching(/^fallback mode ended: classical sessions end with it/) });
    expect(pq.isOpen).toBe(true);
    expect(a.channels('node-c')).toEqual([pq]);
    expect(a.channels('node-b')).toEqual([]);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('closes a connection without a handshake at the handshake timeout, and keeps one that has its channel', async () => {
    const clock = new FakeClock();
    const { a, b } = await nodePair({}, { clock });
    const [, silent] = linkedStreams();
    const waiting = b.acceptChannel(new FramedTransport(silent)).then(() => undefined, (error: unknown) => error as PqcError);
    const { inbound } = await open(a, b);
    clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs);
    expect(await waiting).toMatchObject({ reason: 'timeout', code: 'ERR_PQC_HANDSHAKE_TIMEOUT', message: 'no handshake in time' });
    expect(inbound.isOpen).toBe(true);
    expect(b.channels('node-a')).toEqual([inbound]);
    await Promise.all([a.close(), b.close()]);
  });

  it('stops listening on listener.close(); a second close resolves at once', async () => {
    const { a, b } = await nodePair();
    const { listener, outbound } = await connectPair(a, b);
    const first = listener.close();
    // The first close waits for the open connection; the second has nothing left to close.
    expect(await settled(listener.close())).toBe('settled');
    expect(await settled(first)).toBe('pending');
    const refused = await new Promise<string | undefined>((resolve) => {
      const socket = connect({ port: listener.port, host: '127.0.0.1' }, () => resolve(undefined));
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(outbound.isOpen).toBe(true);
    await Promise.all([a.close(), b.close()]);
    await first;
  });
});
