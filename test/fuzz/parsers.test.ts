import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { environment } from '../support/environment.js';
import { addToCorpus, readCorpus } from './corpus.js';
import { FUZZ_TIMEOUT, LONG, report, runs as fuzzRuns, SEED } from './mode.js';
import { removeScratch, TARGETS, Violation } from './targets.js';

/**
 * Mutation fuzzing of every parser of the mesh and control-plane layers and of the policy files
 * (test/fuzz/targets.ts says what each target changes and what must hold). The default suite
 * replays the committed corpus and a short slice with a fixed seed; `npm run fuzz`
 * (scripts/fuzz.mjs) sets PQC_FUZZ_LONG=1 for the long runs with a fresh seed, adding to the
 * corpus the first input of every new outcome and any input that broke a property.
 *
 * PQC_FUZZ_SEED fixes the seed, PQC_FUZZ_TARGET runs one target (test/fuzz/mode.ts has the rest).
 */
await ready();

afterAll(removeScratch);

const ONLY = process.env.PQC_FUZZ_TARGET;
const HANG_MS = 10_000;
const MAX_NEW_OUTCOMES = 24;
/** The parts of an outcome of several parsers ('a | b | …'): an input is new when any one parser's outcome is. */
const partsOf = (outcome: string) => outcome.split(' | ').map((part, i) => `${i}: ${part}`);

function withinTime<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Violation(`no answer within ${HANG_MS} ms (a hang)`)), HANG_MS);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

describe.each(TARGETS.filter((target) => !ONLY || target.name === ONLY))(`fuzz $name (${environment.backend} backend)`, (target) => {
  const corpus = readCorpus(target.name);
  const runs = fuzzRuns(target.runs.short, target.runs.long);
  let execute: ((input: unknown) => Promise<string>) | undefined;
  const prepared = async () => (execute ??= await target.setup());

  it.skipIf(corpus.length === 0)(`replays its corpus (${corpus.length} inputs)`, async () => {
    const run = await prepared();
    for (const entry of corpus) await withinTime(run(entry.input));
  });

  it(`${target.holds} (${runs} inputs, seed ${SEED})`, async () => {
    const run = await prepared();
    const known = new Set(corpus.flatMap((entry) => partsOf(entry.outcome)));
    const outcomes = new Map<string, number>();
    let added = 0;
    const started = performance.now();
    const result = await fc.check(
      fc.asyncProperty(target.input, async (input) => {
        const seen = await withinTime(run(input));
        outcomes.set(seen, (outcomes.get(seen) ?? 0) + 1);
        const parts = partsOf(seen);
        if (LONG && parts.some((part) => !known.has(part)) && added < MAX_NEW_OUTCOMES) {
          for (const part of parts) known.add(part);
          added++;
          addToCorpus(target.name, { outcome: seen, input });
        }
      }),
      { numRuns: runs, seed: SEED },
    );
    const seconds = (performance.now() - started) / 1000;
    report({ target: target.name, holds: target.holds, runs: result.numRuns, seconds, outcomes: outcomes.size, added, failed: result.failed });
    if (result.failed && result.counterexample) {
      const file = LONG ? addToCorpus(target.name, { outcome: 'violation', input: result.counterexample[0] }) : undefined;
      throw new Error(`${fc.defaultReportMessage(result)}\n${String((result.errorInstance as Error | undefined)?.message)}${file ? `\nsaved to ${file}` : ''}`);
    }
    expect(result.failed).toBe(false);
    // Every target reaches more than one outcome: a target that only ever sees one has stopped testing.
    if (runs >= 10) expect(outcomes.size).toBeGreaterThan(1);
  }, FUZZ_TIMEOUT);
});
