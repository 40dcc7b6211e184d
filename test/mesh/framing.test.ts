import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PqcError } from '../../lib/errors.js';
import { DEFAULT_MAX_FRAME, FramedTransport, socketStream, type ByteStream } from '../../lib/mesh/frame-transport.js';

// The behaviour pinned here is docs/protocol.md §3 "TCP framing": u32 big-endian length ‖ frame,
// `maxFrame` on send, `inboundLimit` (at most `maxFrame`) on receipt, reading paused at 64 queued
// frames and resumed below 16, `send` waiting for drain, Nagle off.

const REMOTE = 'peer.example:7000';
const PAUSE_AT = 64;
const RESUME_BELOW = 16;

/** A ByteStream that records what the transport asks of it; the test plays the network. */
function recordingStream(writeAccepts = true) {
  const calls = { writes: [] as Uint8Array[], paused: [] as boolean[], ends: 0, destroys: 0 };
  const stream: ByteStream = {
    remote: REMOTE,
    write: (bytes) => {
      calls.writes.push(Uint8Array.from(bytes));
      return writeAccepts;
    },
    setPaused: (paused) => calls.paused.push(paused),
    end: () => calls.ends++,
    destroy: () => calls.destroys++,
    onData: () => undefined,
    onDrain: () => undefined,
    onClose: () => undefined,
  };
  return { stream, calls };
}

function header(length: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length);
  return out;
}

const framed = (body: Uint8Array) => Uint8Array.of(...header(body.length), ...body);

