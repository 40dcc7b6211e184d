import { PqcError, type PqcErrorCode } from '../errors.js';

/**
 * Why the control plane refused an envelope or a certificate: the `reason` label of
 * pqc_gossip_rejected_total and pqc_certificate_rejected_total. A fixed vocabulary.
 */
export const CONTROL_REFUSALS = [
  'malformed',
  'unknown_origin',
  'quarantined',
  'skew',
  'stale',
  'duplicate',
  'forged',
  'equivocation',
  'wrong_validator_set',
  'duplicate_signer',
  'unknown_signer',
  'insufficient_quorum',
  'conflict',
] as const;
export type ControlRefusal = (typeof CONTROL_REFUSALS)[number];

const CODES: Record<ControlRefusal, PqcErrorCode> = {
  malformed: 'ERR_PQC_MALFORMED_MESSAGE',
  unknown_origin: 'ERR_PQC_UNKNOWN_PEER',
  quarantined: 'ERR_PQC_QUARANTINED',
  skew: 'ERR_PQC_REPLAY',
  stale: 'ERR_PQC_REPLAY',
  duplicate: 'ERR_PQC_REPLAY',
  forged: 'ERR_PQC_BAD_SIGNATURE',
  equivocation: 'ERR_PQC_EQUIVOCATION',
  wrong_validator_set: 'ERR_PQC_INVALID_CERTIFICATE',
  duplicate_signer: 'ERR_PQC_INVALID_CERTIFICATE',
  unknown_signer: 'ERR_PQC_INVALID_CERTIFICATE',
  insufficient_quorum: 'ERR_PQC_INVALID_CERTIFICATE',
  conflict: 'ERR_PQC_CONFLICTING_DECISION',
};

export class ControlPlaneError extends PqcError {
  constructor(
    readonly reason: ControlRefusal,
    message: string,
  ) {
    super(CODES[reason], message);
  }
}

export function refuse(reason: ControlRefusal, message: string): never {
  throw new ControlPlaneError(reason, message);
}

/** A refusal's reason: its own, or 'malformed' for a parser's error. */
export function refusalOf(error: unknown): ControlRefusal {
  return error instanceof ControlPlaneError ? error.reason : 'malformed';
}
