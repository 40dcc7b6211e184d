import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { PQCFallbackHandler, PqcError, ready } from '../../lib/index.js';
import { FramedTransport, MeshError, PQMeshSecurity, type SecureChannel } from '../../lib/mesh/index.js';
import { environment } from '../support/environment.js';
import { connectPair, linkedStreams, nodePair, silentLogger } from './support.js';

await ready();

/** What `promise` rejects with (undefined if it resolves). */
const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Whether a TCP connection to 127.0.0.1:port is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const closeEvent = (channel: SecureChannel) => new Promise<PqcError | undefined>((resolve) => channel.once('close', resolve));

describe(`PQMeshSecurity's API checks on the ${environment.backend} backend`, () => {
  it('refuses options that are not an object, before anything else', async () => {
    for (const options of [null, 'node-a', 7]) {
      const error = await rejection(PQMeshSecurity.create(options as never));
      expect(error).toBeInstanceOf(PqcError);
      expect(error).toMatchObject({ code: 'ERR_PQC_INVALID_INPUT', message: 'PQMeshSecurity.create takes an options object' });
    }
  });

  it('names the limits object (limits, rekey) in the refusal of a bad one', async () => {
    const limits = await rejection(PQMeshSecurity.create({ nodeId: 'n', logger: silentLogger, limits: { bogus: 1 } as never }));
    expect(limits).toMatchObject({ code: 'ERR_PQC_INVALID_CONFIGURATION' });
    expect((limits as Error).message).toMatch(/^limits\.bogus is not a known limit/);
    const rekey = await rejection(PQMeshSecurity.create({ nodeId: 'n', logger: silentLogger, rekey: { bogus: 1 } as never }));
    expect(rekey).toMatchObject({ code: 'ERR_PQC_INVALID_CONFIGURATION' });
    expect((rekey as Error).message).toMatch(/^rekey\.bogus is not a known limit/);
  });

  it('names the argument (peerId, expectedPeer) in the refusal of a bad node id', async () => {
    const { a, b } = await nodePair();
    const [left, right] = linkedStreams();
    const wanted = (name: string) => ({ code: 'ERR_PQC_INVALID_INPUT', message: expect.stringMatching(new RegExp(`^${name} must be a string`)) });
    expect(await rejection(a.establishSecureChannel('', { port: 1 }))).toMatchObject(wanted('peerId'));
    expect(await rejection(a.openChannel(new FramedTransport(left), ''))).toMatchObject(wanted('peerId'));
    expect(thrown(() => b.acceptChannel(new FramedTransport(right), { expectedPeer: '' }))).toMatchObject(wanted('expectedPeer'));
    expect(await rejection(a.verifyBeaconAsync(new Uint8Array(1), new Uint8Array(1), ''))).toMatchObject(wanted('peerId'));
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses beacon data that is not bytes, and a beacon of an untrusted peer', async () => {
    const { a, b } = await nodePair();
    expect(thrown(() => a.signBeacon('hello' as never))).toMatchObject({ code: 'ERR_PQC_INVALID_INPUT', message: 'beacon data must be a Uint8Array' });
    const signature = a.signBeacon(Buffer.from('beacon'));
    expect(await b.verifyBeaconAsync(Buffer.from('beacon'), signature, 'node-a')).toBe(true);
    const stranger = await rejection(b.verifyBeaconAsync(Buffer.from('beacon'), signature, 'stranger'));
    expect(stranger).toBeInstanceOf(MeshError);
    expect(stranger).toMatchObject({ reason: 'unknown_peer', code: 'ERR_PQC_UNKNOWN_PEER', message: 'stranger is not a trusted peer' });
    await Promise.all([a.close(), b.close()]);
  });

  it('says which peer has no channel, and how to open one', async () => {
    const { a, b } = await nodePair();
    expect(thrown(() => a.encryptForPeer('node-b', new Uint8Array(1)))).toMatchObject({
      code: 'ERR_PQC_NO_CHANNEL',
      message: 'no open channel with node-b: establishSecureChannel() first',
    });
    await Promise.all([a.close(), b.close()]);
  });
});

