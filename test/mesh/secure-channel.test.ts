import { beforeAll, describe, expect, it } from 'vitest';
import { PqcError } from '../../lib/errors.js';
import type { Kem } from '../../lib/kem.js';
import { MeshError, type FailureReason } from '../../lib/mesh/failure.js';
import { DEFAULT_HANDSHAKE_LIMITS, Responder, type Session } from '../../lib/mesh/handshake.js';
import { MessageType } from '../../lib/mesh/messages.js';
import { DEFAULT_REKEY_LIMITS, RecordLayer, type RekeyLimits } from '../../lib/mesh/record-layer.js';
import { SecureChannel, type ChannelHost } from '../../lib/mesh/secure-channel.js';
import { FakeClock } from '../policy/fake-clock.js';
import { fullHandshake, parties, type Party } from './support.js';

/**
 * KEM operations the test may hold back, so that it can act while a real operation is pending:
 * an operation waits for the gate that was closed when it started; `release` opens the oldest.
 */
class Gate {
  #current: Promise<void> = Promise.resolve();
  readonly #releases: (() => void)[] = [];
  /** How many operations have come through (their result handed on). */
  passed = 0;
  /** A backend failure to inject in place of the result (fault injection, not a crypto result). */
  failure: Error | undefined;
  close(): void {
    this.#current = new Promise((resolve) => this.#releases.push(resolve));
  }
  release(): void {
    this.#releases.shift()?.();
    if (this.#releases.length === 0) this.#current = Promise.resolve();
  }
  async pass<T>(value: Promise<T>): Promise<T> {
    const gate = this.#current;
    const result = await value;
    await gate;
    this.passed++;
    if (this.failure) throw this.failure;
    return result;
  }
}

/**
 * One side's node and connection, without TCP: frames go to the peer channel while `deliver`
 * is on (else they are kept in `held`), and every call the channel makes is recorded.
 */
class TestHost implements ChannelHost {
  readonly clock = new FakeClock();
  readonly handshakeLimits = DEFAULT_HANDSHAKE_LIMITS;
  readonly keygen = new Gate();
  readonly encapsulation = new Gate();
  readonly decapsulation = new Gate();
  /** The shared secrets this side's encapsulations produced, to check that they are wiped. */
  readonly sharedSecrets: Uint8Array[] = [];
  sendFailure: PqcError | undefined;
  peer!: SecureChannel;
  deliver = true;
  resynchronizes = true;
  readonly sent: Uint8Array[] = [];
  readonly held: Uint8Array[] = [];
  readonly rejected: FailureReason[] = [];
  readonly desyncs: MeshError[] = [];
  readonly rotationsFailed: FailureReason[] = [];
  readonly connectionErrors: (PqcError | undefined)[] = [];
  rotationsSucceeded = 0;
  closedCalls = 0;

  constructor(
    readonly realKem: Kem,
    readonly rekeyLimits: RekeyLimits = DEFAULT_REKEY_LIMITS,
  ) {}

  kem(): Kem {
    const real = this.realKem;
    return {
      generateKeyPairAsync: () => this.keygen.pass(real.generateKeyPairAsync()),
      encapsulateAsync: (publicKey: Uint8Array) =>
        this.encapsulation.pass(
          real.encapsulateAsync(publicKey).then((encapsulation) => {
            this.sharedSecrets.push(encapsulation.sharedSecret);
            return encapsulation;
          }),
        ),
      decapsulateAsync: (ciphertext: Uint8Array, secretKey: Uint8Array) => this.decapsulation.pass(real.decapsulateAsync(ciphertext, secretKey)),
    } as unknown as Kem;
  }

  async sendFrame(frame: Uint8Array): Promise<void> {
    if (this.sendFailure) throw this.sendFailure;
    this.sent.push(frame);
    if (this.deliver) void this.peer.receive(frame);
    else this.held.push(frame);
  }

