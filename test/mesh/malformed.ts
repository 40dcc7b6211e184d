import { expect } from 'vitest';

/**
 * Matches the error a parser throws for bad bytes: a MeshError counted as `malformed`, with the
 * exact message, so that each refusal is told apart from a later check that would also refuse.
 */
export function malformed(message: string) {
  return expect.objectContaining({ name: 'PqcError', code: 'ERR_PQC_MALFORMED_MESSAGE', reason: 'malformed', message });
}
