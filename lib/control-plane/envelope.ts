import { createHash } from 'node:crypto';
import { PqcError } from '../errors.js';
import { fail } from '../mesh/failure.js';
import { WireReader, WireWriter } from '../mesh/wire.js';

/**
 * A signed control-plane message: origin, per-origin sequence number, epoch, timestamp, hop
 * limit, payload type and payload, with the origin's ML-DSA signature over all of it but the
 * hop limit (which every forwarder lowers, as IP's TTL).
 *
 *   u8 version = 1 ‖ u8 kind ‖ u8 len ‖ origin ‖ u64 sequence ‖ u32 epoch ‖ u64 timestamp ‖
 *   u8 hop limit ‖ u32 len ‖ payload ‖ u16 len ‖ signature
 */
export const ENVELOPE_VERSION = 1;
/** The largest gossip, vote or heartbeat payload. */
export const MAX_PAYLOAD = 64 * 1024;
const MAX_SIGNATURE = 4627; // ML-DSA-87
const OVERHEAD = 1 + 1 + 256 + 8 + 4 + 8 + 1 + 4 + 2 + MAX_SIGNATURE;
/** A certificate holds a vote of up to 4.6 KB per validator: room for about 110 ML-DSA-65 validators at 2f+1. */
const MAX_CERTIFICATE_PAYLOAD = 256 * 1024;
/**
 * An evidence payload holds two envelopes of any kind but evidence, so that an equivocator is
 * never too big to report; the largest envelope still fits a default TCP frame (1 MiB).
 */
const MAX_EVIDENCE_PAYLOAD = 8 + 2 * (OVERHEAD + MAX_CERTIFICATE_PAYLOAD);
export const MAX_ENVELOPE = OVERHEAD + MAX_EVIDENCE_PAYLOAD;
export const MAX_HOP_LIMIT = 16;

/** Payload types; each is its own domain-separation label inside the signed data. */
export const EnvelopeKind = {
  /** Ordinary gossip (beacons, routes): applied on receipt, no quorum needed. */
  Gossip: 1,
  /** Equivocation evidence: two envelopes of one origin with one sequence number. */
  Evidence: 2,
  /** A validator's signature on a critical decision (a share of a certificate). */
  Vote: 3,
  /** A quorum certificate for a critical decision. */
  Certificate: 4,
  /** "I am here": lets each node count the validators it can reach (quorum detection). */
  Heartbeat: 5,
} as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];
const KIND_NAMES: Record<number, string> = { 1: 'gossip', 2: 'evidence', 3: 'vote', 4: 'certificate', 5: 'heartbeat' };

/** The largest payload of `kind`. */
export function maxPayload(kind: EnvelopeKind): number {
  return kind === EnvelopeKind.Evidence ? MAX_EVIDENCE_PAYLOAD : kind === EnvelopeKind.Certificate ? MAX_CERTIFICATE_PAYLOAD : MAX_PAYLOAD;
}

export interface EnvelopeFields {
  kind: EnvelopeKind;
  origin: string;
  sequence: number;
  epoch: number;
  timestamp: number;
  hopLimit: number;
  payload: Uint8Array;
}

export interface Envelope extends EnvelopeFields {
  signature: Uint8Array;
  /** What the origin signed (`signedContent`), taken from the bytes as received. */
  signed: Uint8Array;
  /** The bytes as received or made. */
  bytes: Uint8Array;
  /** SHA-256 of the signed content: two envelopes with one (origin, sequence) and different digests equivocate. */
  digest: string;
  /** Where the hop limit byte is in `bytes`. */
  hopOffset: number;
}

const encoder = new TextEncoder();

const LABELS: Record<number, Uint8Array> = Object.fromEntries(Object.entries(KIND_NAMES).map(([kind, name]) => [kind, encoder.encode(`x0tta6bl4-cp/1 ${name}\0`)]));