  resynchronize(): boolean {
    return this.resynchronizes;
  }
  closeConnection(error?: PqcError): void {
    this.connectionErrors.push(error);
  }
  recordRejected(reason: FailureReason): void {
    this.rejected.push(reason);
  }
  keyDesync(error: MeshError): void {
    this.desyncs.push(error);
  }
  rotationSucceeded(): void {
    this.rotationsSucceeded++;
  }
  rotationFailed(_channel: SecureChannel, reason: FailureReason): void {
    this.rotationsFailed.push(reason);
  }
  closed(): void {
    this.closedCalls++;
  }
}

/** The record type byte: version, then type (docs/protocol.md's record header). */
const recordType = (record: Uint8Array) => record[1];

/** Lets pending KEM operations (real ones, in worker threads) and deliveries run until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(done()).toBe(true);
}

/** Runs what is already due (continuations of a KEM operation that just came through). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

function expectPqcError(run: () => unknown, code: string, message: string): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(PqcError);
  expect((thrown as PqcError).code).toBe(code);
  expect((thrown as PqcError).message).toBe(message);
}

let alice: Party;
let bob: Party;

beforeAll(async () => {
  [alice, bob] = await parties(['node-a', 'node-b']);
});

async function sessions(): Promise<{ initiator: Session; responder: Session }> {
  return fullHandshake(alice, new Responder(bob.ctx, () => {}), bob.keys);
}

/** Channel a (node-a's, the handshake's initiator) and b (node-b's, its responder), joined. */
async function channelPair(limitsA?: RekeyLimits, limitsB?: RekeyLimits) {
  const { initiator, responder } = await sessions();
  const kem = alice.ctx.kem(alice.ctx.offers()[0]!);
  const hostA = new TestHost(kem, limitsA);
  const hostB = new TestHost(kem, limitsB);
  const a = new SecureChannel(initiator, hostA);
  const b = new SecureChannel(responder, hostB);
  hostA.peer = b;
  hostB.peer = a;
  return { a, b, hostA, hostB };
}

/** Rotation limits whose lifetime (from the clock) ends long before any record count. */
const shortLived: RekeyLimits = { ...DEFAULT_REKEY_LIMITS, rekeyAfterMs: 500, rejectAfterMs: 1000 };

describe('SecureChannel roles', () => {
  it('reports the handshake role of each side', async () => {
    const { a, b } = await channelPair();
    expect(a.role).toBe('initiator');
    expect(b.role).toBe('responder');
  });

  it('hands on what the connection’s handshake extension made of the peer’s payload', async () => {
    const { initiator } = await sessions();
    const extension = { role: 'validator' };
    const channel = new SecureChannel({ ...initiator, extension }, new TestHost(alice.ctx.kem(alice.ctx.offers()[0]!)));
    expect(channel.extension).toBe(extension);
  });

  it('schedules the time-based rekey on the initiator only', async () => {
    const { hostA, hostB } = await channelPair();
    expect(hostA.clock.pendingTimers).toBe(1);
    expect(hostB.clock.pendingTimers).toBe(0);
  });

  it('rotates on the initiator once rekeyAfterMs has passed', async () => {
    const { a, b, hostA } = await channelPair();
    hostA.clock.advance(DEFAULT_REKEY_LIMITS.rekeyAfterMs);
    // The rotation's own timeout is now pending instead of the rekey timer.
    expect(hostA.clock.pendingTimers).toBe(1);
    await until(() => a.epoch === 1 && b.epoch === 1);
    expect(hostA.rotationsSucceeded).toBe(1);
  });
});

describe('SecureChannel key lifetime', () => {
  it('refuses to encrypt under keys past rejectAfterMs, on the clock the host gives', async () => {
    const { b, hostB } = await channelPair(DEFAULT_REKEY_LIMITS, shortLived);
    hostB.clock.advance(shortLived.rejectAfterMs);
    expectPqcError(() => b.encrypt(new Uint8Array([1])), 'ERR_PQC_KEYS_EXPIRED', 'the keys of the channel with node-a must rotate first (rotateKeys())');
  });

  it('rotates before it sends under keys that sealed rejectAfterMessages records', async () => {
    // rekeyAfterMessages = rejectAfterMessages: the keys go from 'ok' straight to 'reject', with no rotation of their own.
    const spent = { ...DEFAULT_REKEY_LIMITS, rekeyAfterMessages: 2, rejectAfterMessages: 2 };
    const { a, b, hostB } = await channelPair(DEFAULT_REKEY_LIMITS, spent);
    const received: Uint8Array[] = [];
    a.on('message', (message) => received.push(message));
    b.encrypt(new Uint8Array([1]));
    b.encrypt(new Uint8Array([2]));
    expect(hostB.clock.pendingTimers).toBe(0);
    await b.send(new Uint8Array([7]));
    expect(b.epoch).toBe(1);
    expect(hostB.sent.map(recordType)).toEqual([MessageType.RekeyInit, MessageType.Data]);
    await until(() => received.length === 1);
    expect(received[0]).toEqual(new Uint8Array([7]));
  });

  it('rotates keys past rejectAfterMs before it sends, when the timed rotation failed (both sides past the lifetime)', async () => {
    const { a, b, hostA, hostB } = await channelPair(shortLived, shortLived);
    const received: Uint8Array[] = [];
    b.on('message', (message) => received.push(message));
    hostA.keygen.failure = new PqcError('ERR_PQC_KEM_FAILED', 'injected backend failure');
    hostA.clock.advance(shortLived.rekeyAfterMs);
    await until(() => hostA.rotationsFailed.length === 1);
    hostA.keygen.failure = undefined;
    hostA.clock.advance(shortLived.rejectAfterMs);
    hostB.clock.advance(shortLived.rejectAfterMs);
    await a.send(new Uint8Array([7]));
    expect(a.epoch).toBe(1);
    expect(b.epoch).toBe(1);
    expect(hostA.sent.map(recordType)).toEqual([MessageType.RekeyInit, MessageType.Data]);
    await until(() => received.length === 1);
    expect(received[0]).toEqual(new Uint8Array([7]));
    expect([hostA.rejected, hostB.rejected, hostA.desyncs, hostB.desyncs]).toEqual([[], [], [], []]);
  });

  it('rotates keys past rejectAfterMs on the responder’s send too (the peer’s RekeyReply opens under the expired epoch)', async () => {
    const { a, b, hostB } = await channelPair(DEFAULT_REKEY_LIMITS, shortLived);
    const received: Uint8Array[] = [];
    a.on('message', (message) => received.push(message));
    hostB.clock.advance(shortLived.rejectAfterMs);
    await b.send(new Uint8Array([9]));
    expect(b.epoch).toBe(1);
    await until(() => received.length === 1);
    expect(a.epoch).toBe(1);
    expect(hostB.rejected).toEqual([]);
    expect(hostB.rotationsFailed).toEqual([]);
  });

  it('measures the lifetime of a replacing session on the host clock too', async () => {
    const { b, hostB } = await channelPair(DEFAULT_REKEY_LIMITS, shortLived);
    b.replaceSession((await sessions()).responder);
    hostB.clock.advance(shortLived.rejectAfterMs);
    expectPqcError(() => b.encrypt(new Uint8Array([1])), 'ERR_PQC_KEYS_EXPIRED', 'the keys of the channel with node-a must rotate first (rotateKeys())');
  });

  it('starts a rotation when the record count reaches rekeyAfterMessages, not before', async () => {
    const limits = { ...DEFAULT_REKEY_LIMITS, rekeyAfterMessages: 2 };
    const { a, b, hostB } = await channelPair(DEFAULT_REKEY_LIMITS, limits);
    b.encrypt(new Uint8Array([1]));
    expect(hostB.clock.pendingTimers).toBe(0);
    b.encrypt(new Uint8Array([2]));
    // The rotation's timeout: the responder has no rekey timer of its own.
    expect(hostB.clock.pendingTimers).toBe(1);
    await until(() => a.epoch === 1 && b.epoch === 1);
  });
});

describe('SecureChannel input checks', () => {
  it('refuses a message that is not a Uint8Array', async () => {
    const { a } = await channelPair();
    expectPqcError(() => a.encrypt('text' as unknown as Uint8Array), 'ERR_PQC_INVALID_INPUT', 'the message must be a Uint8Array');
  });

  it('refuses a record that is not a Uint8Array', async () => {
    const { a, hostA } = await channelPair();
    expectPqcError(() => a.decrypt('text' as unknown as Uint8Array), 'ERR_PQC_INVALID_INPUT', 'the record must be a Uint8Array');
    expect(hostA.rejected).toEqual([]);
  });

  it('refuses a rotation record handed to decrypt, counted as malformed', async () => {
    const { a, b, hostA, hostB } = await channelPair();
    hostA.deliver = false;
    void a.rotateKeys().catch(() => undefined);
    await until(() => hostA.held.length === 1);
    expect(recordType(hostA.held[0]!)).toBe(MessageType.RekeyInit);
    expectPqcError(() => b.decrypt(hostA.held[0]!), 'ERR_PQC_MALFORMED_MESSAGE', 'a rotation record belongs on the channel, not on the caller’s transport');
    expect(hostB.rejected).toEqual(['malformed']);
  });
});

describe('SecureChannel rotation', () => {
  it('joins a second rotateKeys call to the rotation under way', async () => {
    const { a, b } = await channelPair();
    const first = a.rotateKeys();
    expect(a.rotateKeys()).toBe(first);
    await first;
    expect(a.epoch).toBe(1);
    expect(b.epoch).toBe(1);
  });

  it('fails a rotation the peer does not answer in handshakeLimits.timeoutMs', async () => {
    const { a, hostA } = await channelPair();
    hostA.deliver = false;
    const errors: PqcError[] = [];
    a.on('error', (error) => errors.push(error));
    const rotation = a.rotateKeys();
    await until(() => hostA.held.length === 1);
    hostA.clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs);
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_HANDSHAKE_TIMEOUT', message: 'node-b did not complete the key rotation in time' });
    expect(hostA.rotationsFailed).toEqual(['timeout']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(MeshError);
    expect((errors[0] as MeshError).reason).toBe('timeout');
    expect(a.epoch).toBe(0);
    expect(a.isOpen).toBe(true);
  });

  it('fails a rotation unheard (no error listener) without throwing from the timer', async () => {
    const { a, hostA } = await channelPair();
    hostA.deliver = false;
    const rotation = a.rotateKeys();
    await until(() => hostA.held.length === 1);
    expect(() => hostA.clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs)).not.toThrow();
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_HANDSHAKE_TIMEOUT' });
    expect(hostA.rotationsFailed).toEqual(['timeout']);
  });

  it('answers one rotation after another on the same session', async () => {
    const { a, b, hostB } = await channelPair();
    await a.rotateKeys();
    await a.rotateKeys();
    expect([a.epoch, b.epoch]).toEqual([2, 2]);
    expect(hostB.rejected).toEqual([]);
  });

  it('emits rotated with the new epoch', async () => {
    const { a } = await channelPair();
    const rotated: { epoch: number }[] = [];
    a.on('rotated', (event) => rotated.push(event));
    await a.rotateKeys();
    expect(rotated).toEqual([{ epoch: 1 }]);
  });

  it('sends no RekeyInit for a rotation closed while its key pair was being made', async () => {
    const { a, hostA } = await channelPair();
    hostA.keygen.close();
    const rotation = a.rotateKeys();
    a.close();
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED', message: 'the channel closed during a key rotation' });
    hostA.keygen.release();
    await until(() => hostA.keygen.passed === 1);
    await settle();
    expect(hostA.sent).toEqual([]);
  });

  it('sends no RekeyInit for a rotation a fresh handshake ended while its key pair was being made', async () => {
    const { a, hostA } = await channelPair();
    hostA.keygen.close();
    const rotation = a.rotateKeys();
    a.replaceSession((await sessions()).initiator);
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_KEY_DESYNC' });
    hostA.keygen.release();
    await until(() => hostA.keygen.passed === 1);
    await settle();
    expect(hostA.sent).toEqual([]);
  });

  it('sends no RekeyInit for its own rotation once the initiator’s rotation to the same epoch won', async () => {
    const { a, b, hostA, hostB } = await channelPair();
    hostB.keygen.close();
    hostB.encapsulation.close();
    const mine = b.rotateKeys();
    const theirs = a.rotateKeys();
    // b got a's RekeyInit and is encapsulating: its own rotation is abandoned.
    await until(() => hostA.sent.length === 1);
    hostB.keygen.release();
    await until(() => hostB.keygen.passed === 1);
    await settle();
    expect(hostB.sent).toEqual([]);
    hostB.encapsulation.release();
    await Promise.all([mine, theirs]);
    expect(hostB.sent.map(recordType)).toEqual([MessageType.RekeyReply]);
    expect(a.epoch).toBe(1);
    expect(b.epoch).toBe(1);
  });
});

