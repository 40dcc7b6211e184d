import type { MessageStream, StreamCloseEvent } from '@libp2p/interface';
import type { ByteStream } from '../mesh/frame-transport.js';

/**
 * A libp2p MessageStream (the raw connection libp2p hands an encrypter) as the byte stream our
 * framing runs over. Reading pauses while either the framing (frames queued) or the secured
 * stream's reader asks for it. How the stream closed is kept for the secured stream.
 */
export class MessageStreamBytes implements ByteStream {
  onData: (bytes: Uint8Array) => void = () => undefined;
  onDrain: () => void = () => undefined;
  onClose: (failed: boolean) => void = () => undefined;
  /** Set when the remote closed its writable end. */
  onRemoteCloseWrite: () => void = () => undefined;
  /** The stream's 'close' event, once it came. */
  closeEvent: StreamCloseEvent | undefined;
  readonly remote: string;
  #framesPaused = false;
  #readerPaused = false;

  constructor(readonly stream: MessageStream) {
    this.remote = String((stream as { remoteAddr?: unknown }).remoteAddr ?? `a libp2p ${stream.direction} connection`);
    stream.addEventListener('message', (event) => this.onData(event.data.subarray()));
    stream.addEventListener('drain', () => this.onDrain());
    stream.addEventListener('remoteCloseWrite', () => this.onRemoteCloseWrite());
    stream.addEventListener('close', (event) => {
      this.closeEvent = event;
      this.onClose(event.error !== undefined);
    });
  }

  write(bytes: Uint8Array): boolean {
    return this.stream.send(bytes);
  }

  setPaused(paused: boolean): void {
    this.#framesPaused = paused;
    this.#apply();
  }

  /** The secured stream's reader pauses and resumes. */
  setReaderPaused(paused: boolean): void {
    this.#readerPaused = paused;
    this.#apply();
  }

  end(): void {
    this.stream.close().catch((error: unknown) => this.stream.abort(error instanceof Error ? error : new Error(String(error))));
  }

  destroy(): void {
    this.stream.abort(new Error(`the connection to ${this.remote} was ended: it broke the framing`));
  }

  // pause() and resume() throw once the readable end is closing: then there is nothing to hold.
  #apply(): void {
    const status = (this.stream as { readStatus?: string }).readStatus;
    if (this.stream.status !== 'open' || (status !== undefined && status !== 'readable' && status !== 'paused')) return;
    if (this.#framesPaused || this.#readerPaused) this.stream.pause();
    else this.stream.resume();
  }
}
