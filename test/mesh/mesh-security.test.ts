import { connect } from 'node:net';
import { describe, expect, it, afterEach } from 'vitest';
import { Registry } from 'prom-client';
import { info, PQCFallbackHandler, PqcError, ready } from '../../lib/index.js';
import { generateIdentity, PQMeshSecurity, type SecureChannel } from '../../lib/mesh/index.js';
import { MessageType } from '../../lib/mesh/messages.js';
import { environment, toHex } from '../support/environment.js';
import { expectRejectCode } from '../support/errors.js';
import { FakeClock } from '../policy/fake-clock.js';
import { connectPair, counter, messages, mitmProxy, nodePair, silentLogger } from './support.js';

await ready();

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
function closing<T extends { close(): unknown }>(thing: T): T {
  cleanup.push(() => thing.close());
  return thing;
}

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const text = (data: Uint8Array) => Buffer.from(data).toString();
const xWingKeys = info().capabilities.kemKeypairDerand;
const BEST_SUITE = xWingKeys ? 'XWING-MLDSA65' : 'X25519MLKEM768-MLDSA65';
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const event = <T>(emitter: { once(name: string, listener: (value: T) => void): unknown }, name: string) =>
  new Promise<T>((resolve) => emitter.once(name, resolve));

describe(`PQMeshSecurity over loopback TCP on the ${environment.backend} backend`, () => {
  it('establishes a channel, carries 10,000 messages, rotates keys, survives a forced desync and a peer restart', async () => {
    const identityB = await generateIdentity();
    const { registry, a, b } = await nodePair({}, { identity: identityB });
    closing(a);
    closing(b);
    const { listener, outbound, inbound } = await connectPair(a, b);
    expect(outbound.suite).toBe(BEST_SUITE);
    expect(inbound.suite).toBe(BEST_SUITE);
    expect(outbound.peerId).toBe('node-b');
    expect(inbound.peerId).toBe('node-a');

    const received = messages(inbound, 10_000);
    for (let i = 0; i < 10_000; i++) void outbound.send(bytes(`message ${i}`));
    const got = await received;
    expect(got.map(text)).toEqual(Array.from({ length: 10_000 }, (_, i) => `message ${i}`));
    const replies = messages(outbound, 100);
    await Promise.all(Array.from({ length: 100 }, (_, i) => inbound.send(bytes(`reply ${i}`))));
    expect((await replies).map(text)[99]).toBe('reply 99');

    // Rotation: both directions move to epoch 1 and keep working.
    await outbound.rotateKeys();
    expect(outbound.epoch).toBe(1);
    await wait(20);
    expect(inbound.epoch).toBe(1);
    const afterRotation = messages(inbound, 1);
    await outbound.send(bytes('after rotation'));
    expect(text((await afterRotation)[0]!)).toBe('after rotation');
    expect(await counter(registry, 'pqc_key_rotation_success_total')).toBe(2);

    // Forced desync: one side's state is wiped out from under it by a fresh epoch it never saw.
    const sessionBefore = outbound.sessionId;
    const resynced = Promise.all([event(outbound, 'resynchronized'), event(inbound, 'resynchronized')]);
    const stale = b.encryptForPeer('node-a', bytes('sealed before'));
    await inbound.rotateKeys();
    await wait(20);
    // A record of an epoch the other side dropped: key desync, refused and counted, then repaired.
    const olderEpoch = Uint8Array.from(stale);
    olderEpoch.set([0, 0, 0, 7], 6);
    expect(() => a.decryptFromPeer('node-b', olderEpoch)).toThrow(expect.objectContaining({ code: 'ERR_PQC_KEY_DESYNC' }));
    await resynced;
    expect(outbound.sessionId).not.toBe(sessionBefore);
    expect(inbound.sessionId).toBe(outbound.sessionId);
    expect(outbound.epoch).toBe(0);
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'key_desync' })).toBe(1);
    expect(await counter(registry, 'pqc_record_rejected_total', { reason: 'key_desync' })).toBeGreaterThanOrEqual(1);
    // Anyone who injects such records gets them refused, and at most one repair a second.
    const injected = Uint8Array.from(a.encryptForPeer('node-b', bytes('x')));
    injected.set([0, 0, 0, 9], 6);
    expect(() => b.decryptFromPeer('node-a', injected)).toThrow(expect.objectContaining({ code: 'ERR_PQC_KEY_DESYNC' }));
    expect(() => b.decryptFromPeer('node-a', injected)).toThrow(expect.objectContaining({ code: 'ERR_PQC_KEY_DESYNC' }));
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'key_desync' })).toBe(2);
    await wait(50);
    // Nothing sealed under the old session opens under the new one.
    expect(() => a.decryptFromPeer('node-b', stale)).toThrow(PqcError);
    const afterResync = messages(outbound, 1);
    await inbound.send(bytes('after resync'));
    expect(text((await afterResync)[0]!)).toBe('after resync');

    // Peer restart: b goes away and comes back with the same identity on a new port.
    const closed = event<PqcError | undefined>(outbound, 'close');
    await b.close();
    await closed;
    expect(outbound.isOpen).toBe(false);
    await expectRejectCode(outbound.send(bytes('to nobody')), 'ERR_PQC_CHANNEL_CLOSED');
    expect(() => a.encryptForPeer('node-b', bytes('x'))).toThrow(expect.objectContaining({ code: 'ERR_PQC_NO_CHANNEL' }));
    await listener.close();
    const restarted = closing(await PQMeshSecurity.create({ nodeId: 'node-b', registry, logger: silentLogger, identity: identityB }));
    restarted.trustPeer(a.getPublicKeys());
    const again = await connectPair(a, restarted);
    const afterRestart = messages(again.inbound, 1);
    await again.outbound.send(bytes('after restart'));
    expect(text((await afterRestart)[0]!)).toBe('after restart');
    // Two sides each: the first handshake, two repairs, the one after the restart.
    expect(await counter(registry, 'pqc_handshake_success_total')).toBe(8);
    expect(await counter(registry, 'pqc_handshake_latency_seconds')).toBe(8);
  });

  it('works over IPv6 as over IPv4 (Yggdrasil gives every node an IPv6 address)', async () => {
    const { a, b } = await nodePair();
    closing(a);
    closing(b);
    const { outbound, inbound } = await connectPair(a, b, '::1');
    const got = messages(inbound, 1);
    await outbound.send(bytes('over ::1'));
    expect(text((await got)[0]!)).toBe('over ::1');
  });

  it('encrypts for the caller’s own transport with the channel’s keys, counters and replay window', async () => {
    const { registry, a, b } = await nodePair();
    closing(a);
    closing(b);
    const { outbound } = await connectPair(a, b);
    const refused: string[] = [];
    b.channels('node-a').at(-1)!.on('refused', (error) => refused.push(error.reason));
    const records = Array.from({ length: 5 }, (_, i) => a.encryptForPeer('node-b', bytes(`record ${i}`)));
    // Out of order within the window is fine; each record opens once.
    for (const i of [3, 0, 4, 1, 2]) expect(text(b.decryptFromPeer('node-a', records[i]!))).toBe(`record ${i}`);
    expect(() => b.decryptFromPeer('node-a', records[2]!)).toThrow(expect.objectContaining({ code: 'ERR_PQC_REPLAY' }));
    const forged = Uint8Array.from(a.encryptForPeer('node-b', bytes('forged')));
    forged[forged.length - 1]! ^= 1;
    expect(() => b.decryptFromPeer('node-a', forged)).toThrow(expect.objectContaining({ code: 'ERR_PQC_FORGED_RECORD' }));
    expect(() => b.decryptFromPeer('node-a', forged.subarray(0, 10))).toThrow(expect.objectContaining({ code: 'ERR_PQC_MALFORMED_MESSAGE' }));
    expect(() => b.decryptFromPeer('node-c', records[0]!)).toThrow(expect.objectContaining({ code: 'ERR_PQC_NO_CHANNEL' }));
    expect(() => a.encryptForPeer('node-b', 'text' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
    expect(await counter(registry, 'pqc_record_rejected_total', { reason: 'replay' })).toBe(1);
    expect(await counter(registry, 'pqc_record_rejected_total', { reason: 'forged' })).toBe(1);
    expect(refused).toEqual(['replay', 'forged', 'malformed']);
    // A record from encryptForPeer and one from send share the counter sequence: no nonce is used twice.
    const viaChannel = messages(await inboundOf(b), 1);
    await outbound.send(bytes('via the channel'));
    expect(text((await viaChannel)[0]!)).toBe('via the channel');
    const headers = new Set([...records, a.encryptForPeer('node-b', bytes('next'))].map((record) => toHex(record.subarray(0, 18))));
    expect(headers.size).toBe(6);
  });

  it('signs and verifies beacons with the node identities', async () => {
    const { a, b } = await nodePair();
    closing(a);
    closing(b);
    const beacon = bytes('{"node":"node-a","load":0.3}');
    const signature = a.signBeacon(beacon);
    expect(b.verifyBeacon(beacon, signature, 'node-a')).toBe(true);
    expect(await b.verifyBeaconAsync(beacon, signature, 'node-a')).toBe(true);
    expect(b.verifyBeacon(bytes('{"node":"node-a","load":0.9}'), signature, 'node-a')).toBe(false);
    // Bound to the signer's id: node-b cannot pass off node-a's beacon as its own.
    expect(a.verifyBeacon(beacon, signature, 'node-b')).toBe(false);
    expect(() => b.verifyBeacon(beacon, signature, 'stranger')).toThrow(expect.objectContaining({ code: 'ERR_PQC_UNKNOWN_PEER' }));
    expect(() => a.signBeacon('text' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
  });

  it('reports its security level and public keys', async () => {
    const { a, b } = await nodePair();
    closing(a);
    closing(b);
    const keys = a.getPublicKeys();
    expect(keys.sigAlgorithm).toBe('ML-DSA-65');
    expect(keys.sigPublicKey.length).toBe(1952);
    const json = JSON.parse(JSON.stringify(keys)) as Record<string, string>;
    expect(json.sigPublicKey).toBe(toHex(keys.sigPublicKey));
    expect(json.keyId).toBe(keys.keyId);
    expect(a.getSecurityLevel()).toEqual({
      suite: BEST_SUITE,
      kem: xWingKeys ? 'X-Wing' : 'X25519MLKEM768',
      sig: 'ML-DSA-65',
      backend: environment.backend,
      nistLevel: 3,
      peersWithPq: 0,
      fallback: false,
    });
    await connectPair(a, b);
    expect(a.getSecurityLevel().peersWithPq).toBe(1);
  });

  it('refuses untrusted peers: no state, no signature, counted', async () => {
    const registry = new Registry();
    const a = closing(await PQMeshSecurity.create({ nodeId: 'node-a', registry, logger: silentLogger }));
    const b = closing(await PQMeshSecurity.create({ nodeId: 'node-b', registry, logger: silentLogger }));
    const listener = await b.listen();
    await expectRejectCode(a.establishSecureChannel('node-b', { port: listener.port }), 'ERR_PQC_UNKNOWN_PEER');
    a.trustPeer(b.getPublicKeys()); // a trusts b, b does not trust a
    await expectRejectCode(a.establishSecureChannel('node-b', { port: listener.port }), 'ERR_PQC_UNKNOWN_PEER');
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'unknown_peer' })).toBe(3);
    expect(await counter(registry, 'pqc_handshake_success_total')).toBe(0);
    // Dialling yourself is refused as reflection.
    await expectRejectCode(a.establishSecureChannel('node-a', { port: listener.port }), 'ERR_PQC_REFLECTION');
    // Untrusting a peer closes its channels.
    b.trustPeer(a.getPublicKeys());
    const { outbound } = await connectPair(a, b);
    const closed = event(outbound, 'close');
    a.untrustPeer('node-b');
    await closed;
    await expectRejectCode(a.establishSecureChannel('node-b', { port: listener.port }), 'ERR_PQC_UNKNOWN_PEER');
  });

  it('refuses a node that answers for another node id (identity ≠ dialled node)', async () => {
    const registry = new Registry();
    const a = closing(await PQMeshSecurity.create({ nodeId: 'node-a', registry, logger: silentLogger }));
    const b = closing(await PQMeshSecurity.create({ nodeId: 'node-b', registry, logger: silentLogger }));
    const c = closing(await PQMeshSecurity.create({ nodeId: 'node-c', registry, logger: silentLogger }));
    for (const [x, y] of [[a, b], [a, c], [c, a], [b, a]] as const) x.trustPeer(y.getPublicKeys());
    const atC = await c.listen();
    // a dials node-b, but node-c answers at that address.
    await expectRejectCode(a.establishSecureChannel('node-b', { port: atC.port }), 'ERR_PQC_UNKNOWN_PEER');
    // A node that calls itself node-b but holds another key cannot sign as node-b.
    const impostor = closing(await PQMeshSecurity.create({ nodeId: 'node-b', registry, logger: silentLogger }));
    impostor.trustPeer(a.getPublicKeys());
    const atImpostor = await impostor.listen();
    await expectRejectCode(a.establishSecureChannel('node-b', { port: atImpostor.port }), 'ERR_PQC_BAD_SIGNATURE');
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'bad_signature' })).toBe(1);
  });

  it('delivers a large record sent the moment the channel opens, and loses no record during a repair', async () => {
    const { a, b } = await nodePair();
    closing(a);
    closing(b);
    const big = new Uint8Array(64 * 1024).fill(7);
    b.once('channel', (channel) => void channel.send(big));
    const listener = await b.listen();
    const outbound = await a.establishSecureChannel('node-b', { port: listener.port });
    const first = await messages(outbound, 1);
    expect(first[0]!.length).toBe(big.length);
    const inbound = b.channels('node-a')[0]!;
    // b sees key desync and asks for a repair while a keeps sending: every message arrives, in order.
    const arrived = messages(inbound, 300);
    const repaired = event(inbound, 'resynchronized');
    const crafted = Uint8Array.from(a.encryptForPeer('node-b', bytes('x')));
    crafted.set([0, 0, 0, 9], 6);
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      if (i === 50) expect(() => b.decryptFromPeer('node-a', crafted)).toThrow(PqcError);
      sends.push(outbound.send(bytes(`m${i}`)));
      if (i % 25 === 0) await wait(5);
    }
    await Promise.all(sends);
    await repaired;
    expect((await arrived).map(text)).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
    expect(inbound.sessionId).toBe(outbound.sessionId);
  });

  it('does not let another trusted node take over an established channel with a handshake of its own', async () => {
    const registry = new Registry();
    const a = closing(await PQMeshSecurity.create({ nodeId: 'node-a', registry, logger: silentLogger }));
    const b = closing(await PQMeshSecurity.create({ nodeId: 'node-b', registry, logger: silentLogger }));
    const c = closing(await PQMeshSecurity.create({ nodeId: 'node-c', registry, logger: silentLogger }));
    for (const [x, y] of [[a, b], [b, a], [b, c], [c, b]] as const) x.trustPeer(y.getPublicKeys());
    const listener = await b.listen();
    let splice = false;
    const proxy = closing(await mitmProxy(listener.port, (frame) => frame, '127.0.0.1', { splice: () => splice }));
    const inboundPromise = event<SecureChannel>(b, 'channel');
    await a.establishSecureChannel('node-b', { port: proxy.port });
    const inbound = await inboundPromise;
    splice = true;
    // c's handshake arrives on the stream that carries b's channel with a: refused before any KEM work.
    await expectRejectCode(c.establishSecureChannel('node-b', { port: proxy.port }), 'ERR_PQC_UNKNOWN_PEER');
    expect(b.channels('node-c')).toHaveLength(0);
    expect(inbound.peerId).toBe('node-a');
    expect(inbound.isOpen).toBe(true);
  });

  it('detects key desync after a lost rotation answer, counts it and repairs it with a fresh handshake', async () => {
    const { registry, a, b } = await nodePair({ limits: { timeoutMs: 3000 } });
    closing(a);
    closing(b);
    const listener = await b.listen();
    let dropRekeyReply = true;
    const proxy = closing(
      await mitmProxy(listener.port, (frame, direction) => {
        if (dropRekeyReply && direction === 'to-initiator' && frame[1] === MessageType.RekeyReply) {
          dropRekeyReply = false;
          return null;
        }
        return frame;
      }),
    );
    const inboundPromise = event<SecureChannel>(b, 'channel');
    const outbound = await a.establishSecureChannel('node-b', { port: proxy.port });
    const inbound = await inboundPromise;
    const errors: PqcError[] = [];
    outbound.on('error', (error) => errors.push(error));
    const rotation = outbound.rotateKeys();
    await wait(50);
    // b moved to epoch 1; a never heard. b's next record is under keys a does not hold.
    expect(inbound.epoch).toBe(1);
    expect(outbound.epoch).toBe(0);
    const resynced = event(outbound, 'resynchronized');
    const delivered = messages(outbound, 1);
    await inbound.send(bytes('under epoch 1'));
    await expectRejectCode(rotation, 'ERR_PQC_KEY_DESYNC');
    await resynced;
    expect(errors.map((error) => error.code)).toContain('ERR_PQC_KEY_DESYNC');
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'key_desync' })).toBe(1);
    expect(await counter(registry, 'pqc_key_rotation_failure_total', { reason: 'key_desync' })).toBe(1);
    await wait(20);
    expect(inbound.sessionId).toBe(outbound.sessionId);
    await inbound.send(bytes('after the fresh handshake'));
    // The record under the lost epoch was never delivered; the first message a sees is the new one.
    expect(text((await delivered)[0]!)).toBe('after the fresh handshake');
  });

  it('refuses a man in the middle who forces the classical suite or strips suites, counted as downgrade', async () => {
    const registry = new Registry();
    const fallbackA = new PQCFallbackHandler({ logger: silentLogger, registry, shutdown: () => {} });
    const fallbackB = new PQCFallbackHandler({ logger: silentLogger, registry, shutdown: () => {} });
    // a is in fallback, so it offers the classical suite after the post-quantum one.
    fallbackA.enable('forced');
    const suites = ['X25519MLKEM768-MLDSA65', 'CLASSICAL-X25519-MLDSA65'];
    const { a, b } = await nodePair({ registry, suites, fallback: fallbackA }, { registry, fallback: fallbackB, suites });
    closing(a);
    closing(b);
    const listener = await b.listen();
    // Strip: the offer loses its classical entry on the way (the share stays valid).
    const stripper = closing(
      await mitmProxy(listener.port, (frame, direction) => {
        if (direction !== 'to-responder' || frame[1] !== MessageType.InitHello) return frame;
        return stripOffer(frame);
      }),
    );
    await expectRejectCode(a.establishSecureChannel('node-b', { port: stripper.port }), 'ERR_PQC_DOWNGRADE');
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'downgrade' })).toBeGreaterThanOrEqual(1);

    // Force classical: the hello is replaced by a classical-only one. Without fallback b refuses it...
    const forcer = closing(
      await mitmProxy(listener.port, (frame, direction) => {
        if (direction !== 'to-responder' || frame[1] !== MessageType.InitHello) return frame;
        return classicalOnly(frame);
      }),
    );
    const before = await counter(registry, 'pqc_handshake_failure_total', { reason: 'downgrade' });
    await expectRejectCode(a.establishSecureChannel('node-b', { port: forcer.port }), 'ERR_PQC_DOWNGRADE');
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'downgrade' })).toBeGreaterThan(before);
    // ...and in fallback mode b would accept classical, but a sees its offer changed.
    fallbackB.enable('forced');
    await expectRejectCode(a.establishSecureChannel('node-b', { port: forcer.port }), 'ERR_PQC_DOWNGRADE');
    // In fallback, post-quantum peers still end on the post-quantum suite.
    const direct = await a.establishSecureChannel('node-b', { port: listener.port });
    expect(direct.suite).toBe('X25519MLKEM768-MLDSA65');
    fallbackB.disable();
    fallbackA.disable();
  });

  it('uses the classical suite only while both nodes are in fallback, counts it, and ends it with the fallback TTL', async () => {
    const registry = new Registry();
    const clock = new FakeClock();
    const shutdowns: string[] = [];
    const fallback = (name: string) => new PQCFallbackHandler({ logger: silentLogger, registry, clock, ttlSeconds: 60, shutdown: () => void shutdowns.push(name) });
    const fa = fallback('a');
    const fb = fallback('b');
    const suites = ['CLASSICAL-X25519-MLDSA65'];
    const { a, b } = await nodePair({ registry, suites, fallback: fa }, { registry, suites, fallback: fb });
    closing(a);
    closing(b);
    const listener = await b.listen();
    // Neither in fallback: there is no suite to offer.
    await expectRejectCode(a.establishSecureChannel('node-b', { port: listener.port }), 'ERR_PQC_NO_COMMON_SUITE');
    fa.enable('forced');
    // Only one side in fallback: refused as a downgrade.
    await expectRejectCode(a.establishSecureChannel('node-b', { port: listener.port }), 'ERR_PQC_DOWNGRADE');
    fb.enable('forced');
    const { outbound, inbound } = await connectPair(a, b);
    expect(outbound.suite).toBe('CLASSICAL-X25519-MLDSA65');
    expect(a.getSecurityLevel()).toMatchObject({ fallback: true, peersWithPq: 0 });
    expect(await counter(registry, 'pqc_fallback_total', { reason: 'classical_session' })).toBe(2);
    const got = messages(inbound, 1);
    await outbound.send(bytes('classical'));
    expect(text((await got)[0]!)).toBe('classical');
    const closedOut = event<PqcError>(outbound, 'close');
    const closedIn = event<PqcError>(inbound, 'close');
    clock.advance(60_000);
    expect((await closedOut).code).toBe('ERR_PQC_FALLBACK_EXPIRED');
    expect((await closedIn).code).toBe('ERR_PQC_FALLBACK_EXPIRED');
    expect(shutdowns.sort()).toEqual(['a', 'b']);
  });

  it('negotiates the high suite between ML-DSA-87 identities', async () => {
    const { a, b } = await nodePair({ identity: { algorithm: 'ML-DSA-87' } });
    closing(a);
    closing(b);
    expect(a.getSecurityLevel()).toMatchObject({ suite: 'MLKEM1024-MLDSA87', nistLevel: 5, sig: 'ML-DSA-87' });
    const { outbound, inbound } = await connectPair(a, b);
    expect(outbound.suite).toBe('MLKEM1024-MLDSA87');
    const got = messages(inbound, 1);
    await outbound.send(bytes('level 5'));
    expect(text((await got)[0]!)).toBe('level 5');
    await outbound.rotateKeys();
    expect(outbound.epoch).toBe(1);
  });

  it('refuses at create a required suite the backend cannot run, and other bad configuration', async () => {
    const create = (options: object) => PQMeshSecurity.create({ nodeId: 'n', logger: silentLogger, ...options });
    if (xWingKeys) expect((await create({ suites: ['XWING-MLDSA65'] })).getSecurityLevel().suite).toBe('XWING-MLDSA65');
    else await expectRejectCode(create({ suites: ['XWING-MLDSA65'] }), 'ERR_PQC_UNSUPPORTED_CAPABILITY');
    await expectRejectCode(create({ suites: ['NO-SUCH-SUITE'] }), 'ERR_PQC_INVALID_CONFIGURATION');
    await expectRejectCode(create({ suites: ['MLKEM1024-MLDSA87'] }), 'ERR_PQC_INVALID_CONFIGURATION');
    await expectRejectCode(create({ suites: [] }), 'ERR_PQC_INVALID_CONFIGURATION');
    // A timer longer than 2^31 - 1 ms fires at once in Node: refused rather than rotating keys immediately.
    await expectRejectCode(create({ rekey: { rekeyAfterMs: Infinity } }), 'ERR_PQC_INVALID_CONFIGURATION');
    await expectRejectCode(create({ rekey: { rekeyAfterMs: 2 ** 31 } }), 'ERR_PQC_INVALID_CONFIGURATION');
    await expectRejectCode(create({ limits: { timeoutMs: 0 } }), 'ERR_PQC_INVALID_CONFIGURATION');
    await expectRejectCode(create({ limits: { timeoutMS: 10 } }), 'ERR_PQC_INVALID_CONFIGURATION');
    await expectRejectCode(create({ limits: 'fast' }), 'ERR_PQC_INVALID_CONFIGURATION');
    await expectRejectCode(create({ nodeId: '' }), 'ERR_PQC_INVALID_INPUT');
    await expectRejectCode(create({ nodeId: 'bad\nid' }), 'ERR_PQC_INVALID_INPUT');
    await expectRejectCode(create({ identity: { algorithm: 'Falcon-512' } }), 'ERR_PQC_INVALID_INPUT');
    await expectRejectCode(create({ identity: { algorithm: 'ML-DSA-65', publicKey: new Uint8Array(3), secretKey: new Uint8Array(3) } }), 'ERR_PQC_INVALID_INPUT');
  });

  it('handles simultaneous initiation: both channels work and the newest carries encryptForPeer', async () => {
    const { a, b } = await nodePair();
    closing(a);
    closing(b);
    const [la, lb] = [await a.listen(), await b.listen()];
    const [ab, ba] = await Promise.all([a.establishSecureChannel('node-b', { port: lb.port }), b.establishSecureChannel('node-a', { port: la.port })]);
    await wait(20);
    expect(a.channels('node-b')).toHaveLength(2);
    expect(b.channels('node-a')).toHaveLength(2);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      expect(text(to.decryptFromPeer(from.nodeId, from.encryptForPeer(to.nodeId, bytes('newest'))))).toBe('newest');
    }
    expect(ab.sessionId).not.toBe(ba.sessionId);
  });

  it('survives garbage, oversized frames and silent connections on the listening port', async () => {
    const { registry, a, b } = await nodePair({ maxFrameBytes: 4096 });
    closing(a);
    closing(b);
    const listener = await b.listen();
    const send = (payload: Buffer) =>
      new Promise<void>((resolve) => {
        const socket = connect({ port: listener.port, host: '127.0.0.1' }, () => socket.write(payload));
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    await send(Buffer.from([0, 0, 0, 5, 1, 2, 3, 4, 5])); // a frame of garbage
    await send(Buffer.from([0xff, 0xff, 0xff, 0xff])); // a 4 GiB frame header
    await send(Buffer.from([0, 0, 0, 3, 1, MessageType.Data, 0])); // a record before any handshake
    await send(Buffer.from([0, 0, 0, 3, 1, MessageType.Rehandshake, 0])); // a Rehandshake with a trailing byte
    // Four refusals, the oversized header among them, each counted as malformed.
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'malformed' })).toBe(4);
    // Before a handshake, a frame larger than any handshake message closes the connection at its header.
    const bigNode = closing(await PQMeshSecurity.create({ nodeId: 'node-big', logger: silentLogger }));
    const bigListener = await bigNode.listen();
    const closedAtHeader = await new Promise<boolean>((resolve) => {
      const socket = connect({ port: bigListener.port, host: '127.0.0.1' }, () => socket.write(Buffer.from([0, 1, 0, 0])));
      socket.on('close', () => resolve(true));
    });
    expect(closedAtHeader).toBe(true);
    const { outbound, inbound } = await connectPair(a, b);
    await expectRejectCode(outbound.send(new Uint8Array(8192)), 'ERR_PQC_FRAME_TOO_LARGE');
    const got = messages(inbound, 1);
    await outbound.send(bytes('still fine'));
    expect(text((await got)[0]!)).toBe('still fine');
  });

  it('records its metrics on one registry for two nodes without collision', async () => {
    const registry = new Registry();
    const { a, b } = await nodePair({ registry });
    closing(a);
    closing(b);
    expect(a.metrics).toBe(b.metrics);
    await connectPair(a, b);
    expect(await counter(registry, 'pqc_handshake_success_total')).toBe(2);
    expect(await registry.metrics()).toContain('pqc_handshake_latency_seconds_bucket{le="0.1"}');
  });
});

/** The InitHello with every suite but the key share's removed from the offer. */
function stripOffer(frame: Uint8Array): Uint8Array {
  const at = 27;
  const idsEnd = at + 1 + frame[at]! ;
  const responderEnd = idsEnd + 1 + frame[idsEnd]!;
  const offerLength = frame[responderEnd]!;
  const share = frame[responderEnd + 1 + offerLength]!;
  return Buffer.concat([frame.subarray(0, responderEnd), Buffer.from([1, share]), frame.subarray(responderEnd + 1 + offerLength)]);
}

/** The InitHello turned into a classical-only offer with the attacker's own X25519 share. */
function classicalOnly(frame: Uint8Array): Uint8Array {
  const at = 27;
  const idsEnd = at + 1 + frame[at]!;
  const responderEnd = idsEnd + 1 + frame[idsEnd]!;
  return Buffer.concat([frame.subarray(0, responderEnd), Buffer.from([1, 0x40, 0x40, 0, 32]), Buffer.alloc(32, 9)]);
}

async function inboundOf(node: PQMeshSecurity): Promise<SecureChannel> {
  return node.channels('node-a').at(-1)!;
}