describe('SecureChannel rotation collision', () => {
  it('answers one RekeyInit per epoch: a second one sent while the first is being answered is refused as replay, before any encapsulation', async () => {
    const { a, b, hostA, hostB } = await channelPair();
    hostA.deliver = false;
    hostB.deliver = false;
    // a's first rotation times out unanswered and its second asks for the same epoch again.
    void a.rotateKeys().catch(() => undefined);
    await until(() => hostA.held.length === 1);
    hostA.clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs);
    void a.rotateKeys().catch(() => undefined);
    await until(() => hostA.held.length === 2);
    hostB.encapsulation.close();
    const first = b.receive(hostA.held[0]!);
    await b.receive(hostA.held[1]!);
    expect(hostB.rejected).toEqual(['replay']);
    hostB.encapsulation.release();
    await first;
    expect(hostB.encapsulation.passed).toBe(1);
    expect(b.epoch).toBe(1);
    expect(hostB.sent.map(recordType)).toEqual([MessageType.RekeyReply]);
  });

  it('answers the peer’s RekeyInit again once the first answer failed to send', async () => {
    const { a, b, hostA, hostB } = await channelPair();
    hostA.deliver = false;
    void a.rotateKeys().catch(() => undefined);
    await until(() => hostA.held.length === 1);
    hostB.sendFailure = new MeshError('closed', 'the connection closed');
    await b.receive(hostA.held[0]!);
    expect(hostB.rotationsFailed).toEqual(['closed']);
    hostB.sendFailure = undefined;
    hostA.clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs);
    hostA.deliver = true;
    const retry = a.rotateKeys();
    await retry;
    expect([a.epoch, b.epoch]).toEqual([1, 1]);
  });

  it('drops its answer to the peer’s RekeyInit once a rotation of its own installed that epoch meanwhile', async () => {
    const { a, b, hostA, hostB } = await channelPair();
    hostB.deliver = false;
    // b (the responder) starts a rotation; a answers it only after starting its own to the same epoch.
    void b.rotateKeys().catch(() => undefined);
    await until(() => hostB.held.length === 1);
    hostA.encapsulation.close();
    const answering = a.receive(hostB.held[0]!);
    hostB.deliver = true;
    // a is the initiator, so b abandons its rotation for a's, answers it, and a installs epoch 1.
    await a.rotateKeys();
    expect([a.epoch, b.epoch]).toEqual([1, 1]);
    hostA.encapsulation.release();
    await answering;
    expect(a.epoch).toBe(1);
    expect(hostA.sent.map(recordType)).toEqual([MessageType.RekeyInit]);
    expect(hostA.sharedSecrets.every((secret) => secret.every((byte) => byte === 0))).toBe(true);
  });

  it('lets the initiator ignore the responder’s RekeyInit to the epoch of its own rotation', async () => {
    const { a, b, hostA, hostB } = await channelPair();
    hostA.deliver = false;
    hostB.deliver = false;
    const theirs = b.rotateKeys();
    const mine = a.rotateKeys();
    await until(() => hostA.held.length === 1 && hostB.held.length === 1);
    await a.receive(hostB.held[0]!);
    expect(hostA.sent.map(recordType)).toEqual([MessageType.RekeyInit]);
    expect(a.epoch).toBe(0);
    hostB.deliver = true;
    await b.receive(hostA.held[0]!);
    await Promise.all([mine, theirs]);
    expect(a.epoch).toBe(1);
    expect(b.epoch).toBe(1);
  });
});

