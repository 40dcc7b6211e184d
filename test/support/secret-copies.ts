import { vi } from 'vitest';
import { SecretBytes } from '../../lib/bytes.js';

/** Every SecretBytes.copyOf() made from now on, for tests that require them wiped (vi.restoreAllMocks ends it). */
export function recordSecretCopies(): Uint8Array[] {
  const copies: Uint8Array[] = [];
  const copyOf = SecretBytes.copyOf.bind(SecretBytes);
  vi.spyOn(SecretBytes, 'copyOf').mockImplementation((bytes) => {
    const copy = copyOf(bytes);
    copies.push(copy);
    return copy;
  });
  return copies;
}
