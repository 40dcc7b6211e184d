import { WireReader, WireWriter } from '../mesh/wire.js';
import { MAX_ENVELOPE, parseEnvelope, type Envelope } from './envelope.js';
import { refuse } from './refusal.js';

/**
 * Proof that an origin signed two different envelopes with one sequence number: the two
 * envelopes as they were received. Any node checks it on its own (`checkEvidence`), with the
 * origin's public key and nothing else.
 */
export interface EquivocationEvidence {
  origin: string;
  sequence: number;
  first: Uint8Array;
  second: Uint8Array;
}

export function encodeEvidence(evidence: EquivocationEvidence): Uint8Array {
  return new WireWriter().u32(evidence.first.length).raw(evidence.first).u32(evidence.second.length).raw(evidence.second).finish();
}

/**
 * The two envelopes of an evidence payload, with the checks that need no key: both parse, one
 * origin, one sequence number, different signed content. Their signatures are the caller's to
 * verify (with the origin's key, as one batch with everything else).
 */
export function parseEvidence(payload: Uint8Array): [Envelope, Envelope] {
  const wire = new WireReader(payload, 'equivocation evidence');
  const read = () => {
    const length = wire.u32();
    if (length > MAX_ENVELOPE) refuse('malformed', 'an envelope in the evidence is too large');
    return parseEnvelope(wire.bytesOf(length, 'an envelope'));
  };
  const first = read();
  const second = read();
  wire.end();
  if (first.origin !== second.origin || first.sequence !== second.sequence) refuse('malformed', 'evidence of two envelopes with different origins or sequence numbers');
  if (first.digest === second.digest) refuse('malformed', 'evidence of one envelope twice');
  return [first, second];
}

/** The data each envelope of a pair was signed over, for verifying the pair. */
export function evidenceSignedData([first, second]: [Envelope, Envelope]): [Uint8Array, Uint8Array] {
  return [first.signed, second.signed];
}
