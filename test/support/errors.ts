import { expect } from 'vitest';
import { PqcError } from '../../lib/index.js';

/** Runs `fn`, which must throw a PqcError with `code`; returns it for further checks. */
export function expectCode(fn: () => unknown, code: string): PqcError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PqcError);
    expect((error as PqcError).code).toBe(code);
    return error as PqcError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

export async function expectRejectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toSatisfy((error: unknown) => error instanceof PqcError && error.code === code);
}