describe('SecureChannel close', () => {
  it('closes once: a second close calls the host and emits nothing', async () => {
    const { a, hostA } = await channelPair();
    const closes: unknown[] = [];
    a.on('close', (error) => closes.push(error));
    a.close();
    a.close(new PqcError('ERR_PQC_CHANNEL_CLOSED', 'again'));
    expect(closes).toEqual([undefined]);
    expect(hostA.closedCalls).toBe(1);
    expect(hostA.connectionErrors).toEqual([undefined]);
  });

  it('refuses to encrypt on a closed channel', async () => {
    const { a } = await channelPair();
    a.close();
    expectPqcError(() => a.encrypt(new Uint8Array([1])), 'ERR_PQC_CHANNEL_CLOSED', 'the channel with node-b is closed');
  });

  it('rejects a rotation under way when it closes', async () => {
    const { a, hostA } = await channelPair();
    hostA.deliver = false;
    const rotation = a.rotateKeys();
    await until(() => hostA.held.length === 1);
    a.close();
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED', message: 'the channel closed during a key rotation' });
  });

  it('ignores frames once closed', async () => {
    const { a, b, hostB } = await channelPair();
    const record = a.encrypt(new Uint8Array([1]));
    const received: Uint8Array[] = [];
    b.on('message', (message) => received.push(message));
    b.close();
    await b.receive(record);
    expect(received).toEqual([]);
    expect(hostB.rejected).toEqual([]);
  });

  it('does not take up a fresh session once closed', async () => {
    const { b } = await channelPair();
    const sessionId = b.sessionId;
    const resynchronized: unknown[] = [];
    b.on('resynchronized', (event) => resynchronized.push(event));
    b.close();
    b.replaceSession((await sessions()).responder);
    expect(resynchronized).toEqual([]);
    expect(b.sessionId).toBe(sessionId);
    expect(b.isOpen).toBe(false);
  });

  it('holds no sends (starts no repair timer) once closed', async () => {
    const { a, hostA } = await channelPair();
    a.close();
    a.holdSends();
    expect(hostA.clock.pendingTimers).toBe(0);
  });
});