describe(`PQMeshSecurity's trust and channels on the ${environment.backend} backend`, () => {
  it('lists a trusted peer’s keys, and closes its channels when its key changes, not when it is trusted again as it is', async () => {
    const { a, b } = await nodePair();
    expect(a.peerKeys('node-b')).toMatchObject({ nodeId: 'node-b', keyId: b.getPublicKeys().keyId });
    expect(a.peerKeys('node-c')).toBeUndefined();
    const [left, right] = linkedStreams();
    const [outbound] = await Promise.all([a.openChannel(new FramedTransport(left), 'node-b'), b.acceptChannel(new FramedTransport(right))]);
    let closed: PqcError | undefined | null = null;
    outbound.once('close', (error) => (closed = error));
    a.trustPeer(b.getPublicKeys());
    expect(closed).toBeNull();
    expect(a.channels('node-b')).toEqual([outbound]);
    const impostor = await PQMeshSecurity.create({ nodeId: 'node-b', logger: silentLogger });
    a.trustPeer(impostor.getPublicKeys());
    expect(closed).toBeInstanceOf(MeshError);
    expect(closed).toMatchObject({ reason: 'unknown_peer', message: "node-b's trusted key changed" });
    expect(a.channels('node-b')).toEqual([]);
    await Promise.all([a.close(), b.close(), impostor.close()]);
  });

  it('closes the channels of an untrusted peer with the reason', async () => {
    const { a, b } = await nodePair();
    const [left, right] = linkedStreams();
    const [outbound] = await Promise.all([a.openChannel(new FramedTransport(left), 'node-b'), b.acceptChannel(new FramedTransport(right))]);
    const closed = closeEvent(outbound);
    a.untrustPeer('node-b');
    expect(await closed).toMatchObject({ reason: 'unknown_peer', message: 'node-b is no longer trusted' });
    expect(a.peerKeys('node-b')).toBeUndefined();
    a.untrustPeer('node-c'); // no channels to close
    await Promise.all([a.close(), b.close()]);
  });

  it('calls openChannel’s opened callback with the channel before it resolves', async () => {
    const { a, b } = await nodePair();
    const [left, right] = linkedStreams();
    const seen: SecureChannel[] = [];
    const [outbound] = await Promise.all([
      a.openChannel(new FramedTransport(left), 'node-b', { opened: (channel) => seen.push(channel) }),
      b.acceptChannel(new FramedTransport(right)),
    ]);
    expect(seen).toEqual([outbound]);
    await Promise.all([a.close(), b.close()]);
  });

  it('rejects acceptChannel when the connection closes before a handshake', async () => {
    const { a, b } = await nodePair();
    const [left, right] = linkedStreams();
    const accepted = rejection(b.acceptChannel(new FramedTransport(right)));
    left.end();
    const error = await accepted;
    expect(error).toBeInstanceOf(MeshError);
    expect(error).toMatchObject({ reason: 'closed', message: 'the connection closed before a handshake completed' });
    await Promise.all([a.close(), b.close()]);
  });

  it('opens a record of an older channel with that channel, not the newest', async () => {
    const { a, b } = await nodePair();
    const open = async () => {
      const [left, right] = linkedStreams();
      return Promise.all([a.openChannel(new FramedTransport(left), 'node-b'), b.acceptChannel(new FramedTransport(right))]);
    };
    const [older] = await open();
    const [newer] = await open();
    expect(b.channels('node-a')).toHaveLength(2);
    expect(Buffer.from(b.decryptFromPeer('node-a', older.encrypt(Buffer.from('old')))).toString()).toBe('old');
    expect(Buffer.from(b.decryptFromPeer('node-a', newer.encrypt(Buffer.from('new')))).toString()).toBe('new');
    await Promise.all([a.close(), b.close()]);
  });
});

describe(`PQMeshSecurity.listen and close on the ${environment.backend} backend`, () => {
  it('listens on 127.0.0.1 and any free port by default, on the given port when told, and stops on close()', async () => {
    const { a, b } = await nodePair();
    const listener = await b.listen();
    expect(listener.host).toBe('127.0.0.1');
    expect(listener.port).toBeGreaterThan(0);
    const port = await freePort();
    const fixed = await b.listen({ port });
    expect(fixed).toMatchObject({ host: '127.0.0.1', port });
    expect(await accepts(port)).toBe(true);
    await fixed.close();
    expect(await accepts(port)).toBe(false);
    expect(await accepts(listener.port)).toBe(true);
    await Promise.all([a.close(), b.close()]);
    expect(await accepts(listener.port)).toBe(false);
  });

  it('rejects a listen() that close() overtook, and leaves nothing listening on its port', async () => {
    const { a, b } = await nodePair();
    const port = await freePort();
    const listening = rejection(b.listen({ port }));
    await b.close();
    expect(await listening).toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED', message: 'node-b is closed' });
    expect(await accepts(port)).toBe(false);
    await a.close();
  });

  it('refuses a port in use with the address and the cause', async () => {
    const { a, b } = await nodePair();
    const taken = await a.listen();
    const error = await rejection(b.listen({ port: taken.port }));
    expect(error).toBeInstanceOf(PqcError);
    expect(error).toMatchObject({ code: 'ERR_PQC_INVALID_CONFIGURATION', cause: { code: 'EADDRINUSE' } });
    expect((error as Error).message).toMatch(new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${taken.port}: .*EADDRINUSE`));
    await Promise.all([a.close(), b.close()]);
  });

  it('drops inbound TCP connections past maxConnections', async () => {
    const { a, b } = await nodePair({}, { maxConnections: 1 });
    const listener = await b.listen();
    const first = connect({ host: '127.0.0.1', port: listener.port });
    await new Promise((resolve) => first.once('connect', resolve));
    const second = connect({ host: '127.0.0.1', port: listener.port });
    await new Promise((resolve) => second.once('close', resolve));
    expect(first.destroyed).toBe(false);
    first.destroy();
    await Promise.all([a.close(), b.close()]);
  });

  it('closes every channel with ERR_PQC_CHANNEL_CLOSED naming the node', async () => {
    const { a, b } = await nodePair();
    const { outbound } = await connectPair(a, b);
    const closed = closeEvent(outbound);
    await a.close();
    expect(await closed).toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED', message: 'node-a closed' });
    await b.close();
  });

  it('listens to its fallback handler until close, once, and leaves its listener budget as it was', async () => {
    const fallback = new PQCFallbackHandler({ logger: silentLogger, registry: new Registry(), shutdown: () => {} });
    const budget = fallback.getMaxListeners();
    const before = { expired: fallback.listenerCount('expired'), disabled: fallback.listenerCount('disabled') };
    const node = await PQMeshSecurity.create({ nodeId: 'node-a', logger: silentLogger, fallback });
    expect(fallback.getMaxListeners()).toBe(budget + 2);
    expect(fallback.listenerCount('expired')).toBe(before.expired + 1);
    expect(fallback.listenerCount('disabled')).toBe(before.disabled + 1);
    await node.close();
    await node.close();
    expect(fallback.getMaxListeners()).toBe(budget);
    expect({ expired: fallback.listenerCount('expired'), disabled: fallback.listenerCount('disabled') }).toEqual(before);
  });
});
