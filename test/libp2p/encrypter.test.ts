import { generateKeyPair } from '@libp2p/crypto/keys';
import type { StreamMuxerFactory } from '@libp2p/interface';
import { multiaddrConnectionPair } from '@libp2p/utils';
import { afterAll, describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { FramedTransport } from '../../lib/mesh/frame-transport.js';
import { publicKeys } from '../../lib/mesh/identity.js';
import { libp2pBinding } from '../../lib/libp2p/binding.js';
import { MessageStreamBytes } from '../../lib/libp2p/message-stream-bytes.js';
import { MAX_RECORD_PLAINTEXT } from '../../lib/libp2p/secured-stream.js';
import { pqMeshEncrypter, PQ_MESH_PROTOCOL } from '../../lib/libp2p/index.js';
import { counter } from '../mesh/support.js';
import { environment } from '../support/environment.js';
import { libp2pPeers, LIBP2P_SKIP, type Libp2pPeer } from './support.js';

await ready();

const muxerFactory = (protocol: string) => ({ protocol, createStreamMuxer: () => { throw new Error('not used'); } }) as unknown as StreamMuxerFactory;
const upgrader = (...protocols: string[]) => ({ getStreamMuxers: () => new Map(protocols.map((p) => [p, muxerFactory(p)])) });

async function failure(step: Promise<unknown>): Promise<Error & { code?: string; cause?: unknown }> {
  const error = await step.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

async function readAll(stream: AsyncIterable<{ subarray(): Uint8Array }>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk.subarray());
  return Buffer.concat(parts);
}

describe.skipIf(LIBP2P_SKIP !== undefined)(`the libp2p connection encrypter on the ${environment.backend} backend${LIBP2P_SKIP ? ` (skipped: ${LIBP2P_SKIP})` : ''}`, async () => {
  const { peers, directory, registry } = await libp2pPeers(3);
  const [alice, bob, carol] = peers as [Libp2pPeer, Libp2pPeer, Libp2pPeer];
  const encrypter = (peer: Libp2pPeer, muxers: string[] = []) => pqMeshEncrypter({ mesh: peer.mesh })({ privateKey: peer.privateKey, upgrader: upgrader(...muxers) });
  afterAll(() => Promise.all(peers.map((p) => p.mesh.close())));

  it('secures a connection both ways with a post-quantum suite, and names each side’s PeerId', async () => {
    const [outboundConn, inboundConn] = multiaddrConnectionPair();
    const before = await counter(registry, 'pqc_handshake_success_total');
    // The responder writes the moment its side is secured, which can be before the initiator has
    // even read RespAuth: nothing of it may be lost.
    const early = Buffer.from('sent by the responder right after the handshake');
    const [outbound, inbound] = await Promise.all([
      encrypter(alice).secureOutbound(outboundConn, { remotePeer: bob.peerId }),
      encrypter(bob).secureInbound(inboundConn).then((secured) => (secured.connection.send(early), secured)),
    ]);
    const first = await new Promise<Uint8Array>((resolve) => outbound.connection.addEventListener('message', (event) => resolve(event.data.subarray()), { once: true }));
    expect(Buffer.from(first).toString()).toBe(early.toString());
    expect(outbound.remotePeer.toString()).toBe(bob.peerId.toString());
    expect(inbound.remotePeer.toString()).toBe(alice.peerId.toString());
    expect(await counter(registry, 'pqc_handshake_success_total')).toBe(before + 2);
    const channel = alice.mesh.channels(bob.peerId.toString()).at(-1)!;
    expect(channel.suiteInfo.classical).toBe(false);
    expect(encrypter(alice).protocol).toBe(PQ_MESH_PROTOCOL);

    // What goes in clear on the raw connection is never the plaintext.
    const raw: Uint8Array[] = [];
    inboundConn.addEventListener('message', (event) => raw.push(event.data.subarray()));
    const message = Buffer.from('a post-quantum hello over libp2p '.repeat(1000));
    const received = readAll(inbound.connection);
    outbound.connection.send(message);
    await outbound.connection.close();
    expect(Buffer.compare(await received, message)).toBe(0);
    expect(Buffer.concat(raw).includes('post-quantum hello')).toBe(false);
  });

  it('rotates keys inside the connection as libp2p writes, waiting where the keys may no longer seal', async () => {
    // Keys that must rotate every 4 records and may seal no more than 8: libp2p's writes outrun them.
    const rekey = { rekeyAfterMessages: 4, rejectAfterMessages: 8 };
    const { peers: [carl, dora] } = (await libp2pPeers(2, { rekey })) as unknown as { peers: [Libp2pPeer, Libp2pPeer] };
    const [outboundConn, inboundConn] = multiaddrConnectionPair();
    const [outbound, inbound] = await Promise.all([encrypter(carl).secureOutbound(outboundConn, { remotePeer: dora.peerId }), encrypter(dora).secureInbound(inboundConn)]);
    const [channel] = carl.mesh.channels(dora.peerId.toString());
    expect(channel!.epoch).toBe(0);
    // 40 writes of a full record each: at most 8 records per epoch make at least 4 rotations.
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(MAX_RECORD_PLAINTEXT, i));
    const received = readAll(inbound.connection);
    for (const chunk of chunks) if (!outbound.connection.send(chunk)) await outbound.connection.onDrain();
    await outbound.connection.close();
    expect(Buffer.compare(await received, Buffer.concat(chunks))).toBe(0);
    expect(channel!.epoch).toBeGreaterThanOrEqual(4);
    await Promise.all([carl.mesh.close(), dora.mesh.close()]);
  });

  it('resets the connection on a record that does not open, instead of leaving a hole in the byte stream', async () => {
    const [outboundConn, inboundConn] = multiaddrConnectionPair();
    const [, inbound] = await Promise.all([
      encrypter(alice).secureOutbound(outboundConn, { remotePeer: bob.peerId }),
      encrypter(bob).secureInbound(inboundConn),
    ]);
    const rejectedBefore = await counter(registry, 'pqc_record_rejected_total', { reason: 'forged' });
    const closed = new Promise<Error | undefined>((resolve) => inbound.connection.addEventListener('close', (event) => resolve(event.error), { once: true }));
    // A record sealed by the real channel, one bit of its tag flipped, framed and sent under the encrypter.
    const channel = alice.mesh.channels(bob.peerId.toString()).at(-1)!;
    const record = Uint8Array.from(channel.encrypt(Buffer.from('tampered with on the way')));
    record[record.length - 1]! ^= 0x01;
    const frame = Buffer.alloc(4 + record.length);
    frame.writeUInt32BE(record.length);
    frame.set(record, 4);
    outboundConn.send(frame);
    const error = await closed;
    expect((error as { code?: string } | undefined)?.code).toBe('ERR_PQC_FORGED_RECORD');
    expect(inbound.connection.status).not.toBe('open');
    expect(await counter(registry, 'pqc_record_rejected_total', { reason: 'forged' })).toBe(rejectedBefore + 1);
  });

  it('fails with UnexpectedPeerError when the peer dialled is not the one that answers', async () => {
    const [outboundConn, inboundConn] = multiaddrConnectionPair();
    const [outbound, inbound] = await Promise.all([failure(encrypter(alice).secureOutbound(outboundConn, { remotePeer: carol.peerId })), failure(encrypter(bob).secureInbound(inboundConn))]);
    expect(outbound.name).toBe('UnexpectedPeerError');
    expect(inbound.name).toBe('UnexpectedPeerError');
  });

  it('fails an inbound connection from another PeerId than the one expected, before any KEM work', async () => {
    const [outboundConn, inboundConn] = multiaddrConnectionPair();
    const [inbound] = await Promise.all([failure(encrypter(bob).secureInbound(inboundConn, { remotePeer: carol.peerId })), failure(encrypter(alice).secureOutbound(outboundConn, { remotePeer: bob.peerId }))]);
    expect(inbound.name).toBe('UnexpectedPeerError');
    expect((inbound.cause as { code?: string }).code).toBe('ERR_PQC_UNKNOWN_PEER');
  });

  it('refuses an ML-DSA identity that comes with another libp2p key than its PeerId’s', async () => {
    // Alice's ML-DSA key signs, but the libp2p key in her binding is not the one her PeerId names.
    const impostorKey = await generateKeyPair('Ed25519');
    const [outboundConn, inboundConn] = multiaddrConnectionPair();
    const dial = alice.mesh.openChannel(new FramedTransport(new MessageStreamBytes(outboundConn)), bob.peerId.toString(), {
      extension: libp2pBinding(impostorKey, alice.mesh.getPublicKeys(), []),
    });
    const [inbound, outbound] = await Promise.all([failure(encrypter(bob).secureInbound(inboundConn)), failure(dial)]);
    expect(inbound.name).toBe('UnexpectedPeerError');
    expect(outbound.code).toBe('ERR_PQC_UNKNOWN_PEER');
  });

  it('refuses a PeerId without a trusted ML-DSA key, and one whose ML-DSA key is not the trusted one', async () => {
    const [mallory] = (await libp2pPeers(1)).peers as [Libp2pPeer];
    mallory.mesh.trustPeer(bob.mesh.getPublicKeys());
    const dialBob = async () => {
      const [outboundConn, inboundConn] = multiaddrConnectionPair();
      const outbound = pqMeshEncrypter({ mesh: mallory.mesh })({ privateKey: mallory.privateKey }).secureOutbound(outboundConn, { remotePeer: bob.peerId });
      const [inbound] = await Promise.all([failure(encrypter(bob).secureInbound(inboundConn)), failure(outbound)]);
      return inbound;
    };
    // Bob's trust store holds nothing for Mallory's PeerId.
    expect((await dialBob()).name).toBe('UnexpectedPeerError');
    // It holds Alice's ML-DSA key for it: Mallory's signature does not verify with it.
    const aliceKey = alice.mesh.getPublicKeys();
    directory.set(mallory.peerId.toString(), publicKeys(mallory.peerId.toString(), aliceKey.sigAlgorithm, aliceKey.sigPublicKey));
    expect((await dialBob()).code).toBe('ERR_PQC_BAD_SIGNATURE');
    directory.delete(mallory.peerId.toString());
    await mallory.mesh.close();
  });

  it('negotiates the stream muxer inside the handshake: the initiator’s first choice the responder offers', async () => {
    const [outboundConn, inboundConn] = multiaddrConnectionPair();
    const [outbound, inbound] = await Promise.all([
      encrypter(alice, ['/mplex/6.7.0', '/yamux/1.0.0']).secureOutbound(outboundConn, { remotePeer: bob.peerId }),
      encrypter(bob, ['/yamux/1.0.0', '/mplex/6.7.0']).secureInbound(inboundConn),
    ]);
    expect([outbound.streamMuxer?.protocol, inbound.streamMuxer?.protocol]).toEqual(['/mplex/6.7.0', '/mplex/6.7.0']);
    const [skipOut, skipIn] = multiaddrConnectionPair();
    const [skipped, other] = await Promise.all([
      encrypter(alice, ['/yamux/1.0.0']).secureOutbound(skipOut, { remotePeer: bob.peerId, skipStreamMuxerNegotiation: true }),
      encrypter(bob, ['/yamux/1.0.0']).secureInbound(skipIn),
    ]);
    expect([skipped.streamMuxer, other.streamMuxer]).toEqual([undefined, undefined]);
  });

  it('refuses to dial without the remote PeerId, and a mesh whose node id is not the PeerId', async () => {
    const [outboundConn] = multiaddrConnectionPair();
    expect((await failure(encrypter(alice).secureOutbound(outboundConn))).code).toBe('ERR_PQC_INVALID_INPUT');
    expect(() => pqMeshEncrypter({ mesh: alice.mesh })({ privateKey: bob.privateKey })).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION' }));
  });
});