/**
 * The fields in wire order, behind `prefix`; the hop limit where the wire has it, when given
 * (the signed content leaves it out).
 */
function writeFields(prefix: Uint8Array, fields: Omit<EnvelopeFields, 'hopLimit'>, hopLimit?: number): WireWriter {
  if (!(fields.kind in KIND_NAMES)) throw new PqcError('ERR_PQC_INVALID_INPUT', `envelope kind ${String(fields.kind)} is unknown`);
  const writer = new WireWriter()
    .raw(prefix)
    .u8(ENVELOPE_VERSION)
    .u8(fields.kind)
    .short(encoder.encode(fields.origin))
    .u64(fields.sequence)
    .u32(fields.epoch)
    .u64(fields.timestamp);
  if (hopLimit !== undefined) writer.u8(hopLimit);
  return writer.u32(fields.payload.length).raw(fields.payload);
}

/** What the origin signs: the kind's label, then every field but the hop limit. */
export function signedContent(fields: Omit<EnvelopeFields, 'hopLimit'>): Uint8Array {
  return writeFields(LABELS[fields.kind] ?? new Uint8Array(0), fields).finish();
}

export function encodeEnvelope(fields: EnvelopeFields, signature: Uint8Array): Uint8Array {
  return writeFields(new Uint8Array(0), fields, fields.hopLimit).long(signature).finish();
}

const digestOf = (content: Uint8Array) => createHash('sha256').update(content).digest('hex');

/** Parses an envelope, checking every length before use; throws a 'malformed' MeshError. */
export function parseEnvelope(bytes: Uint8Array): Envelope {
  if (!(bytes instanceof Uint8Array)) fail('malformed', 'an envelope must be a Uint8Array');
  if (bytes.length > MAX_ENVELOPE) fail('malformed', `an envelope of ${bytes.length} bytes is larger than ${MAX_ENVELOPE}`);
  const wire = new WireReader(bytes, 'an envelope');
  if (wire.u8() !== ENVELOPE_VERSION) fail('malformed', 'an envelope of another version');
  const kind = wire.u8();
  if (!(kind in KIND_NAMES)) fail('malformed', `envelope kind ${kind} is unknown`);
  const origin = wire.text('the origin', 1, 255);
  const sequence = wire.u64();
  const epoch = wire.u32();
  const timestamp = wire.u64();
  const hopOffset = wire.offset;
  const hopLimit = wire.u8();
  if (hopLimit < 1 || hopLimit > MAX_HOP_LIMIT) fail('malformed', `hop limit ${hopLimit} is not from 1 to ${MAX_HOP_LIMIT}`);
  const payloadLength = wire.u32();
  if (payloadLength > maxPayload(kind as EnvelopeKind)) fail('malformed', `a payload of ${payloadLength} bytes is larger than its kind allows`);
  const payload = wire.bytesOf(payloadLength, 'the payload');
  const signatureOffset = wire.offset;
  const signature = wire.long('the signature', 1, MAX_SIGNATURE);
  wire.end();
  // The signed content is the received bytes without the hop limit and the signature, behind the kind's label.
  const label = LABELS[kind]!;
  const signed = new Uint8Array(label.length + signatureOffset - 1);
  signed.set(label);
  signed.set(bytes.subarray(0, hopOffset), label.length);
  signed.set(bytes.subarray(hopOffset + 1, signatureOffset), label.length + hopOffset);
  return { kind: kind as EnvelopeKind, origin, sequence, epoch, timestamp, hopLimit, payload, signature, signed, bytes, digest: digestOf(signed), hopOffset } as Envelope;
}

/** The same envelope one hop further: only the hop limit changes (it is outside the signature). */
export function forwarded(envelope: Envelope): Uint8Array | undefined {
  if (envelope.hopLimit <= 1) return undefined;
  const out = Uint8Array.from(envelope.bytes);
  out[envelope.hopOffset] = envelope.hopLimit - 1;
  return out;
}
