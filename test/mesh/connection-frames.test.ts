import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ready } from '../../lib/index.js';
import { PqcError } from '../../lib/errors.js';
import { FramedTransport, MeshError, PQMeshSecurity, type ByteStream, type FrameTransport, type PQMeshSecurityOptions, type SecureChannel } from '../../lib/mesh/index.js';
import { DEFAULT_HANDSHAKE_LIMITS } from '../../lib/mesh/handshake.js';
import { encodeAbort, encodeRehandshake, MAX_HANDSHAKE_MESSAGE, MessageType, parseAbort, PROTOCOL_VERSION } from '../../lib/mesh/messages.js';
import { FakeClock } from '../policy/fake-clock.js';
import { environment } from '../support/environment.js';
import { counter, linkedStreams, messages, recordingLogger, type LogEntry } from './support.js';

await ready();

const failures = (lines: LogEntry[]) => lines.filter((line) => line.fields.event === 'pqc_handshake_failed');

/** The test's end of a connection: a framed transport whose received frames are kept in order. */
class RawPeer {
  readonly frames: Uint8Array[] = [];
  readonly transport: FramedTransport;
  closed = false;
  #waiters: (() => void)[] = [];
  onFrame: ((frame: Uint8Array) => void) | undefined;

  constructor(stream: ByteStream) {
    this.transport = new FramedTransport(stream, 1 << 22);
    this.transport.onFrame = async (frame) => {
      this.frames.push(frame);
      this.onFrame?.(frame);
      for (const wake of this.#waiters.splice(0)) wake();
    };
    this.transport.onClose = () => {
      this.closed = true;
      for (const wake of this.#waiters.splice(0)) wake();
    };
  }

  /** The `index`th frame received (0-based), once it arrives. */
  async frame(index: number): Promise<Uint8Array> {
    while (this.frames.length <= index) {
      if (this.closed) throw new Error(`the connection closed after ${this.frames.length} frames`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.frames[index]!;
  }

  send(frame: Uint8Array): Promise<void> {
    return this.transport.send(frame);
  }
}

/** A node's framed transport joined to a RawPeer. */
function rawLink(maxFrame?: number): { transport: FramedTransport; peer: RawPeer } {
  const [near, far] = linkedStreams();
  return { transport: new FramedTransport(near, maxFrame), peer: new RawPeer(far) };
}

/** Lets queued frames and their async handling run: the in-memory streams deliver on setImmediate. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

const opened: PQMeshSecurity[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((node) => node.close()));
});

async function node(nodeId: string, options: Partial<PQMeshSecurityOptions> = {}) {
  const logger = recordingLogger();
  const lines = logger.entries;
  const registry = new Registry();
  const clock = new FakeClock();
  const created = await PQMeshSecurity.create({ registry, logger, clock, ...options, nodeId });
  opened.push(created);
  return { node: created, lines, registry, clock };
}

/** Two nodes that trust each other, each with its own registry, logger and fake clock. */
async function nodes(optionsA: Partial<PQMeshSecurityOptions> = {}, optionsB: Partial<PQMeshSecurityOptions> = {}) {
  const a = await node('node-a', optionsA);
  const b = await node('node-b', optionsB);
  a.node.trustPeer(b.node.getPublicKeys());
  b.node.trustPeer(a.node.getPublicKeys());
  return { a, b };
}

/** An InitHello's fixed head (protocol.md §3): version, type, flags, sI (16), timestamp (u64), then the initiator id's length byte at offset 27. */
function initHelloHead(idLength: number, idBytes: number[]): Uint8Array {
  return Uint8Array.of(PROTOCOL_VERSION, MessageType.InitHello, 0, ...new Uint8Array(16).fill(7), ...new Uint8Array(8), idLength, ...idBytes);
}

/**
 * A's frames pass to B and B's to A through two RawPeers, so the test can watch, hold back or
 * add frames either way: an in-memory man in the middle.
 */
function relay(a: PQMeshSecurity, b: PQMeshSecurity, maxFrameA?: number) {
  const toA = rawLink(maxFrameA);
  const toB = rawLink();
  const pass = { toA: (_frame: Uint8Array) => true, toB: (_frame: Uint8Array) => true };
  toA.peer.onFrame = (frame) => void (pass.toB(frame) && toB.peer.send(frame).catch(() => undefined));
  toB.peer.onFrame = (frame) => void (pass.toA(frame) && toA.peer.send(frame).catch(() => undefined));
  return {
    pass,
    /** Frames A sent arrive here; what is sent here reaches A. */
    facingA: toA.peer,
    facingB: toB.peer,
    open: () => Promise.all([a.openChannel(toA.transport, 'node-b'), b.acceptChannel(toB.transport, { expectedPeer: 'node-a' })]),
    dial: () => a.openChannel(toA.transport, 'node-b'),
    accept: (expectedPeer = 'node-a') => b.acceptChannel(toB.transport, { expectedPeer }),
  };
}

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as MeshError);

describe(`connection frame dispatch on the ${environment.backend} backend`, () => {
  it('refuses a frame of another protocol version on an inbound connection as malformed, naming the version', async () => {
    const { node: b, lines, registry } = await node('node-b');
    const { transport, peer } = rawLink();
    const accepted = rejection(b.acceptChannel(transport));
    await peer.send(Uint8Array.of(2, MessageType.InitHello));
    const error = await accepted;
    expect(error?.code).toBe('ERR_PQC_MALFORMED_MESSAGE');
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'malformed' })).toBe(1);
    expect(failures(lines).map((line) => line.message)).toEqual(['unsupported protocol version 2 (this node speaks 1)']);
  });

  it('refuses a record before any handshake as malformed and closes the connection', async () => {
    const { node: b, lines, registry } = await node('node-b');
    const { transport, peer } = rawLink();
    const accepted = rejection(b.acceptChannel(transport));
    await peer.send(Uint8Array.of(PROTOCOL_VERSION, MessageType.Data, 0, 0, 0, 0));
    expect(await accepted).toBeInstanceOf(Error);
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'malformed' })).toBe(1);
    expect(failures(lines).map((line) => [line.fields.reason, line.message])).toEqual([['malformed', 'a record before any handshake']]);
  });

  it('refuses a responder message when no dial runs as an unexpected type, not handing it to the responder', async () => {
    const { node: b, lines } = await node('node-b');
    const { transport, peer } = rawLink();
    const accepted = rejection(b.acceptChannel(transport));
    await peer.send(Uint8Array.of(PROTOCOL_VERSION, MessageType.RespHello, 0));
    await accepted;
    expect(failures(lines).map((line) => [line.fields.reason, line.message])).toEqual([['malformed', `message type ${MessageType.RespHello} is unknown or unexpected here`]]);
  });

  it('passes an Abort for a handshake it does not hold to the responder, which ignores it: the connection stays open', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    const accepted = link.accept();
    await link.facingB.send(encodeAbort({ sessionI: new Uint8Array(16).fill(9), reason: 'timeout' }));
    await settle();
    expect(failures(b.lines)).toEqual([]);
    expect(link.facingB.closed).toBe(false);
    const [outbound, inbound] = await Promise.all([link.dial(), accepted]);
    expect(outbound.sessionId).toBe(inbound.sessionId);
  });

  it('takes an inbound frame above MAX_HANDSHAKE_MESSAGE before the channel as malformed (ERR_PQC_FRAME_TOO_LARGE)', async () => {
    const { node: b, lines, registry } = await node('node-b');
    const { transport, peer } = rawLink();
    const accepted = rejection(b.acceptChannel(transport));
    await peer.send(new Uint8Array(MAX_HANDSHAKE_MESSAGE + 1).fill(1));
    expect((await accepted)?.code).toBe('ERR_PQC_FRAME_TOO_LARGE');
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'malformed' })).toBe(1);
    expect(failures(lines).map((line) => line.fields.code)).toEqual(['ERR_PQC_FRAME_TOO_LARGE']);
  });

  it('after the channel opens, counts an oversized frame as a rejected record, not a failed handshake', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node, 16384);
    const [outbound] = await link.open();
    const closed = new Promise((resolve) => outbound.once('close', resolve));
    await link.facingA.send(new Uint8Array(16385).fill(1));
    expect(((await closed) as MeshError).code).toBe('ERR_PQC_FRAME_TOO_LARGE');
    expect(await counter(a.registry, 'pqc_record_rejected_total', { reason: 'malformed' })).toBe(1);
    expect(await counter(a.registry, 'pqc_handshake_failure_total')).toBe(0);
  });

  it('logs the initiator id an InitHello claims only when its bytes are all there', async () => {
    const cases: [Uint8Array, string | null][] = [
      [initHelloHead(1, [0x78]), 'x'], // 29 bytes: the shortest head with a whole id
      [initHelloHead(0, []), null], // 28 bytes: no id at all
      [initHelloHead(10, [0x61, 0x62, 0x63]), null], // the id cut short
      [Uint8Array.of(PROTOCOL_VERSION, MessageType.InitAuth, ...initHelloHead(1, [0x78]).subarray(2)), null], // not an InitHello, though its bytes would read as one naming 'x'
    ];
    for (const [frame, claimed] of cases) {
      const { node: b, lines } = await node('node-b');
      const { transport, peer } = rawLink();
      const accepted = rejection(b.acceptChannel(transport));
      await peer.send(frame);
      await accepted;
      expect(failures(lines).map((line) => line.fields.peer)).toEqual([claimed]);
    }
  });

  it('keeps an inbound channel open once the no-handshake timeout passes', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    const [, inbound] = await link.open();
    b.clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs + 1);
    await settle();
    expect(inbound.isOpen).toBe(true);
    expect(b.node.channels('node-a')).toHaveLength(1);
  });

  it('ends an inbound connection without a handshake at the timeout', async () => {
    const { node: b, clock } = await node('node-b');
    const { transport } = rawLink();
    const accepted = rejection(b.acceptChannel(transport));
    clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs);
    const error = await accepted;
    expect([error?.reason, error?.message]).toEqual(['timeout', 'no handshake in time']);
  });
});

