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
  #queued = 0;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  readonly remote: string;

  constructor(
    readonly socket: Socket,
    readonly maxFrame = DEFAULT_MAX_FRAME,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined); // 'close' follows and reports it
    socket.on('close', (hadError) => this.#finish(hadError ? new PqcError('ERR_PQC_CHANNEL_CLOSED', `the connection to ${this.remote} failed`) : undefined));
  }

  get closed(): boolean {
    return this.#closed;
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
    while (this.#bufferedLength >= LENGTH_BYTES) {
      const head = this.#take(LENGTH_BYTES, false);
      const length = head.readUInt32BE(0);
      if (length > this.maxFrame) {
        this.socket.destroy();
        this.#finish(new PqcError('ERR_PQC_FRAME_TOO_LARGE', `${this.remote} sent a frame of ${length} bytes, more than the limit of ${this.maxFrame}`));
        return;
      }
      if (this.#bufferedLength < LENGTH_BYTES + length) return;
      this.#take(LENGTH_BYTES, true);
      this.#deliver(new Uint8Array(this.#take(length, true)));
    }
  }

  /** The first `length` buffered bytes, removed from the buffer when `consume`. */
  #take(length: number, consume: boolean): Buffer {
    const joined = this.#buffered.length === 1 ? this.#buffered[0]! : Buffer.concat(this.#buffered);
    const out = joined.subarray(0, length);
    if (consume) {
      const rest = joined.subarray(length);
      this.#buffered = rest.length > 0 ? [rest] : [];
      this.#bufferedLength = rest.length;
    } else {
      this.#buffered = [joined];
    }
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