describe('SecureChannel repair after key desync', () => {
  it('refuses to encrypt while sends are held for a fresh handshake', async () => {
    const { a } = await channelPair();
    a.holdSends();
    expectPqcError(() => a.encrypt(new Uint8Array([1])), 'ERR_PQC_KEY_DESYNC', 'the channel with node-b is re-handshaking after key desync');
  });

  it('keeps one repair timer when sends are held twice', async () => {
    const { a, hostA } = await channelPair();
    a.holdSends();
    const timers = hostA.clock.pendingTimers;
    a.holdSends();
    expect(hostA.clock.pendingTimers).toBe(timers);
  });

  it('closes the channel when no fresh handshake comes within twice the handshake timeout', async () => {
    const { a, hostA } = await channelPair();
    const closes: (PqcError | undefined)[] = [];
    a.on('close', (error) => closes.push(error));
    a.holdSends();
    hostA.clock.advance(2 * DEFAULT_HANDSHAKE_LIMITS.timeoutMs - 1);
    expect(a.isOpen).toBe(true);
    hostA.clock.advance(1);
    expect(a.isOpen).toBe(false);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toBeInstanceOf(MeshError);
    expect((closes[0] as MeshError).reason).toBe('key_desync');
    expect(closes[0]!.message).toBe('the channel with node-b could not be repaired after key desync');
    expect(hostA.connectionErrors).toEqual([closes[0]]);
  });

  it('lets held sends go on into the fresh session, announced with its session id', async () => {
    const { a, b } = await channelPair();
    const resynchronized: { sessionId: string }[] = [];
    a.on('resynchronized', (event) => resynchronized.push(event));
    const oldId = a.sessionId;
    a.holdSends();
    const fresh = await sessions();
    a.replaceSession(fresh.initiator);
    b.replaceSession(fresh.responder);
    expect(resynchronized).toEqual([{ sessionId: Buffer.from(fresh.initiator.sessionId).toString('hex') }]);
    expect(resynchronized[0]!.sessionId).not.toBe(oldId);
    const received: Uint8Array[] = [];
    b.on('message', (message) => received.push(message));
    a.encrypt(new Uint8Array([1]));
    expect(a.epoch).toBe(0);
    await a.send(new Uint8Array([9]));
    await until(() => received.length === 1);
  });

  it('rejects a rotation under way when a fresh handshake replaces the session', async () => {
    const { a, hostA } = await channelPair();
    hostA.deliver = false;
    const rotation = a.rotateKeys();
    await until(() => hostA.held.length === 1);
    a.replaceSession((await sessions()).initiator);
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_KEY_DESYNC', message: 'a fresh handshake replaced the session during a key rotation' });
    expect(a.epoch).toBe(0);
  });

  /** b installs epoch 1 and its RekeyReply to a is lost: a still waits, b's records are under an epoch a lacks. */
  async function lostReply() {
    const pair = await channelPair();
    pair.hostB.deliver = false;
    const rotation = pair.a.rotateKeys();
    await until(() => pair.b.epoch === 1);
    return { ...pair, rotation };
  }

  it('fails the waiting rotation and starts a repair on a record under the epoch it waits for', async () => {
    const { a, b, hostA, rotation } = await lostReply();
    const errors: PqcError[] = [];
    const refused: MeshError[] = [];
    a.on('error', (error) => errors.push(error));
    a.on('refused', (error) => refused.push(error));
    const record = b.encrypt(new Uint8Array([1]));
    expect(() => a.decrypt(record)).toThrow(MeshError);
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_KEY_DESYNC' });
    expect(hostA.rejected).toEqual(['key_desync']);
    expect(hostA.rotationsFailed).toEqual(['key_desync']);
    expect(hostA.desyncs.map((error) => error.reason)).toEqual(['key_desync']);
    expect(refused.map((error) => error.reason)).toEqual(['key_desync']);
    // One refusal reported once as the record's and once as the rotation's failure.
    expect(errors.map((error) => (error as MeshError).reason)).toEqual(['key_desync', 'key_desync']);
    expectPqcError(() => a.encrypt(new Uint8Array([1])), 'ERR_PQC_KEY_DESYNC', 'the channel with node-b is re-handshaking after key desync');
  });

  it('starts one repair when an error listener holds sends while the rotation fails on key desync', async () => {
    const { a, b, hostA } = await lostReply();
    a.on('error', () => a.holdSends());
    const record = b.encrypt(new Uint8Array([1]));
    expect(() => a.decrypt(record)).toThrow(MeshError);
    // The rotation's own timer is gone with it; one repair timer is left.
    expect(hostA.clock.pendingTimers).toBe(2);
    const fresh = await sessions();
    a.replaceSession(fresh.initiator);
    hostA.clock.advance(2 * DEFAULT_HANDSHAKE_LIMITS.timeoutMs);
    expect(a.isOpen).toBe(true);
  });

  it('fails no rotation on key desync when none is under way', async () => {
    const { a, b, hostA, rotation } = await lostReply();
    hostA.clock.advance(DEFAULT_HANDSHAKE_LIMITS.timeoutMs);
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_HANDSHAKE_TIMEOUT' });
    expect(() => a.decrypt(b.encrypt(new Uint8Array([1])))).toThrow(MeshError);
    expect(hostA.rotationsFailed).toEqual(['timeout']);
    expect(hostA.desyncs).toHaveLength(1);
  });

  it('reports a refused record on error only to a listener, and throws the refusal itself', async () => {
    const { a, b, hostA } = await channelPair();
    const record = b.encrypt(new Uint8Array([1]));
    record[record.length - 1]! ^= 1;
    let thrown: unknown;
    try {
      a.decrypt(record);
    } catch (error) {
      thrown = error;
    }
    expect((thrown as MeshError).reason).toBe('forged');
    const errors: PqcError[] = [];
    a.on('error', (error) => errors.push(error));
    expect(() => a.decrypt(record)).toThrow(MeshError);
    expect(errors.map((error) => (error as MeshError).reason)).toEqual(['forged']);
    expect(hostA.rejected).toEqual(['forged', 'forged']);
  });
});

