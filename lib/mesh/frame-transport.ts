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

/** The default largest frame: a 1 MiB record and its header and tag. */
export const DEFAULT_MAX_FRAME = (1 << 20) + 64;
const LENGTH_BYTES = 4;
// Reading pauses while this many frames wait for processing (the handshake's work is async).
const HIGH_WATER_FRAMES = 64;

/**
 * TCP framing: u32 big-endian length ‖ frame. A length above `maxFrame` closes the connection
 * before any of the frame is buffered. Both directions honour backpressure: `send` waits for
 * 'drain', and reading pauses while frames queue up unprocessed.
 */
export class TcpFrameTransport implements FrameTransport {
  onFrame: (frame: Uint8Array) => Promise<void> = async () => undefined;
  onClose: (error?: PqcError) => void = () => undefined;
  #buffered: Buffer[] = [];
  #bufferedLength = 0;
  /** The length of the frame being received, once its header is in. */
  #expected: number | undefined;
  #inboundLimit: number;
  #queued = 0;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  readonly remote: string;

  constructor(
    readonly socket: Socket,
    readonly maxFrame = DEFAULT_MAX_FRAME,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#inboundLimit = maxFrame;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined); // 'close' follows and reports it
    socket.on('close', (hadError) => this.#finish(hadError ? new PqcError('ERR_PQC_CHANNEL_CLOSED', `the connection to ${this.remote} failed`) : undefined));
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
    if (this.#closed) return Promise.reject(new PqcError('ERR_PQC_CHANNEL_CLOSED', `the connection to ${this.remote} is closed`));
    if (frame.length > this.maxFrame) {
      return Promise.reject(new PqcError('ERR_PQC_FRAME_TOO_LARGE', `a frame of ${frame.length} bytes is larger than the limit of ${this.maxFrame}`));
    }
    const out = Buffer.allocUnsafe(LENGTH_BYTES + frame.length);
    out.writeUInt32BE(frame.length);
    out.set(frame, LENGTH_BYTES);
    if (this.socket.write(out)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        if (this.#closed) reject(new PqcError('ERR_PQC_CHANNEL_CLOSED', `the connection to ${this.remote} closed`));
        else resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  close(error?: PqcError): void {
    if (this.#closed) return;
    this.socket.end();
    this.socket.destroySoon();
    this.#finish(error);
  }

  #finish(error?: PqcError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffered = [];
    this.onClose(error);
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#buffered.push(chunk);
    this.#bufferedLength += chunk.length;
    for (;;) {
      if (this.#expected === undefined) {
        if (this.#bufferedLength < LENGTH_BYTES) return;
        const length = this.#take(LENGTH_BYTES).readUInt32BE(0);
        if (length > this.#inboundLimit) {
          this.socket.destroy();
          this.#finish(new PqcError('ERR_PQC_FRAME_TOO_LARGE', `${this.remote} sent a frame of ${length} bytes, more than the limit of ${this.#inboundLimit}`));
          return;
        }
        this.#expected = length;
      }
      if (this.#bufferedLength < this.#expected) return;
      const frame = this.#take(this.#expected);
      this.#expected = undefined;
      this.#deliver(new Uint8Array(frame.buffer, frame.byteOffset, frame.length));
    }
  }

  /** The first `length` buffered bytes, removed from the buffer; each byte is copied at most once. */
  #take(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const head = this.#buffered[0]!;
      const used = Math.min(head.length, length - filled);
      head.copy(out, filled, 0, used);
      filled += used;
      if (used === head.length) this.#buffered.shift();
      else this.#buffered[0] = head.subarray(used);
    }
    this.#bufferedLength -= length;
    return out;
  }

  #deliver(frame: Uint8Array): void {
    if (++this.#queued >= HIGH_WATER_FRAMES) this.socket.pause();
    this.#chain = this.#chain.then(async () => {
      try {
        if (!this.#closed) await this.onFrame(frame);
      } catch {
        // onFrame handles its own refusals; anything it lets through ends the connection.
        this.close(new PqcError('ERR_PQC_CHANNEL_CLOSED', `the connection to ${this.remote} failed while handling a frame`));
      } finally {
        if (--this.#queued < HIGH_WATER_FRAMES / 4 && this.socket.isPaused()) this.socket.resume();
      }
    });
  }
}
