import { PqcError, type PqcErrorCode } from '../errors.js';

/**
 * Why a handshake, a record or a rotation was refused: the `reason` label of
 * pqc_handshake_failure_total and pqc_key_rotation_failure_total, and the byte an Abort
 * message carries. A fixed vocabulary, so a peer cannot mint label values.
 */
export const FAILURE_REASONS = [
  'malformed',
  'timeout',
  'invalid_key',
  'liboqs_error',
  'kem_error',
  'decaps_failure',
  'bad_signature',
  'downgrade',
  'replay',
  'key_desync',
  'unknown_peer',
  'reflection',
  'unsupported_suite',
  'rate_limited',
  'closed',
  'fallback_expired',
  'forged',
  'keys_expired',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

const CODES: Record<FailureReason, PqcErrorCode> = {
  malformed: 'ERR_PQC_MALFORMED_MESSAGE',
  timeout: 'ERR_PQC_HANDSHAKE_TIMEOUT',
  invalid_key: 'ERR_PQC_INVALID_KEY',
  liboqs_error: 'ERR_PQC_OPERATION_FAILED',
  kem_error: 'ERR_PQC_KEM_FAILED',
  // ML-KEM decapsulation never fails outright: a wrong secret shows at key confirmation.
  decaps_failure: 'ERR_PQC_KEY_CONFIRMATION_FAILED',
  bad_signature: 'ERR_PQC_BAD_SIGNATURE',
  downgrade: 'ERR_PQC_DOWNGRADE',
  replay: 'ERR_PQC_REPLAY',
  key_desync: 'ERR_PQC_KEY_DESYNC',
  unknown_peer: 'ERR_PQC_UNKNOWN_PEER',
  reflection: 'ERR_PQC_REFLECTION',
  unsupported_suite: 'ERR_PQC_NO_COMMON_SUITE',
  rate_limited: 'ERR_PQC_RATE_LIMITED',
  closed: 'ERR_PQC_CHANNEL_CLOSED',
  fallback_expired: 'ERR_PQC_FALLBACK_EXPIRED',
  forged: 'ERR_PQC_FORGED_RECORD',
  keys_expired: 'ERR_PQC_KEYS_EXPIRED',
};

/** A PqcError that also says which failure reason it is counted under. */
export class MeshError extends PqcError {
  readonly reason: FailureReason;
  /** The handshake it ended, when known: an Abort names it. */
  sessionI?: Uint8Array;

  constructor(reason: FailureReason, message: string, options?: { cause?: unknown }) {
    super(CODES[reason], message, options);
    this.reason = reason;
  }
}

export function fail(reason: FailureReason, message: string, cause?: unknown): never {
  throw new MeshError(reason, message, cause === undefined ? undefined : { cause });
}

/** The reason an error is counted under: its own, or what a backend's PqcError code means here. */
export function reasonOf(error: unknown, kemStep = false): FailureReason {
  if (error instanceof MeshError) return error.reason;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_PQC_INVALID_INPUT') return 'invalid_key';
  if (code === 'ERR_PQC_CHANNEL_CLOSED') return 'closed';
  if (code === 'ERR_PQC_FRAME_TOO_LARGE') return 'malformed';
  if (code === 'ERR_PQC_KEYS_EXPIRED') return 'keys_expired';
  if (kemStep) return 'kem_error';
  return 'liboqs_error';
}

/** A KEM operation's result, its failure as a MeshError (invalid_key, kem_error). */
export function kemStep<T>(operation: Promise<T>): Promise<T> {
  return operation.catch((error: unknown) => {
    throw asMeshError(error, true);
  });
}

/** `error` as a MeshError, keeping a backend error as the cause. */
export function asMeshError(error: unknown, kemStep = false): MeshError {
  if (error instanceof MeshError) return error;
  const reason = reasonOf(error, kemStep);
  return new MeshError(reason, `${reason.replace('_', ' ')}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}