/** Lets every queued promise callback of the transport's delivery chain run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function closesOf(transport: FramedTransport) {
  const closes: (PqcError | undefined)[] = [];
  transport.onClose = (error) => closes.push(error);
  return closes;
}

describe('FramedTransport sending', () => {
  it('names the stream’s remote as its own', () => {
    expect(new FramedTransport(recordingStream().stream).remote).toBe(REMOTE);
  });

  it('writes a frame of exactly maxFrame bytes, and refuses one byte more with the sizes in the message', () => {
    const { stream, calls } = recordingStream();
    const transport = new FramedTransport(stream, 8);
    expect(transport.write(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toBe(true);
    expect(calls.writes).toEqual([Uint8Array.of(0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8)]);
    let refusal: unknown;
    try {
      transport.write(new Uint8Array(9));
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(PqcError);
    expect(refusal).toMatchObject({ code: 'ERR_PQC_FRAME_TOO_LARGE', message: 'a frame of 9 bytes is larger than the limit of 8' });
    expect(calls.writes).toHaveLength(1);
  });

  it('refuses to write once closed, naming the remote, and writes nothing', () => {
    const { stream, calls } = recordingStream();
    const transport = new FramedTransport(stream);
    transport.close();
    expect(() => transport.write(Uint8Array.of(1))).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_CHANNEL_CLOSED', message: `the connection to ${REMOTE} is closed` }),
    );
    expect(calls.writes).toEqual([]);
  });

  it('send waits for the stream to drain when the write asks it to, then resolves', async () => {
    const { stream } = recordingStream(false);
    const transport = new FramedTransport(stream);
    let resolved = false;
    const sent = transport.send(Uint8Array.of(1)).then(() => {
      resolved = true;
    });
    await settle();
    expect(resolved).toBe(false);
    stream.onDrain();
    await settle();
    expect(resolved).toBe(true);
    await sent;
  });

  it('a send waiting for drain rejects when the connection closes, naming the remote', async () => {
    const { stream } = recordingStream(false);
    const transport = new FramedTransport(stream);
    let outcome: unknown = 'pending';
    void transport.send(Uint8Array.of(1)).then(
      () => (outcome = 'resolved'),
      (error: unknown) => (outcome = error),
    );
    transport.close();
    await settle();
    expect(outcome).toBeInstanceOf(PqcError);
    expect(outcome).toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED', message: `the connection to ${REMOTE} closed` });
  });

  it('close ends the stream once, however often it is called, and reports one close', () => {
    const { stream, calls } = recordingStream();
    const transport = new FramedTransport(stream);
    const closes = closesOf(transport);
    transport.close();
    transport.close();
    expect(calls.ends).toBe(1);
    expect(closes).toEqual([undefined]);
  });
});

describe('FramedTransport closing from the stream', () => {
  it('a stream that fails closes at once with CHANNEL_CLOSED naming the remote, before a pending frame settles', async () => {
    const { stream } = recordingStream();
    const transport = new FramedTransport(stream);
    const closes = closesOf(transport);
    transport.onFrame = () => new Promise<void>(() => undefined);
    stream.onData(framed(Uint8Array.of(1)));
    await settle();
    stream.onClose(true);
    expect(transport.closed).toBe(true);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED', message: `the connection to ${REMOTE} failed` });
  });

  it('a stream that ends cleanly closes without an error, after the frames it brought', async () => {
    const { stream } = recordingStream();
    const transport = new FramedTransport(stream);
    const events: string[] = [];
    transport.onClose = (error) => events.push(`close:${error?.code ?? 'clean'}`);
    transport.onFrame = async (frame) => {
      events.push(`frame:${frame[0]}`);
    };
    stream.onData(framed(Uint8Array.of(7)));
    stream.onClose(false);
    await settle();
    expect(events).toEqual(['frame:7', 'close:clean']);
  });

  it('reports the close once when the stream reports its end after close()', async () => {
    const { stream } = recordingStream();
    const transport = new FramedTransport(stream);
    const closes = closesOf(transport);
    transport.close();
    stream.onClose(true);
    stream.onClose(false);
    await settle();
    expect(closes).toEqual([undefined]);
  });

  it('a frame handler that throws closes the connection with CHANNEL_CLOSED naming the remote', async () => {
    const { stream, calls } = recordingStream();
    const transport = new FramedTransport(stream);
    const closes = closesOf(transport);
    transport.onFrame = () => Promise.reject(new Error('a handler bug'));
    stream.onData(framed(Uint8Array.of(1)));
    await settle();
    expect(calls.ends).toBe(1);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED', message: `the connection to ${REMOTE} failed while handling a frame` });
  });

  it('delivers no frame that was queued when the connection closed', async () => {
    const { stream } = recordingStream();
    const transport = new FramedTransport(stream);
    const seen: number[] = [];
    let release!: () => void;
    transport.onFrame = (frame) => {
      seen.push(frame[0]!);
      return new Promise<void>((resolve) => (release = resolve));
    };
    stream.onData(Uint8Array.of(...framed(Uint8Array.of(1)), ...framed(Uint8Array.of(2))));
    await settle();
    transport.close();
    release();
    await settle();
    expect(seen).toEqual([1]);
  });

  it('ignores bytes that arrive after the close, even a header over the limit', () => {
    const { stream, calls } = recordingStream();
    const transport = new FramedTransport(stream, 8);
    transport.close();
    stream.onData(header(9));
    expect(calls.destroys).toBe(0);
  });
});

describe('FramedTransport inbound limit', () => {
  it('starts at maxFrame, can be lowered, and is never raised above maxFrame', () => {
    const transport = new FramedTransport(recordingStream().stream, 100);
    expect(transport.inboundLimit).toBe(100);
    transport.inboundLimit = 10;
    expect(transport.inboundLimit).toBe(10);
    transport.inboundLimit = 1000;
    expect(transport.inboundLimit).toBe(100);
    expect(new FramedTransport(recordingStream().stream).inboundLimit).toBe(DEFAULT_MAX_FRAME);
  });

  it('accepts a frame of exactly the limit', async () => {
    const { stream, calls } = recordingStream();
    const transport = new FramedTransport(stream);
    transport.inboundLimit = 3;
    const seen: Uint8Array[] = [];
    transport.onFrame = async (frame) => {
      seen.push(frame);
    };
    stream.onData(framed(Uint8Array.of(4, 5, 6)));
    await settle();
    expect(seen).toEqual([Uint8Array.of(4, 5, 6)]);
    expect(calls.destroys).toBe(0);
    expect(transport.closed).toBe(false);
  });

  it('destroys the stream on a header one byte over the limit, with FRAME_TOO_LARGE naming the remote and sizes', () => {
    const { stream, calls } = recordingStream();
    const transport = new FramedTransport(stream);
    transport.inboundLimit = 3;
    const closes = closesOf(transport);
    stream.onData(header(4));
    expect(calls.destroys).toBe(1);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toMatchObject({ code: 'ERR_PQC_FRAME_TOO_LARGE', message: `${REMOTE} sent a frame of 4 bytes, more than the limit of 3` });
  });
});

describe('FramedTransport read back-pressure', () => {
  /** A transport whose frames stay unhandled until the test releases them, oldest first. */
  function heldFrames(stream: ByteStream) {
    const transport = new FramedTransport(stream);
    const releases: (() => void)[] = [];
    transport.onFrame = () => new Promise<void>((resolve) => releases.push(resolve));
    const feed = (count: number) => {
      for (let i = 0; i < count; i++) stream.onData(framed(Uint8Array.of(i & 0xff)));
    };
    /** Handles the oldest `count` frames, one after the other. */
    const handle = async (count: number) => {
      for (let i = 0; i < count; i++) {
        await settle();
        releases.shift()!();
      }
      await settle();
    };
    return { transport, feed, handle };
  }

  it('pauses reading once, at the 64th queued frame, and resumes once the queue is below 16', async () => {
    const { stream, calls } = recordingStream();
    const { feed, handle } = heldFrames(stream);
    feed(PAUSE_AT - 1);
    expect(calls.paused).toEqual([]);
    feed(1);
    expect(calls.paused).toEqual([true]);
    feed(2);
    expect(calls.paused).toEqual([true]);
    // 66 queued: handling 50 leaves 16, still paused; the next leaves 15 and resumes.
    await handle(PAUSE_AT + 2 - RESUME_BELOW);
    expect(calls.paused).toEqual([true]);
    await handle(1);
    expect(calls.paused).toEqual([true, false]);
    await handle(RESUME_BELOW - 1);
    expect(calls.paused).toEqual([true, false]);
  });

  it('never resumes a stream that was not paused', async () => {
    const { stream, calls } = recordingStream();
    const { feed, handle } = heldFrames(stream);
    feed(3);
    await handle(3);
    expect(calls.paused).toEqual([]);
  });

  it('does not resume the stream of a closed connection', async () => {
    const { stream, calls } = recordingStream();
    const { transport, feed, handle } = heldFrames(stream);
    feed(PAUSE_AT);
    expect(calls.paused).toEqual([true]);
    await settle();
    transport.close();
    // The queued frames are dropped, not handled: only the one in progress needs releasing.
    await handle(1);
    expect(calls.paused).toEqual([true]);
  });
});

