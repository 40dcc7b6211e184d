import type { Socket } from 'node:net';
import { PqcError } from '../errors.js';

/** A message-framed duplex: what a connection runs the handshake and the records over. */
export interface FrameTransport {
  /** Resolves once the frame is handed to the network, waiting while the peer reads slowly. */
  send(frame: Uint8Array): Promise<void>;
  close(error?: PqcError): void;
  readonly closed: boolean;
  /** Frames in arrival order; the next is delivered once this one's promise settles. */
  onFrame: (frame: Uint8Array) => Promise<void>;
  onClose: (error?: PqcError) => void;
  readonly remote: string;
  /** Received frames above this many bytes close the connection (at most the transport's own limit). */
  inboundLimit: number;
}

/**
 * A reliable, ordered byte stream that frames can be cut from: a TCP socket, or a stream of
 * the caller's (libp2p's connections). `FramedTransport` sets the three handlers.
 */
export interface ByteStream {
  readonly remote: string;
  /** Queues bytes for sending; false when the writer should wait for `onDrain`. */
  write(bytes: Uint8Array): boolean;
  /** Stops (true) or restarts (false) the delivery of received bytes. */
  setPaused(paused: boolean): void;
  /** Ends the stream after what was written; `destroy` ends it at once. */
  end(): void;
  destroy(): void;
  onData: (bytes: Uint8Array) => void;
  onDrain: () => void;
  /** Called once when the stream is gone; `failed` when it ended in error. */
  onClose: (failed: boolean) => void;
}

/** The default largest frame: a 1 MiB record and its header and tag. */
export const DEFAULT_MAX_FRAME = (1 << 20) + 64;
const LENGTH_BYTES = 4;
// Reading pauses while this many frames wait for processing (the handshake's work is async).
const HIGH_WATER_FRAMES = 64;

/**
 * Framing over a byte stream: u32 big-endian length ‖ frame. A length above `maxFrame` closes
 * the connection before any of the frame is buffered. Both directions honour backpressure:
 * `send` waits for the stream to drain, and reading pauses while frames queue up unprocessed.
 */
export class FramedTransport implements FrameTransport {
  onFrame: (frame: Uint8Array) => Promise<void> = async () => undefined;
  onClose: (error?: PqcError) => void = () => undefined;
  #buffered: Uint8Array[] = [];
  #bufferedLength = 0;
  /** The length of the frame being received, once its header is in. */
  #expected: number | undefined;
  #inboundLimit: number;
  #queued = 0;
  #paused = false;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #drainWaiters = new Set<() => void>();

