import type { AbortOptions, MessageStream } from '@libp2p/interface';
import { AbstractMessageStream, type SendResult } from '@libp2p/utils';
type Uint8ArrayList = Parameters<AbstractMessageStream['sendData']>[0];
import { PqcError } from '../errors.js';
import type { FramedTransport } from '../mesh/frame-transport.js';
import type { SecureChannel } from '../mesh/secure-channel.js';
import type { MessageStreamBytes } from './message-stream-bytes.js';

/**
 * The most plaintext one record carries: libp2p's writes are cut into records of this size,
 * so that a record's frame (4 + 18 + plaintext + 16 bytes) fits in 64 KiB, as a TCP read is.
 */
export const MAX_RECORD_PLAINTEXT = 64 * 1024 - 38;
/** `encrypt` cannot seal now, but `send` will once the channel is repaired or its keys rotated. */
const WAITING_CODES = new Set(['ERR_PQC_KEY_DESYNC', 'ERR_PQC_KEYS_EXPIRED']);

/**
 * The secured connection libp2p gets back from the encrypter: what it sends is sealed into
 * records of the channel, what the channel opens is delivered, in order. Rotations and repairs
 * run inside the channel on the same connection, unseen by libp2p.
 */
export class SecuredStream extends AbstractMessageStream {
  readonly #channel: SecureChannel;
  readonly #transport: FramedTransport;
  readonly #bytes: MessageStreamBytes;
  readonly #raw: MessageStream;

  constructor(channel: SecureChannel, transport: FramedTransport, bytes: MessageStreamBytes) {
    const raw = bytes.stream;
    super({
      log: raw.log.newScope('x0tta6bl4-pq'),
      inactivityTimeout: raw.inactivityTimeout,
      maxReadBufferLength: raw.maxReadBufferLength,
      direction: raw.direction,
      maxMessageSize: MAX_RECORD_PLAINTEXT,
    });
    this.#channel = channel;
    this.#transport = transport;
    this.#bytes = bytes;
    this.#raw = raw;
    channel.on('message', (plaintext) => this.onData(plaintext));
    // libp2p's muxer reads one unbroken byte stream: a record dropped from it would corrupt
    // whatever follows, so the connection is reset instead (as TLS ends on a bad record).
    channel.on('refused', (failure) => this.abort(failure));
    channel.on('close', (error) => this.#onChannelClosed(error));
    const framingDrained = bytes.onDrain;
    bytes.onDrain = () => {
      framingDrained();
      this.safeDispatchEvent('drain');
    };
    // After the frames that came before it, so that no data is cut off.
    bytes.onRemoteCloseWrite = () => transport.afterFrames(() => this.onRemoteCloseWrite());
  }

  sendData(data: Uint8ArrayList): SendResult {
    const plaintext = data.subarray();
    let record: Uint8Array;
    try {
      record = this.#channel.encrypt(plaintext);
    } catch (error) {
      if (!(error instanceof PqcError && WAITING_CODES.has(error.code))) throw error;
      // Sent once the channel can seal again; nothing more is taken until then.
      this.#channel.send(plaintext).then(
        () => this.safeDispatchEvent('drain'),
        (failure: unknown) => this.abort(failure instanceof Error ? failure : new Error(String(failure))),
      );
      return { sentBytes: data.byteLength, canSendMore: false };
    }
    return { sentBytes: data.byteLength, canSendMore: this.#transport.write(record) };
  }

  sendReset(error: Error): void {
    this.#raw.abort(error);
  }

  sendPause(): void {
    this.#bytes.setReaderPaused(true);
  }

  sendResume(): void {
    this.#bytes.setReaderPaused(false);
  }

  /** Closes the connection once everything written is sealed and handed on. */
  async close(options?: AbortOptions): Promise<void> {
    if (this.writeStatus === 'closing' || this.writeStatus === 'closed') return;
    this.writeStatus = 'closing';
    if (this.sendingData || this.writeBuffer.byteLength > 0 || this.writableNeedsDrain) {
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (this.writeBuffer.byteLength > 0 || this.writableNeedsDrain) return;
          cleanup();
          resolve();
        };
        const closed = () => {
          cleanup();
          reject(new PqcError('ERR_PQC_CHANNEL_CLOSED', 'the connection closed before everything written was sent'));
        };
        const cleanup = () => {
          this.removeEventListener('idle', check);
          this.removeEventListener('drain', check);
          this.removeEventListener('close', closed);
          options?.signal?.removeEventListener('abort', closed);
        };
        this.addEventListener('idle', check);
        this.addEventListener('drain', check);
        this.addEventListener('close', closed);
        options?.signal?.addEventListener('abort', closed);
      });
    }
    await this.#raw.close(options);
  }

  /** The channel ends with the connection, or alone (trust withdrawn, a repair failed): libp2p hears which. */
  #onChannelClosed(error: PqcError | undefined): void {
    const event = this.#bytes.closeEvent;
    if (event?.error !== undefined) {
      if (event.local) this.abort(event.error);
      else this.onRemoteReset();
    } else if (event) {
      this.onTransportClosed();
    } else {
      this.abort(error ?? new PqcError('ERR_PQC_CHANNEL_CLOSED', 'the secure channel closed'));
    }
  }
}
