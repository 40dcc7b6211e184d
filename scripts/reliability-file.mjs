// docs/reliability.md is written by several scripts, each owning the sections it names (soak.mjs
// "## Soak", fuzz.mjs "## Fuzzing", test-node-matrix.mjs "## Node releases"): one is replaced from its heading to the next "## " heading,
// or added at the end, and the rest of the file is left as it is.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RELIABILITY_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'reliability.md');
const HEAD = '# Reliability\n\nWhat the long runs measured; each section is written by the script it names.\n';

/** Rewrites the section under `heading` ("## …"); `body` starts with that heading. */
export function writeSection(heading, body) {
  const text = fs.existsSync(RELIABILITY_FILE) ? fs.readFileSync(RELIABILITY_FILE, 'utf8') : HEAD;
  const start = text.startsWith(`${heading}\n`) ? 0 : text.indexOf(`\n${heading}\n`) + 1;
  const section = `${body.trimEnd()}\n`;
  if (start <= 0 && !text.startsWith(`${heading}\n`)) {
    fs.writeFileSync(RELIABILITY_FILE, `${text.trimEnd()}\n\n${section}`);
    return;
  }
  const next = text.indexOf('\n## ', start + heading.length);
  const rest = next < 0 ? '' : `\n${text.slice(next + 1)}`;
  fs.writeFileSync(RELIABILITY_FILE, `${text.slice(0, start)}${section}${rest}`);
}