/** `inner` whose sends after the first `sends` reject as a closed connection would (once `refused` settles), while frames still arrive. */
function failingSends(inner: FrameTransport, sends: number, refused: () => Promise<void> | void = () => {}): FrameTransport {
  let left = sends;
  // A refusal may wait for `refused` to settle, as a send does that fails once the socket goes.
  const refuse = async () => {
    await refused();
    throw new PqcError('ERR_PQC_CHANNEL_CLOSED', 'the connection to memory closed');
  };
  return {
    send: (frame) => (left-- > 0 ? inner.send(frame) : refuse()),
    close: (error) => inner.close(error),
    get closed() {
      return inner.closed;
    },
    get onFrame() {
      return inner.onFrame;
    },
    set onFrame(handler) {
      inner.onFrame = handler;
    },
    get onClose() {
      return inner.onClose;
    },
    set onClose(handler) {
      inner.onClose = handler;
    },
    remote: inner.remote,
    get inboundLimit() {
      return inner.inboundLimit;
    },
    set inboundLimit(limit) {
      inner.inboundLimit = limit;
    },
  };
}

const sessionOfHello = (initHello: Uint8Array) => initHello.slice(3, 19);

describe(`a connection's dial on the ${environment.backend} backend`, () => {
  it('fails a dial the peer never answers at the handshake timeout, naming the peer and the limit', async () => {
    const { a } = await nodes();
    const { transport, peer } = rawLink();
    const dialled = rejection(a.node.openChannel(transport, 'node-b'));
    await peer.frame(0);
    a.clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs);
    const error = await dialled;
    expect([error?.reason, error?.message]).toEqual(['timeout', `the handshake with node-b did not complete in ${DEFAULT_HANDSHAKE_LIMITS.timeoutMs} ms`]);
    expect(await counter(a.registry, 'pqc_handshake_failure_total', { reason: 'timeout' })).toBe(1);
  });

  it('fails a dial at once when the connection closes during the handshake', async () => {
    const { a } = await nodes();
    const { transport, peer } = rawLink();
    const dialled = rejection(a.node.openChannel(transport, 'node-b'));
    await peer.frame(0);
    peer.transport.close();
    const error = await dialled;
    expect([error?.reason, error?.message]).toEqual(['closed', 'the connection closed during the handshake']);
    expect(await counter(a.registry, 'pqc_handshake_failure_total', { reason: 'closed' })).toBe(1);
  });

  it('counts an oversized frame during the dial as malformed, with the transport’s reason in the message', async () => {
    const { a } = await nodes();
    const { transport, peer } = rawLink(16384);
    const dialled = rejection(a.node.openChannel(transport, 'node-b'));
    await peer.frame(0);
    await peer.send(new Uint8Array(16385));
    const error = await dialled;
    expect([error?.reason, error?.message]).toEqual([
      'malformed',
      'the connection closed during the handshake: memory sent a frame of 16385 bytes, more than the limit of 16384',
    ]);
    expect(await counter(a.registry, 'pqc_handshake_failure_total', { reason: 'malformed' })).toBe(1);
  });

  it('fails the dial, counted as closed, when its InitHello cannot be sent', async () => {
    const { a } = await nodes();
    const { transport } = rawLink();
    let settled = false;
    let sendRefused!: () => void;
    const refused = new Promise<void>((resolve) => (sendRefused = resolve));
    const dialled = rejection(a.node.openChannel(failingSends(transport, 0, sendRefused), 'node-b')).finally(() => (settled = true));
    await refused;
    await settle();
    expect(settled).toBe(true);
    expect((await dialled)?.code).toBe('ERR_PQC_CHANNEL_CLOSED');
    expect(await counter(a.registry, 'pqc_handshake_failure_total', { reason: 'closed' })).toBe(1);
  });

  it('passes an Abort for another handshake to the responder: the dial goes on and completes', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    link.pass.toB = (frame) => {
      if (frame[1] === MessageType.InitHello) void link.facingA.send(encodeAbort({ sessionI: new Uint8Array(16).fill(5), reason: 'malformed' }));
      return true;
    };
    const [outbound, inbound] = await link.open();
    expect(outbound.sessionId).toBe(inbound.sessionId);
    expect(failures(a.lines)).toEqual([]);
  });

  it('takes an Abort whose session id cannot be read as not the dial’s: the responder refuses it and the dial ends as closed', async () => {
    const { a } = await nodes();
    const { transport, peer } = rawLink();
    const dialled = rejection(a.node.openChannel(transport, 'node-b'));
    await peer.frame(0);
    await peer.send(Uint8Array.of(PROTOCOL_VERSION, MessageType.Abort, 1, 2));
    const error = await dialled;
    expect(error?.reason).toBe('closed');
    expect(failures(a.lines).map((line) => line.fields.reason)).toEqual(['malformed', 'closed']);
  });

  it('answers a malformed responder message with an Abort naming the dial’s session and the reason', async () => {
    const { a } = await nodes();
    const { transport, peer } = rawLink();
    const dialled = rejection(a.node.openChannel(transport, 'node-b'));
    const initHello = await peer.frame(0);
    await peer.send(Uint8Array.of(PROTOCOL_VERSION, MessageType.RespHello, 0));
    const abort = parseAbort(await peer.frame(1));
    expect(Buffer.from(abort.sessionI).equals(sessionOfHello(initHello))).toBe(true);
    expect(abort.reason).toBe('malformed');
    expect((await dialled)?.reason).toBe('malformed');
  });

  it('does not answer the peer’s Abort of the dial with an Abort of its own', async () => {
    const { a } = await nodes();
    const { transport, peer } = rawLink();
    const dialled = rejection(a.node.openChannel(transport, 'node-b'));
    const initHello = await peer.frame(0);
    await peer.send(encodeAbort({ sessionI: sessionOfHello(initHello), reason: 'unsupported_suite' }));
    const error = await dialled;
    expect([error?.reason, error?.message]).toEqual(['unsupported_suite', 'node-b refused the handshake (unsupported_suite)']);
    expect(error?.sessionI).toBeUndefined();
    await settle();
    expect(peer.frames).toHaveLength(1);
  });

  it('ignores an InitHello send that fails after the dial already ended: nothing is thrown unheard', async () => {
    const { a } = await nodes();
    const { transport } = rawLink();
    let failSend!: () => void;
    let sending!: () => void;
    const sent = new Promise<void>((resolve) => (sending = resolve));
    const held = failingSends(transport, 0, () => {
      sending();
      return new Promise<void>((resolve) => (failSend = resolve));
    });
    const unheard: unknown[] = [];
    const listener = (reason: unknown) => void unheard.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const dial = rejection(a.node.openChannel(held, 'node-b'));
      await sent;
      transport.close();
      expect((await dial)?.reason).toBe('closed');
      failSend();
      await settle();
      expect(unheard).toEqual([]);
      expect(await counter(a.registry, 'pqc_handshake_failure_total')).toBe(1);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });

  it('names no session in a dial that failed because its reply could not be sent (no Abort is due)', async () => {
    const { a, b } = await nodes();
    const toB = rawLink();
    const facingA = rawLink();
    facingA.peer.onFrame = (frame) => void toB.peer.send(frame);
    toB.peer.onFrame = (frame) => void facingA.peer.send(frame);
    const accepted = rejection(b.node.acceptChannel(toB.transport));
    const error = await rejection(a.node.openChannel(failingSends(facingA.transport, 1), 'node-b'));
    expect([error?.reason, error?.sessionI]).toEqual(['closed', undefined]);
    void accepted;
  });
});