/** u32 epoch ‖ rest: the payload of RekeyInit and RekeyReply (docs/protocol.md). */
function rotationPayload(epoch: number, rest: Uint8Array = new Uint8Array(0)): Uint8Array {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(epoch);
  return new Uint8Array(Buffer.concat([head, rest]));
}

/** Channel b alone, and a record layer on the initiator's session that seals what a peer would. */
async function channelWithPeerLayer() {
  const { initiator, responder } = await sessions();
  const kem = alice.ctx.kem(alice.ctx.offers()[0]!);
  const host = new TestHost(kem);
  const b = new SecureChannel(responder, host);
  const peer = new RecordLayer(initiator, DEFAULT_REKEY_LIMITS, () => 0);
  host.deliver = false;
  const errors: MeshError[] = [];
  b.on('error', (error) => errors.push(error as MeshError));
  return { b, host, peer, errors, kem };
}

describe('SecureChannel rotation records from the peer', () => {
  it('refuses a truncated RekeyInit as malformed, naming the message', async () => {
    const { b, host, peer, errors } = await channelWithPeerLayer();
    await b.receive(peer.seal(MessageType.RekeyInit, new Uint8Array(2)));
    expect(host.rotationsFailed).toEqual(['malformed']);
    expect(errors.map((error) => error.message)).toEqual(['RekeyInit is truncated: a 32-bit number needs 4 bytes, 2 left']);
  });

  it('refuses a truncated RekeyReply as malformed, naming the message', async () => {
    const { b, host, peer, errors } = await channelWithPeerLayer();
    await b.receive(peer.seal(MessageType.RekeyReply, new Uint8Array(2)));
    expect(host.rotationsFailed).toEqual(['malformed']);
    expect(errors.map((error) => error.message)).toEqual(['RekeyReply is truncated: a 32-bit number needs 4 bytes, 2 left']);
  });

  it('refuses a RekeyInit that skips an epoch as key desync, with no rotation of its own to end', async () => {
    const { b, host, peer, errors, kem } = await channelWithPeerLayer();
    const { publicKey } = await kem.generateKeyPairAsync();
    await expect(b.receive(peer.seal(MessageType.RekeyInit, rotationPayload(2, publicKey)))).resolves.toBeUndefined();
    expect(host.rotationsFailed).toEqual(['key_desync']);
    expect(errors.map((error) => error.message)).toEqual(['a rotation to epoch 2 while this side is at 0']);
    expect(host.sent).toEqual([]);
    expect(b.epoch).toBe(0);
  });

  it('refuses a RekeyReply it did not ask for as a replay', async () => {
    const { b, host, peer, errors } = await channelWithPeerLayer();
    await b.receive(peer.seal(MessageType.RekeyReply, rotationPayload(1, new Uint8Array(8))));
    expect(host.rotationsFailed).toEqual(['replay']);
    expect(errors.map((error) => error.message)).toEqual(['a RekeyReply for epoch 1, which this side did not ask for']);
  });

  it('refuses a RekeyReply for another epoch than the one it asked for as a replay', async () => {
    const { b, host, peer, errors } = await channelWithPeerLayer();
    const rotation = b.rotateKeys();
    await until(() => host.held.length === 1);
    await b.receive(peer.seal(MessageType.RekeyReply, rotationPayload(2, new Uint8Array(8))));
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_REPLAY' });
    expect(host.rotationsFailed).toEqual(['replay']);
    expect(errors.map((error) => error.message)).toEqual(['a RekeyReply for epoch 2, which this side did not ask for']);
  });

  it('drops a RekeyInit whose encapsulation ends after the channel closed', async () => {
    const { b, host, peer, kem } = await channelWithPeerLayer();
    const { publicKey } = await kem.generateKeyPairAsync();
    host.encapsulation.close();
    const answer = b.receive(peer.seal(MessageType.RekeyInit, rotationPayload(1, publicKey)));
    await until(() => host.sharedSecrets.length === 1);
    b.close();
    host.encapsulation.release();
    await answer;
    expect(host.sent).toEqual([]);
    expect(host.rotationsFailed).toEqual([]);
    expect(host.rotationsSucceeded).toBe(0);
    expect(host.sharedSecrets[0]!.every((byte) => byte === 0)).toBe(true);
  });
});

