import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The regression corpus: test/fuzz/corpus/<target>/<hash>.json, one input each (a mutation of the
 * target's valid messages, or the target's own input), with the outcome it had when it was found.
 * `npm run fuzz` adds the first input of every new outcome and every input that broke a property;
 * the default suite replays them all.
 */
export interface CorpusEntry {
  outcome: string;
  input: unknown;
}

const CORPUS = fileURLToPath(new URL('./corpus/', import.meta.url));

export function readCorpus(target: string): CorpusEntry[] {
  const dir = path.join(CORPUS, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CorpusEntry);
}

export function addToCorpus(target: string, entry: CorpusEntry): string {
  const dir = path.join(CORPUS, target);
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(entry)}\n`;
  const file = path.join(dir, `${createHash('sha256').update(JSON.stringify(entry.input)).digest('hex').slice(0, 16)}.json`);
  writeFileSync(file, text);
  return file;
}