  constructor(
    readonly stream: ByteStream,
    readonly maxFrame = DEFAULT_MAX_FRAME,
  ) {
    this.#inboundLimit = maxFrame;
    stream.onData = (bytes) => this.#onData(bytes);
    stream.onDrain = () => this.#drained();
    stream.onClose = (failed) => {
      if (failed) this.#finish(new PqcError('ERR_PQC_CHANNEL_CLOSED', `the connection to ${this.remote} failed`));
      // A stream that ended cleanly still delivers the frames it brought.
      else this.afterFrames(() => this.#finish());
    };
  }

  /** Runs `task` once every frame received so far has been handled (for end-of-stream signals). */
  afterFrames(task: () => void): void {
    this.#chain = this.#chain.then(() => {
      try {
        task();
      } catch {
        // the task's failure is its own; frames after it are still delivered
      }
    });
  }

  get remote(): string {
    return this.stream.remote;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get inboundLimit(): number {
    return this.#inboundLimit;
  }

  set inboundLimit(bytes: number) {
    this.#inboundLimit = Math.min(bytes, this.maxFrame);
  }

  send(frame: Uint8Array): Promise<void> {
    try {
      if (this.write(frame)) return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const done = () => {
        this.#drainWaiters.delete(done);
        if (this.#closed) reject(new PqcError('ERR_PQC_CHANNEL_CLOSED', `the connection to ${this.remote} closed`));
        else resolve();
      };
      this.#drainWaiters.add(done);
    });
  }

  /** `send` for callers that cannot wait: false when the stream asks the writer to wait for it to drain. */
  write(frame: Uint8Array): boolean {
    if (this.#closed) throw new PqcError('ERR_PQC_CHANNEL_CLOSED', `the connection to ${this.remote} is closed`);
    if (frame.length > this.maxFrame) {
      throw new PqcError('ERR_PQC_FRAME_TOO_LARGE', `a frame of ${frame.length} bytes is larger than the limit of ${this.maxFrame}`);
    }
    const out = Buffer.allocUnsafe(LENGTH_BYTES + frame.length);
    out.writeUInt32BE(frame.length);
    out.set(frame, LENGTH_BYTES);
    return this.stream.write(out);
  }

  close(error?: PqcError): void {
    if (this.#closed) return;
    try {
      this.stream.end();
    } finally {
      // A stream that throws as it ends is closed all the same.
      this.#finish(error);
    }
  }

  #drained(): void {
    for (const waiter of [...this.#drainWaiters]) waiter();
  }

  #finish(error?: PqcError): void {
    if (this.#closed) return;
    this.#closed = true;
    // Stryker disable next-line ArrayDeclaration: only lets go of the chunks; nothing reads #buffered once closed (#onData returns first)
    this.#buffered = [];
    this.#drained();
    this.onClose(error);
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#buffered.push(chunk);
    this.#bufferedLength += chunk.length;
    for (;;) {
      if (this.#expected === undefined) {
        if (this.#bufferedLength < LENGTH_BYTES) return;
        const header = this.#take(LENGTH_BYTES);
        const length = ((header[0]! << 24) | (header[1]! << 16) | (header[2]! << 8) | header[3]!) >>> 0;
        if (length > this.#inboundLimit) {
          this.stream.destroy();
          this.#finish(new PqcError('ERR_PQC_FRAME_TOO_LARGE', `${this.remote} sent a frame of ${length} bytes, more than the limit of ${this.#inboundLimit}`));
          return;
        }
        this.#expected = length;
      }
      if (this.#bufferedLength < this.#expected) return;
      const frame = this.#take(this.#expected);
      this.#expected = undefined;
      this.#deliver(frame);
    }
  }

  /**
   * The first `length` buffered bytes, removed from the buffer, as a copy in which each byte is
   * copied once. Never a view of a received chunk: the stream may reuse that memory once its
   * event returns, while the frame still waits its turn (with views, a 64 MiB stream over libp2p's
   * TCP connections was reset).
   */
  #take(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const head = this.#buffered[0]!;
      const used = Math.min(head.length, length - filled);
      // Stryker disable next-line ConditionalExpression: head.subarray(0, head.length) holds the same bytes; the test only spares a view
      out.set(used === head.length ? head : head.subarray(0, used), filled);
      filled += used;
      if (used === head.length) this.#buffered.shift();
      else this.#buffered[0] = head.subarray(used);
    }
    this.#bufferedLength -= length;
    return out;
  }

  #deliver(frame: Uint8Array): void {
    if (++this.#queued >= HIGH_WATER_FRAMES && !this.#paused) this.#setPaused(true);
    this.#chain = this.#chain.then(async () => {
      try {
        if (!this.#closed) await this.onFrame(frame);
      } catch {
        // onFrame handles its own refusals; anything it lets through ends the connection.
        try {
          this.close(new PqcError('ERR_PQC_CHANNEL_CLOSED', `the connection to ${this.remote} failed while handling a frame`));
        } catch {
          // the stream or a close handler threw while ending: the transport is closed all the
          // same, and the chain must not reject, or no later frame or end-of-stream task would run
        }
      } finally {
        if (--this.#queued < HIGH_WATER_FRAMES / 4 && this.#paused) this.#setPaused(false);
      }
    });
  }

  #setPaused(paused: boolean): void {
    this.#paused = paused;
    try {
      if (!this.#closed) this.stream.setPaused(paused);
    } catch {
      // a stream that can no longer pause or resume is ending; its close is reported on its own
    }
  }
}

/** A TCP socket as a ByteStream (Nagle off). */
export function socketStream(socket: Socket): ByteStream {
  const stream: ByteStream = {
    remote: `${socket.remoteAddress}:${socket.remotePort}`,
    write: (bytes) => socket.write(bytes),
    setPaused: (paused) => (paused ? socket.pause() : socket.resume()),
    end: () => {
      socket.end();
      socket.destroySoon();
    },
    destroy: () => socket.destroy(),
    onData: () => undefined,
    onDrain: () => undefined,
    onClose: () => undefined,
  };
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => stream.onData(chunk));
  socket.on('drain', () => stream.onDrain());
  socket.on('error', () => undefined); // 'close' follows and reports it
  socket.on('close', (hadError) => stream.onClose(hadError));
  return stream;
}