describe('SecureChannel answers to a RekeyInit that the session outlived', () => {
  it('drops a RekeyInit whose encapsulation ends after a fresh handshake replaced the session', async () => {
    const { b, host, peer, kem } = await channelWithPeerLayer();
    const { publicKey } = await kem.generateKeyPairAsync();
    host.encapsulation.close();
    const answer = b.receive(peer.seal(MessageType.RekeyInit, rotationPayload(1, publicKey)));
    await until(() => host.sharedSecrets.length === 1);
    b.replaceSession((await sessions()).responder);
    host.encapsulation.release();
    await answer;
    expect(host.sent).toEqual([]);
    expect(b.epoch).toBe(0);
    expect(host.rotationsSucceeded).toBe(0);
    expect(host.sharedSecrets[0]!.every((byte) => byte === 0)).toBe(true);
  });

  /** b's RekeyReply is being sent when `during` runs; resolves once b has handled the send's end. */
  async function duringReplySend(during: (b: SecureChannel) => Promise<void> | void) {
    const { b, host, peer, kem } = await channelWithPeerLayer();
    const { publicKey } = await kem.generateKeyPairAsync();
    let release!: () => void;
    const sending = new Promise<void>((resolve) => (release = resolve));
    const sent: Uint8Array[] = [];
    host.sendFrame = async (frame) => {
      sent.push(frame);
      await sending;
    };
    const rotated: unknown[] = [];
    b.on('rotated', (event) => rotated.push(event));
    const answer = b.receive(peer.seal(MessageType.RekeyInit, rotationPayload(1, publicKey)));
    await until(() => sent.length === 1);
    await during(b);
    release();
    await answer;
    return { b, host, sent, rotated };
  }

  it('installs nothing when a fresh handshake replaced the session while its RekeyReply was sent', async () => {
    const fresh = (await sessions()).responder;
    const { b, host, sent, rotated } = await duringReplySend((b) => b.replaceSession(fresh));
    expect(sent.map(recordType)).toEqual([MessageType.RekeyReply]);
    expect(b.epoch).toBe(0);
    expect(rotated).toEqual([]);
    expect(host.rotationsSucceeded).toBe(0);
    expect(host.sharedSecrets[0]!.every((byte) => byte === 0)).toBe(true);
  });

  it('installs nothing when the channel closed while its RekeyReply was sent', async () => {
    const { host, rotated } = await duringReplySend((b) => b.close());
    expect(rotated).toEqual([]);
    expect(host.rotationsSucceeded).toBe(0);
    expect(host.sharedSecrets[0]!.every((byte) => byte === 0)).toBe(true);
  });

  it('wipes the rotation’s shared secret once the epoch it keyed is installed', async () => {
    const { b, host, rotated } = await duringReplySend(() => undefined);
    expect(b.epoch).toBe(1);
    expect(rotated).toEqual([{ epoch: 1 }]);
    expect(host.sharedSecrets[0]!.every((byte) => byte === 0)).toBe(true);
  });
});