/** A's InitHellos as the relay passes them to B. */
function countInitHellos(link: ReturnType<typeof relay>): { count: number } {
  const seen = { count: 0 };
  link.pass.toB = (frame) => {
    if (frame[1] === MessageType.InitHello) seen.count++;
    return true;
  };
  return seen;
}

const resynchronized = (channel: SecureChannel) => new Promise((resolve) => channel.once('resynchronized', resolve));

describe(`Rehandshake requests on a connection on the ${environment.backend} backend`, () => {
  it('makes the channel’s initiator run a fresh handshake at once, which replaces the session', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    const [outbound] = await link.open();
    const hellos = countInitHellos(link);
    const before = outbound.sessionId;
    const done = resynchronized(outbound);
    await link.facingA.send(encodeRehandshake());
    await done;
    expect(hellos.count).toBe(1);
    expect(outbound.sessionId).not.toBe(before);
  });

  it('is ignored by the channel’s responder, which does not ask back', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    const [outbound, inbound] = await link.open();
    const fromB: number[] = [];
    link.pass.toA = (frame) => (fromB.push(frame[1]!), true);
    await link.facingB.send(encodeRehandshake());
    const delivered = messages(inbound, 1);
    await outbound.send(Buffer.from('after'));
    await delivered;
    await settle();
    expect(fromB).not.toContain(MessageType.Rehandshake);
    expect(failures(b.lines)).toEqual([]);
  });

  it('is ignored on a connection without a channel: a handshake then opens one', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    const accepted = link.accept();
    await link.facingB.send(encodeRehandshake());
    await settle();
    const [outbound, inbound] = await Promise.all([link.dial(), accepted]);
    expect(outbound.sessionId).toBe(inbound.sessionId);
    expect(failures(b.lines)).toEqual([]);
  });

  it('serves a request inside the 1 s interval once the interval since the last handshake ends, and only once', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    const [outbound] = await link.open();
    const hellos = countInitHellos(link);
    let done = resynchronized(outbound);
    await link.facingA.send(encodeRehandshake()); // at 0 ms: served at once
    await done;
    a.clock.advance(500);
    await link.facingA.send(encodeRehandshake()); // kept for later
    await settle();
    const timers = a.clock.pendingTimers;
    a.clock.advance(100);
    await link.facingA.send(encodeRehandshake()); // one is kept already
    await settle();
    expect(a.clock.pendingTimers).toBe(timers);
    expect(hellos.count).toBe(1);
    a.clock.advance(399);
    await settle();
    expect(hellos.count).toBe(1);
    done = resynchronized(outbound);
    a.clock.advance(1); // 1000 ms after the first
    await done;
    expect(hellos.count).toBe(2);
    a.clock.advance(3000);
    await settle();
    expect(hellos.count).toBe(2);
  });

  it('leaves a request alone while a fresh handshake is running: no second one, nothing kept', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    const [outbound] = await link.open();
    let hellos = 0;
    let firstHello!: () => void;
    const started = new Promise<void>((resolve) => (firstHello = resolve));
    // B never sees the InitHello: the fresh handshake stays open.
    link.pass.toB = (frame) => (frame[1] === MessageType.InitHello ? (hellos++, firstHello(), false) : true);
    await link.facingA.send(encodeRehandshake());
    await started;
    a.clock.advance(1500);
    const timers = a.clock.pendingTimers;
    await link.facingA.send(encodeRehandshake());
    await settle();
    expect([hellos, a.clock.pendingTimers, outbound.isOpen]).toEqual([1, timers, true]);
  });

  it('runs one repair while its trust lookup outlasts the 1 s interval: a later request joins it', async () => {
    let keysOfB: ReturnType<PQMeshSecurity['getPublicKeys']> | undefined;
    const held: (() => void)[] = [];
    let lookups = 0;
    let hold = false;
    const a = await node('node-a', {
      trustedPeers: (nodeId) => {
        if (nodeId !== 'node-b' || !hold) return nodeId === 'node-b' ? keysOfB : undefined;
        lookups++;
        return new Promise((resolve) => held.push(() => resolve(keysOfB)));
      },
    });
    const b = await node('node-b');
    keysOfB = b.node.getPublicKeys();
    b.node.trustPeer(a.node.getPublicKeys());
    const link = relay(a.node, b.node);
    const [outbound] = await link.open();
    const hellos = countInitHellos(link);
    hold = true;
    await link.facingA.send(encodeRehandshake());
    await settle();
    a.clock.advance(1500);
    await link.facingA.send(encodeRehandshake());
    await settle();
    expect([lookups, hellos.count]).toEqual([1, 0]);
    hold = false;
    const done = resynchronized(outbound);
    for (const release of held.splice(0)) release();
    await done;
    await settle();
    expect([lookups, hellos.count, outbound.isOpen]).toEqual([1, 1, true]);
  });

  it('makes the channel’s responder ask for a fresh handshake after key desync, and the initiator run it', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    const [outbound, inbound] = await link.open();
    let record: Uint8Array | undefined;
    link.pass.toB = (frame) => ((record ??= frame[1] === MessageType.Data ? frame : undefined), true);
    const fromB: number[] = [];
    link.pass.toA = (frame) => (fromB.push(frame[1]!), true);
    const delivered = messages(inbound, 1);
    await outbound.send(Buffer.from('one'));
    await delivered;
    // The same record under an epoch B does not hold (header offset 6, protocol.md §3): key desync, seen before it authenticates.
    const desynced = Uint8Array.from(record!);
    new DataView(desynced.buffer).setUint32(6, 7);
    const done = resynchronized(inbound);
    await link.facingB.send(desynced);
    await done;
    expect(fromB).toContain(MessageType.Rehandshake);
    expect(await counter(b.registry, 'pqc_record_rejected_total', { reason: 'key_desync' })).toBe(1);
  });

  it('closes the channel when its peer is no longer trusted at the fresh handshake', async () => {
    const b = await node('node-b');
    let trusted = true;
    const a = await node('node-a', { trustedPeers: (id) => (trusted && id === 'node-b' ? b.node.getPublicKeys() : undefined) });
    b.node.trustPeer(a.node.getPublicKeys());
    const link = relay(a.node, b.node);
    const [outbound] = await link.open();
    trusted = false;
    const closed = new Promise<MeshError>((resolve) => outbound.once('close', (error) => resolve(error as MeshError)));
    await link.facingA.send(encodeRehandshake());
    const error = await closed;
    expect([error.reason, error.message]).toEqual(['unknown_peer', 'node-b is no longer trusted']);
  });
});