describe('socketStream', () => {
  /** The part of a net.Socket that socketStream uses, recording the calls it gets. */
  function fakeSocket() {
    const calls: string[] = [];
    const socket = Object.assign(new EventEmitter(), {
      remoteAddress: '192.0.2.7',
      remotePort: 4433,
      setNoDelay: (noDelay: boolean) => calls.push(`setNoDelay:${noDelay}`),
      pause: () => calls.push('pause'),
      resume: () => calls.push('resume'),
      write: () => true,
      end: () => calls.push('end'),
      destroySoon: () => calls.push('destroySoon'),
      destroy: () => calls.push('destroy'),
    });
    return { socket: socket as unknown as Socket & EventEmitter, calls };
  }

  it('names the remote as address:port and turns Nagle off', () => {
    const { socket, calls } = fakeSocket();
    expect(socketStream(socket).remote).toBe('192.0.2.7:4433');
    expect(calls).toEqual(['setNoDelay:true']);
  });

  it('pauses and resumes the socket', () => {
    const { socket, calls } = fakeSocket();
    const stream = socketStream(socket);
    stream.setPaused(true);
    stream.setPaused(false);
    expect(calls.slice(1)).toEqual(['pause', 'resume']);
  });

  it('passes the socket’s drain on, and leaves its errors to the close that follows', () => {
    const { socket } = fakeSocket();
    const stream = socketStream(socket);
    const seen: string[] = [];
    stream.onDrain = () => seen.push('drain');
    stream.onClose = (failed) => seen.push(`close:${failed}`);
    socket.emit('drain');
    // an 'error' without a listener would throw out of emit (and crash a real process)
    expect(() => socket.emit('error', new Error('ECONNRESET'))).not.toThrow();
    socket.emit('close', true);
    expect(seen).toEqual(['drain', 'close:true']);
  });
});