describe('SecureChannel rotation failures of its own', () => {
  it('fails a rotation whose key pair the backend could not make', async () => {
    const { a, hostA } = await channelPair();
    hostA.keygen.failure = new Error('backend failure');
    await expect(a.rotateKeys()).rejects.toMatchObject({ reason: 'kem_error' });
    expect(hostA.rotationsFailed).toEqual(['kem_error']);
    expect(hostA.sent).toEqual([]);
  });

  it('counts no failure for a failed key pair of a rotation that already ended', async () => {
    const { a, hostA } = await channelPair();
    hostA.keygen.close();
    hostA.keygen.failure = new Error('backend failure');
    const rotation = a.rotateKeys();
    a.close();
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED' });
    hostA.keygen.release();
    await until(() => hostA.keygen.passed === 1);
    await settle();
    expect(hostA.rotationsFailed).toEqual([]);
  });

  it('fails a rotation whose RekeyInit the connection could not send', async () => {
    const { a, hostA } = await channelPair();
    hostA.sendFailure = new PqcError('ERR_PQC_CHANNEL_CLOSED', 'the connection is gone');
    await expect(a.rotateKeys()).rejects.toMatchObject({ reason: 'closed' });
    expect(hostA.rotationsFailed).toEqual(['closed']);
  });

  it('counts no failure when the RekeyInit of a rotation that already ended could not be sent', async () => {
    const { a, hostA } = await channelPair();
    let release!: () => void;
    const sending = new Promise<void>((resolve) => (release = resolve));
    hostA.sendFrame = async () => {
      await sending;
      throw new PqcError('ERR_PQC_CHANNEL_CLOSED', 'the connection is gone');
    };
    const errors: PqcError[] = [];
    a.on('error', (error) => errors.push(error));
    const rotation = a.rotateKeys();
    await until(() => hostA.keygen.passed === 1);
    a.close();
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED' });
    release();
    await settle();
    expect(hostA.rotationsFailed).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('installs nothing when the channel closes while the RekeyReply is decapsulated', async () => {
    const { a, b, hostA } = await channelPair();
    hostA.decapsulation.close();
    const rotated: unknown[] = [];
    a.on('rotated', (event) => rotated.push(event));
    const rotation = a.rotateKeys();
    await until(() => b.epoch === 1);
    await until(() => hostA.decapsulation.passed === 0 && hostA.keygen.passed === 1);
    a.close();
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_CHANNEL_CLOSED' });
    hostA.decapsulation.release();
    await until(() => hostA.decapsulation.passed === 1);
    await settle();
    expect(rotated).toEqual([]);
    expect(hostA.rotationsSucceeded).toBe(0);
    expect(hostA.rotationsFailed).toEqual([]);
  });

  it('installs nothing when a fresh handshake replaced the session while the RekeyReply is decapsulated', async () => {
    const { a, b, hostA } = await channelPair();
    hostA.decapsulation.close();
    const rotation = a.rotateKeys();
    await until(() => b.epoch === 1);
    a.replaceSession((await sessions()).initiator);
    await expect(rotation).rejects.toMatchObject({ code: 'ERR_PQC_KEY_DESYNC' });
    hostA.decapsulation.release();
    await until(() => hostA.decapsulation.passed === 1);
    await settle();
    expect(a.epoch).toBe(0);
    expect(hostA.rotationsSucceeded).toBe(0);
  });
});
