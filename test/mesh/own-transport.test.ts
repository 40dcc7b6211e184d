import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { FramedTransport, MeshError, PQMeshSecurity, type ByteStream } from '../../lib/mesh/index.js';
import { environment } from '../support/environment.js';
import { messages, nodePair, silentLogger } from './support.js';

await ready();

/** Two in-memory byte streams joined back to back, delivering asynchronously as a socket would. */
function streamPair(): [ByteStream, ByteStream] {
  const make = (): ByteStream & { peer?: ByteStream; open: boolean } => ({
    remote: 'memory',
    open: true,
    write(bytes) {
      const copy = Uint8Array.from(bytes);
      setImmediate(() => this.peer?.onData(copy));
      return true;
    },
    setPaused: () => undefined,
    end() {
      close(false);
    },
    destroy() {
      close(true);
    },
    onData: () => undefined,
    onDrain: () => undefined,
    onClose: () => undefined,
  });
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  const close = (failed: boolean) =>
    setImmediate(() => {
      for (const side of [a, b]) {
        if (side.open) {
          side.open = false;
          side.onClose(failed);
        }
      }
    });
  return [a, b];
}

describe(`channels over the caller's own framed transport on the ${environment.backend} backend`, () => {
  it('opens and accepts a channel on any byte stream, not announced as a listener’s', async () => {
    const { a, b } = await nodePair();
    const [left, right] = streamPair();
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
    const [left, right] = streamPair();
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
    const [left] = streamPair();
    const error = await lonely.openChannel(new FramedTransport(left), 'stranger').then(() => undefined, (e: unknown) => e);
    expect((error as MeshError).reason).toBe('unknown_peer');
    await lonely.close();
  });
});
