import { appendFileSync } from 'node:fs';

/**
 * The fuzzing mode every fuzz property reads: a short seeded slice in the default suite, long runs
 * under `npm run fuzz` (PQC_FUZZ_LONG=1), whose figures go to PQC_FUZZ_REPORT, one JSON line per
 * target.
 */
export const LONG = process.env.PQC_FUZZ_LONG === '1';
export const SEED = Number(process.env.PQC_FUZZ_SEED ?? (LONG ? Date.now() % 2 ** 31 : 20_261_201));
/** The per-test timeout of a property with this many runs. */
export const FUZZ_TIMEOUT = LONG ? 3_600_000 : 60_000;

export const runs = (short: number, long: number) => (LONG ? long : short);

export interface Figures {
  target: string;
  holds: string;
  runs: number;
  seconds: number;
  outcomes?: number;
  added?: number;
  failed: boolean;
}

export function report(figures: Figures): void {
  if (process.env.PQC_FUZZ_REPORT) appendFileSync(process.env.PQC_FUZZ_REPORT, `${JSON.stringify({ ...figures, seed: SEED })}\n`);
}
