/** Every error this package throws is a PqcError with a stable `code`. */
export type PqcErrorCode =
  | 'ERR_PQC_INVALID_INPUT'
  | 'ERR_PQC_LIBOQS_NOT_FOUND'
  | 'ERR_PQC_LIBOQS_TOO_OLD'
  | 'ERR_PQC_LIBOQS_NOT_LOADED'
  | 'ERR_PQC_LIBOQS_ALREADY_LOADED'
  | 'ERR_PQC_LIBOQS_INCOMPATIBLE'
  | 'ERR_PQC_NATIVE_ADDON_NOT_FOUND'
  | 'ERR_PQC_WASM_UNAVAILABLE'
  | 'ERR_PQC_UNSUPPORTED_ALGORITHM'
  | 'ERR_PQC_UNSUPPORTED_CAPABILITY'
  | 'ERR_PQC_UNSUPPORTED_BACKEND'
  | 'ERR_PQC_OPERATION_FAILED'
  | 'ERR_PQC_NOT_READY'
  | 'ERR_PQC_WORKER_FAILED'
  | 'ERR_PQC_INVALID_CONFIGURATION'
  | 'ERR_PQC_INVALID_POLICY'
  | 'ERR_PQC_MOCK_IN_PRODUCTION'
  | 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS'
  | 'ERR_PQC_CLASSICAL_REQUIRES_FALLBACK'
  | 'ERR_PQC_MALFORMED_MESSAGE'
  | 'ERR_PQC_BAD_SIGNATURE'
  | 'ERR_PQC_DOWNGRADE'
  | 'ERR_PQC_REPLAY'
  | 'ERR_PQC_KEY_DESYNC'
  | 'ERR_PQC_UNKNOWN_PEER'
  | 'ERR_PQC_REFLECTION'
  | 'ERR_PQC_HANDSHAKE_TIMEOUT'
  | 'ERR_PQC_KEY_CONFIRMATION_FAILED'
  | 'ERR_PQC_KEM_FAILED'
  | 'ERR_PQC_INVALID_KEY'
  | 'ERR_PQC_NO_COMMON_SUITE'
  | 'ERR_PQC_RATE_LIMITED'
  | 'ERR_PQC_CHANNEL_CLOSED'
  | 'ERR_PQC_NO_CHANNEL'
  | 'ERR_PQC_FALLBACK_EXPIRED'
  | 'ERR_PQC_KEYS_EXPIRED'
  | 'ERR_PQC_FORGED_RECORD'
  | 'ERR_PQC_FRAME_TOO_LARGE'
  | 'ERR_PQC_QUARANTINED'
  | 'ERR_PQC_EQUIVOCATION'
  | 'ERR_PQC_INVALID_CERTIFICATE'
  | 'ERR_PQC_CONFLICTING_DECISION'
  | 'ERR_PQC_INSECURE_KEY_FILE'
  | (string & { readonly __pqcCode?: never });

export class PqcError extends Error {
  readonly code: PqcErrorCode;

  constructor(code: PqcErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PqcError';
    this.code = code;
  }

  /** Gives errors raised by the addon (which carry a `code`) this class without changing them. */
  static from(error: unknown): PqcError {
    if (error instanceof PqcError) return error;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('ERR_PQC_')) {
      return new PqcError(code, (error as Error).message);
    }
    return new PqcError('ERR_PQC_OPERATION_FAILED', String((error as Error)?.message ?? error), {
      cause: error,
    });
  }
}