/** A transport for a third node's dial that joins B's side of the relay: B's answers then go to it, not to A. */
function joinB(link: ReturnType<typeof relay>): FramedTransport {
  const third = rawLink();
  third.peer.onFrame = (frame) => void link.facingB.send(frame).catch(() => undefined);
  link.pass.toA = (frame) => (void third.peer.send(frame).catch(() => undefined), false);
  return third.transport;
}

describe(`who may run a handshake on a connection on the ${environment.backend} backend`, () => {
  it('refuses an InitHello of another node than acceptChannel’s expectedPeer, naming it', async () => {
    const { a, b } = await nodes();
    const link = relay(a.node, b.node);
    const [accepted, dialled] = [rejection(link.accept('node-c')), rejection(link.dial())];
    expect((await accepted)?.reason).toBe('unknown_peer');
    await dialled;
    expect(failures(b.lines).map((line) => line.message)).toEqual(['a handshake from another node than the expected node-c']);
  });

  it('refuses an InitHello of another node on a connection with a channel, and keeps the channel', async () => {
    const { a, b } = await nodes();
    const c = await node('node-c');
    c.node.trustPeer(b.node.getPublicKeys());
    const link = relay(a.node, b.node);
    const [, inbound] = await link.open();
    const error = await rejection(c.node.openChannel(joinB(link), 'node-b'));
    expect(error?.reason).toBe('unknown_peer');
    expect(failures(b.lines).map((line) => [line.fields.reason, line.message])).toEqual([['unknown_peer', 'a handshake from another node on the channel with node-a']]);
    expect(inbound.isOpen).toBe(true);
  });

  it('refuses a completed handshake of the channel’s node id under another key before RespAuth, and keeps the channel', async () => {
    const a = await node('node-a');
    const impostor = await node('node-a');
    let trustedA = a.node.getPublicKeys();
    const b = await node('node-b', { trustedPeers: (id) => (id === 'node-a' ? trustedA : undefined) });
    a.node.trustPeer(b.node.getPublicKeys());
    impostor.node.trustPeer(b.node.getPublicKeys());
    const link = relay(a.node, b.node);
    const [, inbound] = await link.open();
    trustedA = impostor.node.getPublicKeys();
    expect(trustedA.keyId).not.toBe(inbound.peerKeyId);
    const error = await rejection(impostor.node.openChannel(joinB(link), 'node-b'));
    expect([error?.reason, error?.message]).toEqual(['unknown_peer', 'node-b refused the handshake (unknown_peer)']);
    expect(failures(b.lines).map((line) => [line.fields.reason, line.message])).toEqual([['unknown_peer', 'a handshake on the channel with node-a came from node-a']]);
    expect(inbound.isOpen).toBe(true);
  });
});
