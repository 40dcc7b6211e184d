import { vi } from 'vitest';

/** Sets each variable in process.env until vi.unstubAllEnvs(); undefined unsets one. */
export function stubEnvs(env: Record<string, string | undefined>) {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
}
