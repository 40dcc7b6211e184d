import { publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { fail, MeshError } from '../mesh/failure.js';
import type { ExtensionContext, HandshakeExtension } from '../mesh/handshake.js';
import type { PublicKeys } from '../mesh/identity.js';
import { concat, PROTOCOL_LABEL } from '../mesh/key-schedule.js';
import { WireReader, WireWriter } from '../mesh/wire.js';

/**
 * The libp2p identity binding (docs/protocol.md, "The libp2p binding"): each side's handshake
 * extension payload holds its libp2p public key, that key's signature over the binding label,
 * the side's role, the transcript hash and the side's ML-DSA identity, and the stream muxers it
 * offers for early negotiation. The ML-DSA signature covers the payload and the libp2p
 * signature covers the ML-DSA key, so each key vouches for the other within this handshake.
 *
 *   u16 len ‖ libp2p public key (protobuf) ‖ u16 len ‖ signature ‖ u8 n ‖ n × (u8 len ‖ muxer protocol)
 */
const LABEL = Buffer.from(`${PROTOCOL_LABEL} libp2p binding\0`);
const MAX_PUBLIC_KEY = 1024;
const MAX_SIGNATURE = 1024;
const MAX_MUXERS = 8;
const MAX_PROTOCOL = 255;
const ROLE = { initiator: 1, responder: 2 } as const;

/** What a verified payload proves. */
export interface ProvenPeer {
  /** The PeerId of the libp2p key that signed this handshake. */
  peerId: PeerId;
  /** The stream muxers the peer offered, best first (empty: no early negotiation). */
  muxers: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function encodeMuxers(muxers: readonly string[]): Uint8Array {
  const writer = new WireWriter().u8(muxers.length);
  for (const muxer of muxers) writer.short(encoder.encode(muxer));
  return writer.finish();
}

/** What the libp2p key signs: label ‖ role ‖ transcript ‖ u8 len ‖ ML-DSA algorithm ‖ u16 len ‖ ML-DSA key ‖ muxers. */
function bindingData(role: ExtensionContext['role'], transcript: Uint8Array, identity: PublicKeys, muxers: Uint8Array): Uint8Array {
  const identityBytes = new WireWriter().short(encoder.encode(identity.sigAlgorithm)).long(identity.sigPublicKey).finish();
  return concat(LABEL, Uint8Array.of(ROLE[role]), transcript, identityBytes, muxers);
}

/**
 * The binding for one connection: `privateKey` is this node's libp2p key, `identity` its ML-DSA
 * identity, `muxers` the stream muxers it offers (none when libp2p skips early negotiation).
 * A peer whose libp2p key is not the one its node id (its PeerId) names is refused as
 * `unknown_peer`; a bad libp2p signature as `bad_signature`; anything unreadable as `malformed`.
 */
export function libp2pBinding(privateKey: PrivateKey, identity: PublicKeys, muxers: readonly string[]): HandshakeExtension {
  if (muxers.length > MAX_MUXERS || muxers.some((muxer) => encoder.encode(muxer).length > MAX_PROTOCOL)) {
    throw new MeshError('malformed', `at most ${MAX_MUXERS} stream muxers of at most ${MAX_PROTOCOL} bytes each`);
  }
  const publicKey = publicKeyToProtobuf(privateKey.publicKey);
  const offered = encodeMuxers(muxers);
  return {
    async payload({ role, transcript }) {
      const signature = await privateKey.sign(bindingData(role, transcript, identity, offered));
      return new WireWriter().long(publicKey).long(signature).raw(offered).finish();
    },
    async verify(payload, { role, transcript, peer }): Promise<ProvenPeer> {
      if (payload.length === 0) fail('malformed', `${peer.nodeId} sent no libp2p identity in its handshake`);
      const wire = new WireReader(payload, 'the libp2p binding');
      const keyBytes = wire.long('the libp2p public key', 1, MAX_PUBLIC_KEY);
      const signature = wire.long('the libp2p signature', 1, MAX_SIGNATURE);
      const rest = wire.offset;
      const count = wire.u8();
      if (count > MAX_MUXERS) fail('malformed', `the libp2p binding offers ${count} stream muxers, more than ${MAX_MUXERS}`);
      const peerMuxers: string[] = [];
      for (let i = 0; i < count; i++) peerMuxers.push(text(wire.short('a stream muxer', 1, MAX_PROTOCOL)));
      wire.end();
      let peerId: PeerId;
      let key;
      try {
        key = publicKeyFromProtobuf(keyBytes);
        peerId = peerIdFromPublicKey(key);
      } catch (error) {
        return fail('malformed', `the libp2p public key of ${peer.nodeId} cannot be read`, error);
      }
      // The ML-DSA key is trusted for a node id, and a libp2p node's id is its PeerId.
      if (peerId.toString() !== peer.nodeId) fail('unknown_peer', `${peer.nodeId}'s ML-DSA identity came with the libp2p key of ${peerId.toString()}`);
      let valid: boolean;
      try {
        valid = await key.verify(bindingData(role, transcript, peer, payload.subarray(rest)), signature);
      } catch {
        valid = false;
      }
      if (!valid) fail('bad_signature', `${peer.nodeId}'s libp2p key did not sign this handshake`);
      return { peerId, muxers: peerMuxers };
    },
  };
}

function text(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    return fail('malformed', 'a stream muxer protocol is not UTF-8');
  }
}
