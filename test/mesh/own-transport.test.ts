import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { FramedTransport, MeshError, PQMeshSecurity } from '../../lib/mesh/index.js';
import { environment } from '../support/environment.js';
import { linkedStreams, messages, nodePair, silentLogger } from './support.js';

await ready();

describe(`channels over the caller's own framed transport on the ${environment.backend} backend`, () => {
  it('opens and accepts a channel on any byte stream, not announced as a listener’s', async () => {
    const { a, b } = await nodePair();
    const [left, right] = linkedStreams();
    let announced = 0;
    b.on('channel', () => announced++);
    const [outbound, inbound] = await Promise.all([a.openChannel(new FramedTransport(left), 'node-b'), b.acceptChannel(new FramedTransport(right), { expectedPeer: 'node-a' })]);
    expect([outbound.peerId, inbound.peerId]).toEqual(['node-b', 'node-a']);
    expect(outbound.sessionId).toBe(inbound.sessionId);
    const received = messages(inbound, 2);
    await outbound.send(Buffer.from('one'));
    await outbound.send(Buffer.from('two'));
    expect((await received).map((m) => Buffer.from(m).toString())).toEqual(['one', 'two']);
    expect(announced).toBe(0);
    expect(b.channels('node-a')).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses an InitHello from another node than the expected one, and rejects with the refusal', async () => {
    const { a, b } = await nodePair();
    const [left, right] = linkedStreams();
    const accepted = b.acceptChannel(new FramedTransport(right), { expectedPeer: 'node-c' }).then(() => undefined, (e: unknown) => e);
    const opened = a.openChannel(new FramedTransport(left), 'node-b').then(() => undefined, (e: unknown) => e);
    const [refusal, failure] = await Promise.all([accepted, opened]);
    expect(refusal).toBeInstanceOf(MeshError);
    expect((refusal as MeshError).reason).toBe('unknown_peer');
    expect(failure).toBeInstanceOf(MeshError);
    await Promise.all([a.close(), b.close()]);
  });

  it('counts a dial to an untrusted peer over the caller’s transport like one over TCP', async () => {
    const lonely = await PQMeshSecurity.create({ nodeId: 'lonely', logger: silentLogger });
    const [left] = linkedStreams();
    const error = await lonely.openChannel(new FramedTransport(left), 'stranger').then(() => undefined, (e: unknown) => e);
    expect((error as MeshError).reason).toBe('unknown_peer');
    await lonely.close();
  });
});

describe('FramedTransport when the stream or a handler throws', () => {
  const frame = (bytes: number[]) => Uint8Array.of(0, 0, 0, bytes.length, ...bytes);

  it('a stream that throws as it ends, after a frame handler failed, still closes the transport, and later end-of-stream tasks run', async () => {
    const [left] = linkedStreams();
    left.end = () => {
      throw new Error('the stream cannot end');
    };
    const transport = new FramedTransport(left);
    const closes: (string | undefined)[] = [];
    transport.onClose = (error) => closes.push(error?.code);
    transport.onFrame = () => Promise.reject(new Error('a handler bug'));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      left.onData(frame([1, 2, 3]));
      const ran = await new Promise<boolean>((resolve) => {
        transport.afterFrames(() => resolve(true));
        setTimeout(() => resolve(false), 2000);
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(ran).toBe(true);
      expect(transport.closed).toBe(true);
      expect(closes).toEqual(['ERR_PQC_CHANNEL_CLOSED']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('close() on a stream that throws as it ends reports the close, then the stream’s error', () => {
    const [left] = linkedStreams();
    left.end = () => {
      throw new Error('the stream cannot end');
    };
    const transport = new FramedTransport(left);
    let closed = 0;
    transport.onClose = () => closed++;
    expect(() => transport.close()).toThrow('the stream cannot end');
    expect(transport.closed).toBe(true);
    expect(closed).toBe(1);
  });
});
